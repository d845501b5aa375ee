// VGGT hyper-parameters. Upstream (facebookresearch/vggt) has no config file: VGGT-1B is the constructor defaults
// of `models/vggt.py` (VGGT), `models/aggregator.py` (Aggregator + DINOv2 `vit_large` with 4 registers),
// `heads/camera_head.py` and `heads/dpt_head.py`. A config.json, when a checkpoint has one, overrides them in one
// of the layouts read by `parseVggtConfig`.
import { InputError } from '../../errors.ts';
import { isObject, type JsonObject as Json } from '../../json.ts';

/** The DINOv2 ViT with registers that embeds patches (`layers/vision_transformer.py`). */
export interface DinoConfig {
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
}

export interface AggregatorConfig {
  embedDim: number;
  /** Number of frame/global block pairs (one output layer each). */
  depth: number;
  numHeads: number;
  mlpRatio: number;
  numRegisterTokens: number;
  ropeFreq: number;
  patchEmbed: DinoConfig;
}

export interface CameraHeadConfig {
  trunkDepth: number;
  numHeads: number;
  mlpRatio: number;
  iterations: number;
}

/** Both DPT heads (depth, world points) share these. */
export interface DptConfig {
  features: number;
  outChannels: [number, number, number, number];
  /** Aggregator layers fed to the head. */
  layers: [number, number, number, number];
}

export interface VggtConfig {
  /** Training image size; sets DINOv2's position table to (imgSize/patchSize)² entries. */
  imgSize: number;
  patchSize: number;
  aggregator: AggregatorConfig;
  cameraHead: CameraHeadConfig;
  dpt: DptConfig;
  heads: { camera: boolean; depth: boolean; point: boolean };
}

/** VGGT-1B. */
export function defaultVggtConfig(): VggtConfig {
  return {
    imgSize: 518,
    patchSize: 14,
    aggregator: {
      embedDim: 1024,
      depth: 24,
      numHeads: 16,
      mlpRatio: 4,
      numRegisterTokens: 4,
      ropeFreq: 100,
      patchEmbed: { embedDim: 1024, depth: 24, numHeads: 16, mlpRatio: 4 },
    },
    cameraHead: { trunkDepth: 4, numHeads: 16, mlpRatio: 4, iterations: 4 },
    dpt: { features: 256, outChannels: [256, 512, 1024, 1024], layers: [4, 11, 17, 23] },
    heads: { camera: true, depth: true, point: true },
  };
}

/** Reads typed fields of one JSON object, naming the file and key on a bad value. */
function reader(where: string, obj: Json) {
  const bad = (key: string, want: string) =>
    new InputError(
      `${where}: "${key}" must be ${want}, got ${JSON.stringify(obj[key])}; fix the config file`,
    );
  return {
    int(key: string, fallback: number): number {
      const v = obj[key] ?? fallback;
      if (!Number.isInteger(v) || (v as number) < 0) throw bad(key, 'a non-negative integer');
      return v as number;
    },
    num(key: string, fallback: number): number {
      const v = obj[key] ?? fallback;
      if (typeof v !== 'number' || !(v > 0)) throw bad(key, 'a positive number');
      return v;
    },
    bool(key: string, fallback: boolean): boolean {
      const v = obj[key] ?? fallback;
      if (typeof v !== 'boolean') throw bad(key, 'true or false');
      return v;
    },
    ints4(key: string, fallback: [number, number, number, number]): [number, number, number, number] {
      const v = obj[key] ?? fallback;
      if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => Number.isInteger(x) && x >= 0))
        throw bad(key, 'a list of 4 non-negative integers');
      return v as [number, number, number, number];
    },
    /** Options upstream has but this port fixes: refuse other values rather than compute something else. */
    fixed(key: string, value: unknown): void {
      if (key in obj && JSON.stringify(obj[key]) !== JSON.stringify(value))
        throw new InputError(
          `${where}: "${key}" = ${JSON.stringify(obj[key])} is not supported (VGGT uses ${JSON.stringify(value)})`,
        );
    },
  };
}

/**
 * A config from JSON, on top of the VGGT-1B defaults. Accepted layouts:
 * - flat `VGGT.__init__` arguments (`img_size`, `patch_size`, `embed_dim`, `enable_camera|point|depth`), as
 *   PyTorchModelHubMixin saves them, at the top level or under `VGGT`;
 * - the reference fixture layout (`VGGT`, `Aggregator_extra`, `patch_embed_dinov2_tiny`, `CameraHead_extra`,
 *   `DPTHead_extra` and their `*_defaults_in_effect`);
 * - a Spatial-MLLM config.json: v1.1 `spatial_config` (`img_size`, `patch_size`, `embed_dim`); v1.0 has no VGGT
 *   key (1B defaults). Their tiny fixtures add `fixture_vggt_overrides.{vggt,aggregator,dinov2_patch_embed}`.
 */
export function parseVggtConfig(json: unknown, where = 'config.json'): VggtConfig {
  if (!isObject(json)) throw new InputError(`${where}: not a JSON object; fix or remove the config file`);
  const c = defaultVggtConfig();
  const spatial = isObject(json.spatial_config) ? json.spatial_config : undefined;
  // Spatial-MLLM fixtures record their reduced VGGT sizes here (v1.1 under spatial_config, v1.0 at the top).
  const overrides = [spatial?.fixture_vggt_overrides, json.fixture_vggt_overrides].find(isObject) ?? {};
  const top = [spatial, overrides.vggt, json.VGGT].find(isObject) ?? json;

  const t = reader(where, top);
  c.imgSize = t.int('img_size', c.imgSize);
  c.patchSize = t.int('patch_size', c.patchSize);
  const embedDim = t.int('embed_dim', c.aggregator.embedDim);
  c.aggregator.embedDim = embedDim;
  // The overrides size only the aggregator (the heads were not built, or built at 1B width): no heads then.
  const heads = !('aggregator' in overrides);
  c.heads = {
    camera: heads && t.bool('enable_camera', true),
    depth: heads && t.bool('enable_depth', true),
    point: heads && t.bool('enable_point', true),
  };

  const section = (...keys: string[]): Json => {
    const found = keys.map((k) => json[k] ?? overrides[k]).filter(isObject);
    return Object.assign({}, ...found);
  };

  const agg = section('Aggregator_defaults_in_effect', 'Aggregator_extra', 'aggregator');
  const a = reader(where, agg);
  a.fixed('aa_order', ['frame', 'global']);
  a.fixed('aa_block_size', 1);
  a.fixed('qk_norm', true);
  a.fixed('qkv_bias', true);
  a.fixed('proj_bias', true);
  a.fixed('ffn_bias', true);
  c.aggregator.depth = a.int('depth', c.aggregator.depth);
  c.aggregator.numHeads = a.int('num_heads', c.aggregator.numHeads);
  c.aggregator.mlpRatio = a.num('mlp_ratio', c.aggregator.mlpRatio);
  c.aggregator.numRegisterTokens = a.int('num_register_tokens', c.aggregator.numRegisterTokens);
  c.aggregator.ropeFreq = a.num('rope_freq', c.aggregator.ropeFreq);

  const dino = section('patch_embed_dinov2_tiny', 'dinov2_patch_embed');
  const d = reader(where, dino);
  const flags = reader(
    where,
    isObject(dino.flags_passed_by_aggregator) ? dino.flags_passed_by_aggregator : dino,
  );
  flags.fixed('interpolate_antialias', true);
  flags.fixed('interpolate_offset', 0);
  c.aggregator.patchEmbed = {
    embedDim: d.int('embed_dim', c.aggregator.patchEmbed.embedDim),
    depth: d.int('depth', c.aggregator.patchEmbed.depth),
    numHeads: d.int('num_heads', c.aggregator.patchEmbed.numHeads),
    mlpRatio: d.num('mlp_ratio', c.aggregator.patchEmbed.mlpRatio),
  };

  const cam = reader(where, section('CameraHead_defaults_in_effect', 'CameraHead_extra'));
  cam.fixed('pose_encoding_type', 'absT_quaR_FoV');
  cam.fixed('trans_act', 'linear');
  cam.fixed('quat_act', 'linear');
  cam.fixed('fl_act', 'relu');
  c.cameraHead = {
    trunkDepth: cam.int('trunk_depth', c.cameraHead.trunkDepth),
    numHeads: cam.int('num_heads', c.cameraHead.numHeads),
    mlpRatio: cam.num('mlp_ratio', c.cameraHead.mlpRatio),
    iterations: cam.int('forward.num_iterations', c.cameraHead.iterations),
  };

  const dpt = reader(where, section('DPTHead_defaults_in_effect', 'DPTHead_extra'));
  dpt.fixed('pos_embed', true);
  dpt.fixed('feature_only', false);
  dpt.fixed('down_ratio', 1);
  dpt.fixed('patch_size', c.patchSize);
  c.dpt = {
    features: dpt.int('features', c.dpt.features),
    outChannels: dpt.ints4('out_channels', c.dpt.outChannels),
    layers: dpt.ints4('intermediate_layer_idx', c.dpt.layers),
  };
  validateVggtConfig(c, where);
  return c;
}

/** Checks the relations the graphs rely on. */
export function validateVggtConfig(c: VggtConfig, where = 'VGGT config'): void {
  const fail = (what: string) => new InputError(`${where}: ${what}`);
  const a = c.aggregator;
  if (a.embedDim % a.numHeads !== 0)
    throw fail(`embed_dim ${a.embedDim} is not a multiple of ${a.numHeads} heads`);
  if ((a.embedDim / a.numHeads) % 4 !== 0)
    throw fail(`2D RoPE needs a head dim divisible by 4, got ${a.embedDim / a.numHeads}`);
  if (a.patchEmbed.embedDim !== a.embedDim)
    throw fail(`the DINOv2 width ${a.patchEmbed.embedDim} must equal the aggregator width ${a.embedDim}`);
  if (a.patchEmbed.embedDim % a.patchEmbed.numHeads !== 0)
    throw fail(`DINOv2 width ${a.patchEmbed.embedDim} is not a multiple of ${a.patchEmbed.numHeads} heads`);
  if (c.imgSize % c.patchSize !== 0) throw fail(`img_size ${c.imgSize} is not a multiple of ${c.patchSize}`);
  if ((2 * a.embedDim) % c.cameraHead.numHeads !== 0)
    throw fail(`camera head width ${2 * a.embedDim} is not a multiple of ${c.cameraHead.numHeads} heads`);
  if (c.heads.depth || c.heads.point)
    for (const l of c.dpt.layers)
      if (l >= a.depth) throw fail(`DPT layer ${l} does not exist (the aggregator has ${a.depth} layers)`);
}
