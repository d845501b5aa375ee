// A tiny Spatial-MLLM v1.1 checkpoint folder made on the fly for the demo and the end-to-end tests: real file
// layout (config.json, model.safetensors with upstream key names, tokenizer files with a chat template,
// preprocessor and generation configs), random weights, a 256-byte vocabulary. It exercises every stage of the
// pipeline in seconds; its answers are meaningless by construction.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as E from '../../engine/index.ts';
import { buildTextDecoder } from '../../models/qwen2_5_vl/text_decoder.ts';
import { buildVisionEncoder } from '../../models/qwen2_5_vl/vision_encoder.ts';
import { spatialMllmKey } from '../../models/spatial_mllm/checkpoint.ts';
import { parseSpatialMllmConfig } from '../../models/spatial_mllm/config.ts';
import { buildSpatialFusion } from '../../models/spatial_mllm/connector.ts';
import { buildAggregatorGraph, buildCameraHeadGraph, buildDptGraph } from '../../models/vggt/model.ts';
import { mulberry32 } from '../../random.ts';
import { type HostTensor, numel, tensor } from '../../tensor.ts';
import { writeSafetensors } from '../../weights/safetensors.ts';

/** Special tokens after the 256 byte tokens, in Qwen2.5-VL's order. */
const SPECIAL = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<|object_ref_start|>',
  '<|object_ref_end|>',
  '<|box_start|>',
  '<|box_end|>',
  '<|quad_start|>',
  '<|quad_end|>',
  '<|vision_start|>',
  '<|vision_end|>',
  '<|vision_pad|>',
  '<|image_pad|>',
  '<|video_pad|>',
];
const id = (token: string) => 256 + SPECIAL.indexOf(token);

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
    vocab_size: 320,
    tie_word_embeddings: true,
    bos_token_id: id('<|endoftext|>'),
    eos_token_id: id('<|im_end|>'),
    image_token_id: id('<|image_pad|>'),
    video_token_id: id('<|video_pad|>'),
    vision_start_token_id: id('<|vision_start|>'),
    vision_end_token_id: id('<|vision_end|>'),
    vision_token_id: id('<|vision_pad|>'),
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

/** Byte-level BPE with the GPT-2 byte↔unicode table and no merges: every byte is a token. */
function tokenizerJson(): Record<string, unknown> {
  const printable = [
    ...Array.from({ length: 94 }, (_, i) => 33 + i),
    ...Array.from({ length: 12 }, (_, i) => 161 + i),
    ...Array.from({ length: 82 }, (_, i) => 174 + i),
  ];
  const vocab: Record<string, number> = {};
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const cp = printable.includes(b) ? b : 256 + extra++;
    vocab[String.fromCodePoint(cp)] = b;
  }
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((content, i) => ({
      id: 256 + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [byteLevel] },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

/** Renders conversations in Qwen2.5-VL's layout (default system turn, vision placeholders in user content). */
const CHAT_TEMPLATE = [
  "{%- if messages[0]['role'] != 'system' -%}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif -%}",
  '{%- for m in messages -%}<|im_start|>{{ m.role }}\n',
  '{%- if m.content is string -%}{{ m.content }}{%- else -%}{%- for c in m.content -%}',
  "{%- if c.type == 'image' -%}<|vision_start|><|image_pad|><|vision_end|>",
  "{%- elif c.type == 'video' -%}<|vision_start|><|video_pad|><|vision_end|>",
  '{%- else -%}{{ c.text }}{%- endif -%}{%- endfor -%}{%- endif -%}<|im_end|>\n{% endfor -%}',
  '{%- if add_generation_prompt -%}<|im_start|>assistant\n{%- endif -%}',
].join('');

/** Deterministic small random weights: norms and LayerScale near 1 / their init, matrices ~ 1/sqrt(fan-in). */
function randomTensor(name: string, shape: readonly number[], seed: number): HostTensor {
  let s = seed >>> 0;
  for (const ch of name) s = (Math.imul(s ^ ch.charCodeAt(0), 16777619) + 1) >>> 0;
  const uniform = () => {
    const [next, u] = mulberry32(s);
    s = next;
    return u - 0.5;
  };
  const n = numel(shape);
  const fanIn = shape.length > 1 ? numel(shape.slice(1)) : 1;
  const isNorm = /norm|ln_q|\.gamma$/.test(name) && shape.length === 1 && !name.endsWith('.bias');
  const scale = isNorm
    ? 0.1
    : name.endsWith('.bias')
      ? 0.05
      : /token|pos_embed/.test(name)
        ? 0.2
        : 2 / Math.sqrt(fanIn);
  const data = Float32Array.from({ length: n }, () => (isNorm ? 1 : 0) + scale * uniform());
  return tensor('float32', [...shape], data);
}

/** Writes the tiny checkpoint into `dir` (created if needed). */
export function writeTinySpatialMllm(dir: string, seed = 7): void {
  mkdirSync(dir, { recursive: true });
  const json = tinyConfig();
  const cfg = parseSpatialMllmConfig(json);
  const grid = [1, 2, 2] as const;
  const graphs: E.Graph[] = [
    buildVisionEncoder(cfg.qwen.vision, grid),
    buildTextDecoder(cfg.qwen.text),
    buildSpatialFusion(cfg, grid, { spatialInput: 'frames' }),
    buildAggregatorGraph(cfg.vggt, [28, 28], [cfg.vggt.aggregator.depth - 1]),
    buildCameraHeadGraph(cfg.vggt),
    buildDptGraph(cfg.vggt, [28, 28], ['depth', 'point']),
  ];
  const weights = new Map<string, HostTensor>();
  for (const g of graphs)
    for (const [name, t] of g.params) {
      const key =
        name.startsWith('aggregator.') || /_head\./.test(name)
          ? `spatial_encoder.vggt_model.${name}`
          : spatialMllmKey(name, 'v1.1', 'flat');
      if (!weights.has(key)) weights.set(key, randomTensor(key, t.shape as number[], seed));
    }
  writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(
    join(dir, 'generation_config.json'),
    `${JSON.stringify({ do_sample: false, eos_token_id: [id('<|im_end|>'), id('<|endoftext|>')] }, null, 2)}\n`,
  );
  writeFileSync(
    join(dir, 'preprocessor_config.json'),
    `${JSON.stringify({ min_pixels: 3136, max_pixels: 12845056, patch_size: 14, temporal_patch_size: 2, merge_size: 2, image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711], image_processor_type: 'Qwen2VLImageProcessor' }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  const addedDecoder = Object.fromEntries(
    SPECIAL.map((content, i) => [
      String(256 + i),
      { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
    ]),
  );
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    `${JSON.stringify({ added_tokens_decoder: addedDecoder, eos_token: '<|im_end|>', pad_token: '<|endoftext|>', chat_template: CHAT_TEMPLATE, tokenizer_class: 'Qwen2Tokenizer' }, null, 2)}\n`,
  );
}
