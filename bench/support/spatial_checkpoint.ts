// Random Spatial-MLLM checkpoints and one-video data sets for the training benchmarks (bench:sft, bench:grpo).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinyConfig, writeTinySpatialMllm } from '../../src/apps/demo/tiny_model.ts';
import { encodePng } from '../../src/media/image.ts';
import { buildTextDecoder } from '../../src/models/qwen2_5_vl/text_decoder.ts';
import { buildVisionEncoder } from '../../src/models/qwen2_5_vl/vision_encoder.ts';
import { spatialMllmKey } from '../../src/models/spatial_mllm/checkpoint.ts';
import { parseSpatialMllmConfig } from '../../src/models/spatial_mllm/config.ts';
import { buildSpatialFusion } from '../../src/models/spatial_mllm/fusion.ts';
import { type HostTensor, numel, tensor } from '../../src/tensor.ts';
import { writeSafetensors } from '../../src/weights/safetensors.ts';

export type Size = 'tiny' | '100m' | 'real1' | 'real2';

const TEXT: Record<Exclude<Size, 'tiny'>, Record<string, unknown>> = {
  '100m': {
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    num_key_value_heads: 2,
    intermediate_size: 2048,
    vocab_size: 32000,
    rope_scaling: { type: 'mrope', mrope_section: [8, 12, 12] },
  },
  real1: {
    hidden_size: 2048,
    num_hidden_layers: 1,
    num_attention_heads: 16,
    num_key_value_heads: 2,
    intermediate_size: 11008,
    vocab_size: 151936,
    rope_scaling: { type: 'mrope', mrope_section: [16, 24, 24] },
  },
  real2: {
    hidden_size: 2048,
    num_hidden_layers: 2,
    num_attention_heads: 16,
    num_key_value_heads: 2,
    intermediate_size: 11008,
    vocab_size: 151936,
    rope_scaling: { type: 'mrope', mrope_section: [16, 24, 24] },
  },
};

/** A checkpoint folder: the demo model's files, with the LLM of `size` (random fp32 weights). */
export function writeModel(dir: string, size: Size): void {
  writeTinySpatialMllm(dir);
  if (size === 'tiny') return;
  const base = tinyConfig() as Record<string, any>;
  const text = TEXT[size];
  const json = {
    ...base,
    ...text,
    vision_config: { ...base.vision_config, out_hidden_size: text.hidden_size },
  };
  const cfg = parseSpatialMllmConfig(json);
  const grid = [1, 2, 2] as const;
  const weights = new Map<string, HostTensor>();
  let s = 12345;
  for (const g of [
    buildVisionEncoder(cfg.qwen.vision, grid),
    buildTextDecoder(cfg.qwen.text),
    buildSpatialFusion(cfg, grid, { spatialInput: 'frames' }),
  ])
    for (const [name, t] of g.params) {
      const key = name.startsWith('aggregator.')
        ? `spatial_encoder.vggt_model.${name}`
        : spatialMllmKey(name, 'v1.1', 'flat');
      const shape = t.shape as number[];
      const n = numel(shape);
      const norm = /norm|ln_q/.test(name) && shape.length === 1;
      const scale = name.endsWith('.bias')
        ? 0
        : shape.length < 2
          ? 0.02
          : 1 / Math.sqrt(shape[shape.length - 1]);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        data[i] = (norm ? 1 : 0) + scale * ((s / 4294967296) * 2 - 1);
      }
      weights.set(key, tensor('float32', shape, data));
    }
  writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(json, null, 2));
}

/**
 * One 16-frame video and its conversation: 112×112 (grid 8×8×8: 128 visual tokens), or 640×480 for --long
 * (476×644 at upstream's pixel bounds: 3,128 visual tokens).
 */
export function writeData(dir: string, long = false): { data: string; media: string } {
  const media = join(dir, 'media');
  const [width, height] = long ? [640, 480] : [112, 112];
  mkdirSync(join(media, 'v0'), { recursive: true });
  for (let f = 0; f < 16; f++) {
    const data = new Uint8Array(width * height * 3).map((_, i) => (i * 7 + f * 13) & 255);
    writeFileSync(join(media, 'v0', `${String(f).padStart(4, '0')}.png`), encodePng({ width, height, data }));
  }
  writeFileSync(join(media, 'v0', 'video.json'), JSON.stringify({ avg_fps: 2 }));
  const data = join(dir, 'train.jsonl');
  const conv = [
    {
      from: 'human',
      value:
        '<video>\nHow many chairs are in this room?\nPlease answer the question using a single word or phrase.',
    },
    { from: 'gpt', value: '3' },
  ];
  writeFileSync(data, `${JSON.stringify({ id: 'v0', video: 'v0', conversations: conv })}\n`);
  return { data, media };
}
