// The small Spatial-MLLM trained on the synthetic world (issue 14): the v1.1 architecture and code path of the
// real model (Qwen2.5-VL ViT with window attention + merger, VGGT aggregator with frame/global blocks and its
// camera/DPT heads, MLP-add connector, Qwen2.5 decoder with M-RoPE), scaled so that a 2-core machine trains it.
// Frames are 168×112 (12×8 patches of 14 px → 6×4 merged tokens per pair of frames), the vocabulary is bytes +
// merges learned from the training questions (src/train/small/bpe.ts) + the Qwen-VL special tokens.
import { type ByteBpeVocab, vocabSize } from '../../models/qwen2_5_vl/tokenizer_files.ts';
import { tokenIdFields } from '../../models/spatial_mllm/init_checkpoint.ts';

/** Frame size of the synthetic videos and of the processor's pixel bounds: one merged-token grid for all. */
export const SMALL_FRAME = { width: 168, height: 112 } as const;
export const SMALL_PIXELS = SMALL_FRAME.width * SMALL_FRAME.height;

export interface SmallDims {
  /** LLM width, layers, MLP width. */
  hidden: number;
  layers: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  /** ViT width and depth. */
  visionHidden: number;
  visionDepth: number;
  /** VGGT width (channels per token = 2 × this) and frame/global block pairs. */
  vggtDim: number;
  vggtDepth: number;
}

/**
 * 2.7M parameters (LLM 0.87M with a 670-token vocabulary, ViT 0.81M + merger 0.33M, VGGT 0.34M, connector 0.33M;
 * 10.8 MB in float32): below the 10–30M because the whole recipe must train and evaluate within about two
 * hours on 2 cores — at this size an SFT step of 4 samples takes ~0.25 s with the encoder cache. The ViT is the
 * widest part: counting and positions need per-patch object evidence (README "The small model").
 */
export const SMALL_DIMS: SmallDims = {
  hidden: 128,
  layers: 4,
  intermediate: 384,
  heads: 4,
  kvHeads: 2,
  visionHidden: 128,
  visionDepth: 4,
  vggtDim: 32,
  vggtDepth: 4,
};

export function smallConfig(vocab: ByteBpeVocab, d: SmallDims = SMALL_DIMS): Record<string, unknown> {
  const headDim = d.hidden / d.heads;
  // M-RoPE sections over head_dim/2 in Qwen2.5-VL's proportions [16, 24, 24] of 64.
  const half = headDim / 2;
  const t = Math.round(half / 4);
  const h = Math.floor((half - t) / 2);
  return {
    architectures: ['SpatialMLLMForConditionalGeneration'],
    model_type: 'spatial-mllm',
    hidden_size: d.hidden,
    intermediate_size: d.intermediate,
    num_hidden_layers: d.layers,
    num_attention_heads: d.heads,
    num_key_value_heads: d.kvHeads,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    rope_scaling: { type: 'mrope', mrope_section: [t, h, half - t - h] },
    vocab_size: vocabSize(vocab),
    tie_word_embeddings: true,
    ...tokenIdFields(vocab),
    vision_config: {
      depth: d.visionDepth,
      hidden_size: d.visionHidden,
      num_heads: 4,
      intermediate_size: 2 * d.visionHidden,
      patch_size: 14,
      temporal_patch_size: 2,
      spatial_merge_size: 2,
      window_size: 56,
      fullatt_block_indexes: [d.visionDepth - 1],
      out_hidden_size: d.hidden,
      in_channels: 3,
      tokens_per_second: 2,
    },
    spatial_config: {
      model_type: 'vggt_spatial_encoder',
      img_size: 518,
      patch_size: 14,
      embed_dim: d.vggtDim,
    },
    connector_config: { connector_type: 'mlp_add', spatial_embeds_layer_idx: -1 },
    Aggregator_extra: { depth: d.vggtDepth, num_heads: 4 },
    patch_embed_dinov2_tiny: { embed_dim: d.vggtDim, depth: 1, num_heads: 4, mlp_ratio: 4 },
    CameraHead_extra: { trunk_depth: 1, num_heads: 4, mlp_ratio: 1 },
    DPTHead_extra: {
      features: 16,
      out_channels: [8, 16, 24, 24],
      // Four distinct aggregator layers, the last one last (upstream [4, 11, 17, 23] of 24); needs depth ≥ 4.
      intermediate_layer_idx: [0, 1, 2, d.vggtDepth - 1],
    },
  };
}
