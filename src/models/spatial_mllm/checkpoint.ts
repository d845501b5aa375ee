// Spatial-MLLM checkpoints: which generation a folder holds, graph parameter names → checkpoint keys, and a
// check that every tensor the graphs need is there with its shape (and nothing unknown is) before any work.
// Key layouts (state_dict names of the upstream classes):
// - v1.1 SpatialMLLMForConditionalGeneration (Spatial-MLLM-v1.1-Instruct-135K/820K): Qwen2.5-VL keys +
//   `spatial_encoder.vggt_model.*` + `connector.*`;
// - v1.0 Qwen2_5_VL_VGGTForConditionalGeneration (Spatial-MLLM-subset-sft): Qwen2.5-VL keys + `vggt.*` +
//   `vggt_embedding_merger.*`.
// Graphs name Qwen parameters as transformers ≤ 4.51 (qwen2_5_vl/checkpoint.ts maps them onto the nested layout
// of later versions), VGGT parameters as facebook/VGGT-1B (`aggregator.*`, vggt/load.ts), connector parameters
// exactly as the checkpoint does. Both generations also store VGGT's prediction heads, which Spatial-MLLM never
// runs; they, DINOv2's mask token (masked-image training only) and a tied lm_head are not reported as unexpected.
import type * as E from '../../engine/index.ts';
import { InputError } from '../../errors.ts';
import { type Checkpoint, openCheckpoint, type TensorSource } from '../../weights/safetensors.ts';
import { checkpointKey, detectLayout, type KeyLayout } from '../qwen2_5_vl/checkpoint.ts';
import { buildTextDecoder } from '../qwen2_5_vl/text_decoder.ts';
import { buildVisionEncoder } from '../qwen2_5_vl/vision_encoder.ts';
import { readSpatialMllmConfig, type SpatialMllmConfig, type SpatialMllmVersion } from './config.ts';
import { buildSpatialFusion } from './fusion.ts';

/** Where VGGT's own key names sit inside each generation's checkpoint. */
export const VGGT_PREFIX: Record<SpatialMllmVersion, string> = {
  'v1.1': 'spatial_encoder.vggt_model.',
  'v1.0': 'vggt.',
};

const DESCRIPTION: Record<SpatialMllmVersion, string> = {
  'v1.1':
    'Spatial-MLLM v1.1 (SpatialMLLMForConditionalGeneration, e.g. Spatial-MLLM-v1.1-Instruct-135K/820K: ' +
    'Qwen2.5-VL + spatial_encoder.vggt_model.aggregator.* + connector.*)',
  'v1.0':
    'Spatial-MLLM v1.0 (Qwen2_5_VL_VGGTForConditionalGeneration, e.g. Spatial-MLLM-subset-sft: ' +
    'Qwen2.5-VL + vggt.aggregator.* + vggt_embedding_merger.*)',
};

/** Graph parameter name → checkpoint key. */
export function spatialMllmKey(name: string, version: SpatialMllmVersion, layout: KeyLayout): string {
  if (name.startsWith('aggregator.')) return VGGT_PREFIX[version] + name;
  if (name.startsWith('connector.') || name.startsWith('vggt_embedding_merger.')) return name;
  return checkpointKey(name, layout);
}

/** Checkpoint tensors that are present in real checkpoints but feed no Spatial-MLLM graph. */
function isUnused(key: string, version: SpatialMllmVersion, cfg: SpatialMllmConfig): boolean {
  const vggt = VGGT_PREFIX[version];
  const heads = ['camera_head.', 'point_head.', 'depth_head.', 'track_head.'];
  if (heads.some((h) => key.startsWith(vggt + h))) return true;
  if (key === `${vggt}aggregator.patch_embed.mask_token`) return true;
  return key === 'lm_head.weight' && cfg.qwen.text.tieWordEmbeddings;
}

export interface ExpectedTensor {
  shape: readonly number[];
}

/**
 * Every parameter the Spatial-MLLM graphs read (Qwen vision tower, text decoder, spatial encoder + connector),
 * by graph name, collected from the graphs themselves at the smallest grid (parameters do not depend on it).
 */
export function expectedParams(cfg: SpatialMllmConfig): Map<string, ExpectedTensor> {
  const m = cfg.qwen.vision.spatialMergeSize;
  const grid = [1, m, m] as const;
  const graphs: E.Graph[] = [
    buildVisionEncoder(cfg.qwen.vision, grid),
    buildTextDecoder(cfg.qwen.text),
    buildSpatialFusion(cfg, grid, { spatialInput: 'frames' }),
  ];
  const out = new Map<string, ExpectedTensor>();
  for (const g of graphs) for (const [name, t] of g.params) out.set(name, { shape: t.shape as number[] });
  return out;
}

/** `model.layers.12.mlp.up_proj.weight` → `model.layers.*`: names up to their first index, or two segments. */
export function keyGroup(name: string): string {
  const parts = name.split('.');
  const i = parts.findIndex((p) => /^\d+$/.test(p));
  const head = i > 0 ? parts.slice(0, i) : parts.slice(0, Math.min(2, parts.length - 1));
  return head.length ? `${head.join('.')}.*` : name;
}

/** "3 tensors: a.* (2: a.x, a.y), b.* (1: b.z)" with at most `groups` groups and `names` names per group. */
export function summarizeKeys(keys: readonly string[], groups = 6, names = 3): string {
  const byGroup = new Map<string, string[]>();
  for (const k of keys) {
    const g = keyGroup(k);
    byGroup.set(g, [...(byGroup.get(g) ?? []), k]);
  }
  const parts = [...byGroup].slice(0, groups).map(([g, ks]) => {
    const shown = ks.slice(0, names).join(', ');
    return `${g} (${ks.length}: ${shown}${ks.length > names ? ', …' : ''})`;
  });
  if (byGroup.size > groups) parts.push(`and ${byGroup.size - groups} more groups`);
  return `${keys.length} tensor${keys.length === 1 ? '' : 's'}: ${parts.join('; ')}`;
}

export interface WeightReport {
  missing: string[];
  unexpected: string[];
  /** Checkpoint key, its shape, the shape the config implies. */
  wrongShape: { key: string; got: number[]; want: readonly number[] }[];
}

/** Compares a checkpoint's tensors with what the graphs of `cfg` need (checkpoint key names throughout). */
export function compareWeights(
  source: TensorSource,
  cfg: SpatialMllmConfig,
  layout: KeyLayout = detectLayout(source.names()),
): WeightReport {
  const names = new Set(source.names());
  const report: WeightReport = { missing: [], unexpected: [], wrongShape: [] };
  const wanted = new Set<string>();
  for (const [name, { shape }] of expectedParams(cfg)) {
    const key = spatialMllmKey(name, cfg.version, layout);
    wanted.add(key);
    if (!names.has(key)) report.missing.push(key);
    else {
      const got = source.info(key).shape;
      if (got.join() !== shape.join()) report.wrongShape.push({ key, got, want: shape });
    }
  }
  for (const key of names)
    if (!wanted.has(key) && !isUnused(key, cfg.version, cfg)) report.unexpected.push(key);
  return report;
}

/** Throws an InputError listing what is missing, unexpected or misshapen (grouped by prefix), if anything is. */
export function checkWeights(source: TensorSource, cfg: SpatialMllmConfig, layout?: KeyLayout): void {
  const r = compareWeights(source, cfg, layout);
  if (!r.missing.length && !r.unexpected.length && !r.wrongShape.length) return;
  const lines = [
    `${source.path} does not match the ${DESCRIPTION[cfg.version]} that its config.json describes:`,
  ];
  if (r.missing.length) lines.push(`  missing ${summarizeKeys(r.missing)}`);
  if (r.unexpected.length) lines.push(`  unexpected ${summarizeKeys(r.unexpected)}`);
  if (r.wrongShape.length)
    lines.push(
      `  wrong shape in ${r.wrongShape.length}: ` +
        r.wrongShape
          .slice(0, 3)
          .map((w) => `${w.key} is [${w.got}], config implies [${w.want}]`)
          .join('; ') +
        (r.wrongShape.length > 3 ? '; …' : ''),
    );
  lines.push(
    'Fix: download every shard listed in model.safetensors.index.json and keep the config.json that came with ' +
      'the weights (list the tensors with `spatial-mllm weights inspect <folder>`).',
  );
  throw new InputError(lines.join('\n'));
}

export interface SpatialMllmCheckpoint {
  dir: string;
  config: SpatialMllmConfig;
  checkpoint: Checkpoint;
  layout: KeyLayout;
  /** Reads any graph parameter (Qwen, VGGT or connector name) from the checkpoint. */
  weights: E.WeightSource;
}

/** Opens a Spatial-MLLM folder: config + weights, generation detected from both, every tensor checked. */
export function openSpatialMllm(dir: string): SpatialMllmCheckpoint {
  const checkpoint = openCheckpoint(dir);
  try {
    const names = checkpoint.names();
    const config = readSpatialMllmConfig(dir, names);
    const layout = detectLayout(names);
    checkWeights(checkpoint, config, layout);
    const weights = { read: (name: string) => checkpoint.read(spatialMllmKey(name, config.version, layout)) };
    return { dir, config, checkpoint, layout, weights };
  } catch (e) {
    checkpoint.close();
    throw e;
  }
}
