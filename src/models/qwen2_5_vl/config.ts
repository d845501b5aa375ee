import { z } from 'zod';
import { InputError } from '../../errors.ts';
import { readJsonObject } from '../../json.ts';

export interface TextConfig {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  mropeSection: [number, number, number];
  vocabSize: number;
  tieWordEmbeddings: boolean;
}

export interface VisionConfig {
  depth: number;
  hiddenSize: number;
  numHeads: number;
  intermediateSize: number;
  patchSize: number;
  temporalPatchSize: number;
  spatialMergeSize: number;
  windowSize: number;
  fullAttBlockIndexes: number[];
  outHiddenSize: number;
  inChannels: number;
  tokensPerSecond: number;
}

export interface Qwen25VLConfig {
  text: TextConfig;
  vision: VisionConfig;
  imageTokenId: number;
  videoTokenId: number;
  visionStartTokenId: number;
  visionEndTokenId: number;
  eosTokenIds: number[];
  /** The raw JSON, for fields other models add (Spatial-MLLM). */
  raw: Record<string, unknown>;
}

const int = z.number().int().positive();
const ropeScaling = z.object({
  type: z.string().optional(),
  rope_type: z.string().optional(),
  mrope_section: z.tuple([int, int, int]),
});
const textSchema = z.object({
  hidden_size: int,
  num_hidden_layers: int,
  num_attention_heads: int,
  num_key_value_heads: int,
  intermediate_size: int,
  rms_norm_eps: z.number().positive(),
  rope_theta: z.number().positive(),
  rope_scaling: ropeScaling,
  vocab_size: int,
  tie_word_embeddings: z.boolean().optional(),
  hidden_act: z.literal('silu').optional(),
});
const visionSchema = z.object({
  depth: int,
  hidden_size: int,
  num_heads: int,
  intermediate_size: int,
  patch_size: int,
  temporal_patch_size: int,
  spatial_merge_size: int,
  window_size: int,
  fullatt_block_indexes: z.array(z.number().int().nonnegative()),
  out_hidden_size: int,
  in_channels: int.optional(),
  tokens_per_second: z.number().positive().optional(),
  hidden_act: z.literal('silu').optional(),
});
const tokenIds = z.object({
  image_token_id: int,
  video_token_id: int,
  vision_start_token_id: int,
  vision_end_token_id: int,
  eos_token_id: z.union([int, z.array(int)]).optional(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = [where, ...issue.path.map(String)].filter(Boolean).join('.');
  throw new InputError(
    `config.json: field '${field}' ${issue.message.toLowerCase()} (is this a Qwen2.5-VL checkpoint?)`,
  );
}

export function parseQwen25VLConfig(json: Record<string, unknown>): Qwen25VLConfig {
  const modelType = json.model_type;
  if (
    modelType !== undefined &&
    !String(modelType).startsWith('qwen2_5_vl') &&
    !String(modelType).includes('spatial')
  )
    throw new InputError(`config.json: model_type '${modelType}' is not qwen2_5_vl`);
  const textJson = (json.text_config as Record<string, unknown> | undefined) ?? json;
  const t = parse(textSchema, textJson, json.text_config ? 'text_config' : '');
  const v = parse(visionSchema, json.vision_config, 'vision_config');
  const ids = parse(tokenIds, { ...textJson, ...json }, '');
  const rope = t.rope_scaling;
  const ropeType = rope.type ?? rope.rope_type;
  if (ropeType && !['mrope', 'default'].includes(ropeType))
    throw new InputError(
      `config.json: rope_scaling type '${ropeType}' is not supported (expected mrope/default)`,
    );
  const headDim = t.hidden_size / t.num_attention_heads;
  if (!Number.isInteger(headDim) || rope.mrope_section.reduce((a, b) => a + b, 0) * 2 !== headDim)
    throw new InputError(
      `config.json: rope_scaling.mrope_section [${rope.mrope_section}] must sum to head_dim/2 = ${headDim / 2}`,
    );
  if (t.num_attention_heads % t.num_key_value_heads !== 0)
    throw new InputError('config.json: num_attention_heads must be a multiple of num_key_value_heads');
  if (v.hidden_size % v.num_heads !== 0)
    throw new InputError('config.json: vision_config.hidden_size must divide by num_heads');
  const eos = ids.eos_token_id;
  return {
    text: {
      hiddenSize: t.hidden_size,
      numLayers: t.num_hidden_layers,
      numHeads: t.num_attention_heads,
      numKvHeads: t.num_key_value_heads,
      headDim,
      intermediateSize: t.intermediate_size,
      rmsNormEps: t.rms_norm_eps,
      ropeTheta: t.rope_theta,
      mropeSection: rope.mrope_section,
      vocabSize: t.vocab_size,
      tieWordEmbeddings: t.tie_word_embeddings ?? (json.tie_word_embeddings as boolean | undefined) ?? false,
    },
    vision: {
      depth: v.depth,
      hiddenSize: v.hidden_size,
      numHeads: v.num_heads,
      intermediateSize: v.intermediate_size,
      patchSize: v.patch_size,
      temporalPatchSize: v.temporal_patch_size,
      spatialMergeSize: v.spatial_merge_size,
      windowSize: v.window_size,
      fullAttBlockIndexes: v.fullatt_block_indexes,
      outHiddenSize: v.out_hidden_size,
      inChannels: v.in_channels ?? 3,
      tokensPerSecond: v.tokens_per_second ?? 2,
    },
    imageTokenId: ids.image_token_id,
    videoTokenId: ids.video_token_id,
    visionStartTokenId: ids.vision_start_token_id,
    visionEndTokenId: ids.vision_end_token_id,
    eosTokenIds: eos === undefined ? [] : Array.isArray(eos) ? eos : [eos],
    raw: json,
  };
}

export function readQwen25VLConfig(path: string): Qwen25VLConfig {
  return parseQwen25VLConfig(readJsonObject(path, 'check the checkpoint folder'));
}

/** The config.json fields of Qwen/Qwen2.5-VL-3B-Instruct (the 2D encoder and LLM of Spatial-MLLM), for benchmarks
 * and size checks with random weights. */
export const QWEN2_5_VL_3B_CONFIG = {
  model_type: 'qwen2_5_vl',
  hidden_size: 2048,
  num_hidden_layers: 36,
  num_attention_heads: 16,
  num_key_value_heads: 2,
  intermediate_size: 11008,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  rope_scaling: { type: 'mrope', mrope_section: [16, 24, 24] },
  vocab_size: 151936,
  tie_word_embeddings: true,
  image_token_id: 151655,
  video_token_id: 151656,
  vision_start_token_id: 151652,
  vision_end_token_id: 151653,
  eos_token_id: 151645,
  vision_config: {
    depth: 32,
    hidden_size: 1280,
    num_heads: 16,
    intermediate_size: 3420,
    patch_size: 14,
    temporal_patch_size: 2,
    spatial_merge_size: 2,
    window_size: 112,
    fullatt_block_indexes: [7, 15, 23, 31],
    out_hidden_size: 2048,
    in_channels: 3,
    tokens_per_second: 2,
  },
} as const;

/** The fields get_rope_index reads (rope_index.ts). */
export function ropeIndexConfig(c: Qwen25VLConfig) {
  return {
    imageTokenId: c.imageTokenId,
    videoTokenId: c.videoTokenId,
    visionStartTokenId: c.visionStartTokenId,
    spatialMergeSize: c.vision.spatialMergeSize,
    tokensPerSecond: c.vision.tokensPerSecond,
  };
}
