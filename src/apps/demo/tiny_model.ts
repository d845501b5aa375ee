// A tiny Spatial-MLLM v1.1 checkpoint folder made on the fly for the demo and the end-to-end tests: real file
// layout (config.json, model.safetensors with upstream key names, tokenizer files with a chat template,
// preprocessor and generation configs), random weights, a 256-byte vocabulary. It exercises every stage of the
// pipeline in seconds; its answers are meaningless by construction.
import { type ByteBpeVocab, vocabSize } from '../../models/qwen2_5_vl/tokenizer_files.ts';
import { tokenIdFields, writeInitCheckpoint } from '../../models/spatial_mllm/init_checkpoint.ts';

const BYTES: ByteBpeVocab = { merges: [] };

export const TINY_DESCRIPTION =
  'a tiny Spatial-MLLM v1.1 (Qwen2.5-VL 2 layers × 64 wide, VGGT 4 block pairs × 32 wide, random weights, 256-byte ' +
  'vocabulary) generated on the fly: it runs every stage of the real pipeline, but its answers are random bytes';

export function tinyConfig(): Record<string, unknown> {
  return {
    architectures: ['SpatialMLLMForConditionalGeneration'],
    model_type: 'spatial-mllm',
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    rope_scaling: { type: 'mrope', mrope_section: [2, 3, 3] },
    vocab_size: vocabSize(BYTES),
    tie_word_embeddings: true,
    ...tokenIdFields(BYTES),
    vision_config: {
      depth: 2,
      hidden_size: 64,
      num_heads: 4,
      intermediate_size: 128,
      patch_size: 14,
      temporal_patch_size: 2,
      spatial_merge_size: 2,
      window_size: 56,
      fullatt_block_indexes: [1],
      out_hidden_size: 64,
      in_channels: 3,
      tokens_per_second: 2,
    },
    spatial_config: { model_type: 'vggt_spatial_encoder', img_size: 518, patch_size: 14, embed_dim: 32 },
    connector_config: { connector_type: 'mlp_add', spatial_embeds_layer_idx: -1 },
    // Sizes of the tiny VGGT (reference-fixture layout read by vggt/config.ts); the heads are kept so
    // space-aware sampling and the point cloud work.
    Aggregator_extra: { depth: 4, num_heads: 4 },
    patch_embed_dinov2_tiny: { embed_dim: 32, depth: 1, num_heads: 4, mlp_ratio: 4 },
    CameraHead_extra: { trunk_depth: 1, num_heads: 4, mlp_ratio: 1 },
    DPTHead_extra: { features: 16, out_channels: [8, 16, 24, 24], intermediate_layer_idx: [0, 1, 2, 3] },
  };
}

/** Writes the tiny checkpoint into `dir` (created if needed). Its random weights rarely pick a stop token, so its
 * generation_config.json limits answers to 12 tokens (VSI-Bench answers are a letter or a number), as the small
 * model's; without it every question of an eval would generate upstream's 1024. */
export function writeTinySpatialMllm(dir: string, seed = 7): void {
  writeInitCheckpoint(dir, { config: tinyConfig(), vocab: BYTES, seed, maxNewTokens: 12 });
}
