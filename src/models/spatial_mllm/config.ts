// Spatial-MLLM configuration from a checkpoint's config.json: the Qwen2.5-VL part (same JSON), the VGGT spatial
// encoder sizes and the connector. Two generations exist (THU-SI/Spatial-MLLM, formerly diankun-wu/Spatial-MLLM):
// - v1.1 (branch master, `src/qwenvl/model/spatial_mllm.py`): model_type "spatial-mllm", `spatial_config`
//   (VGGT img/patch/embed sizes) and `connector_config` ({connector_type: "mlp_add", spatial_embeds_layer_idx});
//   weights `spatial_encoder.vggt_model.*` and `connector.*` (MLPAddConnector).
// - v1.0 (branch v1.0, `src/models/modeling_qwen2_5_vl.py`): a plain qwen2_5_vl config with the architecture
//   Qwen2_5_VL_VGGTForConditionalGeneration; VGGT-1B is hard-coded; weights `vggt.*` and `vggt_embedding_merger.*`
//   (VGGTEmbeddingMerger), always fed the last aggregator layer.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import { isObject, type JsonObject as Json, readJsonObject } from '../../json.ts';
import { parseQwen25VLConfig, type Qwen25VLConfig } from '../qwen2_5_vl/config.ts';
import { parseVggtConfig, type VggtConfig } from '../vggt/config.ts';

/** Spatial-MLLM's inference settings (src/inference.py): temperature 0.1, top-p 0.001 — near greedy — and at most
 * 1024 new tokens. */
export const SPATIAL_MLLM_SAMPLING = { temperature: 0.1, topP: 0.001 } as const;
export const DEFAULT_MAX_NEW_TOKENS = 1024;

export type SpatialMllmVersion = 'v1.1' | 'v1.0';

/** How the spatial tokens are grouped and projected (both versions: RMSNorm → MLP on 2·2×2 merged patches). */
export interface ConnectorConfig {
  version: SpatialMllmVersion;
  /** Upstream class: MLPAddConnector (v1.1) or VGGTEmbeddingMerger (v1.0). */
  kind: 'mlp_add' | 'vggt_embedding_merger';
  /** Aggregator output layer fed to the connector (Python index: -1 = last). */
  layerIndex: number;
  /** Channels per VGGT token: frame-attention ‖ global-attention output = 2 · embed_dim. */
  tokenDim: number;
  temporalMerge: number;
  spatialMerge: number;
  /** Channels of one merged token: tokenDim · temporalMerge · spatialMerge². */
  mergedDim: number;
  /** The language model width (= Qwen's vision output width, so the two embeddings can be summed). */
  hiddenSize: number;
}

export interface SpatialMllmConfig {
  version: SpatialMllmVersion;
  qwen: Qwen25VLConfig;
  /** The spatial encoder's VGGT; only its aggregator runs (Spatial-MLLM never calls the prediction heads). */
  vggt: VggtConfig;
  connector: ConnectorConfig;
}

export const V1_1_ARCHITECTURE = 'SpatialMLLMForConditionalGeneration';
export const V1_0_ARCHITECTURE = 'Qwen2_5_VL_VGGTForConditionalGeneration';

/** The version the config.json fields point to, or undefined when they say nothing (a v1.0 config may not). */
export function versionFromConfig(json: Json): SpatialMllmVersion | undefined {
  const archs = Array.isArray(json.architectures) ? json.architectures.map(String) : [];
  if (
    json.model_type === 'spatial-mllm' ||
    archs.includes(V1_1_ARCHITECTURE) ||
    isObject(json.connector_config) ||
    isObject(json.spatial_config)
  )
    return 'v1.1';
  if (archs.includes(V1_0_ARCHITECTURE)) return 'v1.0';
  return undefined;
}

/** The version the checkpoint's tensor names point to (undefined: neither v1.1 nor v1.0 modules are present). */
export function versionFromKeys(names: readonly string[]): SpatialMllmVersion | undefined {
  const has = (prefix: string) => names.some((n) => n.startsWith(prefix));
  if (has('spatial_encoder.') || has('connector.')) return 'v1.1';
  if (has('vggt.') || has('vggt_embedding_merger.')) return 'v1.0';
  return undefined;
}

/**
 * The Spatial-MLLM generation of a checkpoint, from config.json and (when given) its tensor names. They must agree;
 * when only one says something it decides. Neither: not a Spatial-MLLM checkpoint.
 */
export function detectVersion(
  json: Json,
  names?: readonly string[],
  where = 'config.json',
): SpatialMllmVersion {
  const fromConfig = versionFromConfig(json);
  const fromKeys = names ? versionFromKeys(names) : undefined;
  if (fromConfig && fromKeys && fromConfig !== fromKeys)
    throw new InputError(
      `${where} describes Spatial-MLLM ${fromConfig} but the weights hold ${fromKeys} modules ` +
        `(${fromKeys === 'v1.1' ? 'spatial_encoder.*, connector.*' : 'vggt.*, vggt_embedding_merger.*'}); ` +
        'use the config.json that came with these weights',
    );
  const version = fromConfig ?? fromKeys;
  if (!version)
    throw new InputError(
      `${where} is not a Spatial-MLLM checkpoint: no spatial_config/connector_config or architecture ` +
        `${V1_1_ARCHITECTURE}/${V1_0_ARCHITECTURE}` +
        (names ? ', and no spatial_encoder.*/connector.* or vggt.*/vggt_embedding_merger.* weights' : '') +
        '; point to a Spatial-MLLM folder (e.g. Spatial-MLLM-v1.1-Instruct-135K or Spatial-MLLM-subset-sft)',
    );
  return version;
}

function connectorConfig(
  json: Json,
  version: SpatialMllmVersion,
  qwen: Qwen25VLConfig,
  vggt: VggtConfig,
  where: string,
) {
  let layerIndex = -1;
  if (version === 'v1.1') {
    const c = isObject(json.connector_config) ? json.connector_config : {};
    if (c.connector_type !== undefined && c.connector_type !== 'mlp_add')
      throw new InputError(
        `${where}: connector_config.connector_type "${c.connector_type}" is not supported ` +
          '(Spatial-MLLM v1.1 ships only "mlp_add")',
      );
    const idx = c.spatial_embeds_layer_idx ?? -1;
    if (!Number.isInteger(idx))
      throw new InputError(
        `${where}: connector_config.spatial_embeds_layer_idx must be an integer, got ${idx}`,
      );
    layerIndex = idx as number;
  }
  const depth = vggt.aggregator.depth;
  if (layerIndex >= depth || layerIndex < -depth)
    throw new InputError(
      `${where}: connector_config.spatial_embeds_layer_idx ${layerIndex} is outside the ${depth} aggregator layers`,
    );
  // v1.1 takes the merge sizes from the Qwen vision config; v1.0's VGGTEmbeddingMergerConfig fixes both at 2.
  const temporalMerge = version === 'v1.1' ? qwen.vision.temporalPatchSize : 2;
  const spatialMerge = version === 'v1.1' ? qwen.vision.spatialMergeSize : 2;
  if (temporalMerge !== qwen.vision.temporalPatchSize || spatialMerge !== qwen.vision.spatialMergeSize)
    throw new InputError(
      `${where}: Spatial-MLLM v1.0 merges 2 frames × 2×2 patches, but the Qwen vision config merges ` +
        `${qwen.vision.temporalPatchSize} × ${qwen.vision.spatialMergeSize}² (the token counts would differ)`,
    );
  if (vggt.patchSize !== qwen.vision.patchSize)
    throw new InputError(
      `${where}: VGGT patch size ${vggt.patchSize} differs from Qwen's ${qwen.vision.patchSize}; ` +
        'Spatial-MLLM needs both encoders on the same patch grid',
    );
  if (qwen.vision.outHiddenSize !== qwen.text.hiddenSize)
    throw new InputError(`${where}: vision out_hidden_size must equal hidden_size to fuse the embeddings`);
  const tokenDim = 2 * vggt.aggregator.embedDim;
  return {
    version,
    kind: version === 'v1.1' ? 'mlp_add' : 'vggt_embedding_merger',
    layerIndex,
    tokenDim,
    temporalMerge,
    spatialMerge,
    mergedDim: tokenDim * temporalMerge * spatialMerge ** 2,
    hiddenSize: qwen.text.hiddenSize,
  } satisfies ConnectorConfig;
}

/** Parses a Spatial-MLLM config.json; `names` (the checkpoint's tensor names) help tell v1.0 from plain Qwen. */
export function parseSpatialMllmConfig(
  json: Json,
  names?: readonly string[],
  where = 'config.json',
): SpatialMllmConfig {
  const version = detectVersion(json, names, where);
  const qwen = parseQwen25VLConfig(json);
  const vggt = parseVggtConfig(json, where);
  return { version, qwen, vggt, connector: connectorConfig(json, version, qwen, vggt, where) };
}

export function readSpatialMllmConfig(dir: string, names?: readonly string[]): SpatialMllmConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path))
    throw new InputError(`${dir} has no config.json: pass a Spatial-MLLM checkpoint folder`);
  const json = readJsonObject(path, 'pass a Spatial-MLLM checkpoint folder');
  return parseSpatialMllmConfig(json, names, path);
}
