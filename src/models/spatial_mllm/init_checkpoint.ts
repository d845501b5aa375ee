// A Spatial-MLLM v1.1 checkpoint folder with freshly initialised weights, in the layout `ask` loads
// (config.json, model.safetensors with upstream key names, tokenizer files with a chat template, preprocessor
// and generation configs). The tiny demo model (src/apps/demo/tiny_model.ts) and the starting point of the
// small trained model (src/train/small) are made here.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as E from '../../engine/index.ts';
import { type HostTensor, numel, tensor } from '../../tensor.ts';
import { writeSafetensors } from '../../weights/safetensors.ts';
import { DEFAULT_PROCESSOR_CONFIG } from '../qwen2_5_vl/image_processor.ts';
import { buildTextDecoder } from '../qwen2_5_vl/text_decoder.ts';
import { type ByteBpeVocab, specialTokenId, writeTokenizerFiles } from '../qwen2_5_vl/tokenizer_files.ts';
import { buildVisionEncoder } from '../qwen2_5_vl/vision_encoder.ts';
import { buildAggregatorGraph, buildCameraHeadGraph, buildDptGraph } from '../vggt/model.ts';
import { spatialMllmKey } from './checkpoint.ts';
import { parseSpatialMllmConfig } from './config.ts';
import { buildSpatialFusion } from './fusion.ts';

/** The token-id fields of config.json for a byte-level BPE vocabulary (src/models/qwen2_5_vl/tokenizer_files.ts). */
export function tokenIdFields(v: ByteBpeVocab): Record<string, number> {
  return {
    bos_token_id: specialTokenId(v, '<|endoftext|>'),
    eos_token_id: specialTokenId(v, '<|im_end|>'),
    image_token_id: specialTokenId(v, '<|image_pad|>'),
    video_token_id: specialTokenId(v, '<|video_pad|>'),
    vision_start_token_id: specialTokenId(v, '<|vision_start|>'),
    vision_end_token_id: specialTokenId(v, '<|vision_end|>'),
    vision_token_id: specialTokenId(v, '<|vision_pad|>'),
  };
}

/** Deterministic small random weights: norms and LayerScale near 1 / their init, matrices ~ 1/sqrt(fan-in). */
function randomTensor(name: string, shape: readonly number[], seed: number, gain: number): HostTensor {
  let s = seed >>> 0;
  for (const ch of name) s = (Math.imul(s ^ ch.charCodeAt(0), 16777619) + 1) >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
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
        : (2 * gain) / Math.sqrt(fanIn);
  const data = Float32Array.from({ length: n }, () => (isNorm ? 1 : 0) + scale * uniform());
  return tensor('float32', [...shape], data);
}

export interface InitCheckpointOptions {
  /** config.json as written (Spatial-MLLM v1.1 layout, token ids matching `vocab`). */
  config: Record<string, unknown>;
  vocab: ByteBpeVocab;
  seed: number;
  /** Matrix init scale relative to uniform(±1/sqrt(fan-in)) × 2 (the tiny model's; training prefers < 1). */
  gain?: number;
  /** generation_config.json max_new_tokens (none: the pipeline's 1024, as upstream inference). */
  maxNewTokens?: number;
  /** Frame-area bounds of the processor (preprocessor_config.json min_pixels / max_pixels). */
  pixels?: { min: number; max: number };
}

/** Writes a freshly initialised checkpoint into `dir` (created if needed). */
export function writeInitCheckpoint(dir: string, o: InitCheckpointOptions): void {
  mkdirSync(dir, { recursive: true });
  const cfg = parseSpatialMllmConfig(o.config);
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
      if (!weights.has(key)) weights.set(key, randomTensor(key, t.shape as number[], o.seed, o.gain ?? 1));
    }
  writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(o.config, null, 2)}\n`);
  const stop = [specialTokenId(o.vocab, '<|im_end|>'), specialTokenId(o.vocab, '<|endoftext|>')];
  writeFileSync(
    join(dir, 'generation_config.json'),
    `${JSON.stringify({ do_sample: false, eos_token_id: stop, ...(o.maxNewTokens ? { max_new_tokens: o.maxNewTokens } : {}) }, null, 2)}\n`,
  );
  const p = DEFAULT_PROCESSOR_CONFIG;
  writeFileSync(
    join(dir, 'preprocessor_config.json'),
    `${JSON.stringify(
      {
        min_pixels: o.pixels?.min ?? 3136,
        max_pixels: o.pixels?.max ?? 12845056,
        patch_size: p.patchSize,
        temporal_patch_size: p.temporalPatchSize,
        merge_size: p.mergeSize,
        image_mean: p.imageMean,
        image_std: p.imageStd,
        image_processor_type: 'Qwen2VLImageProcessor',
      },
      null,
      2,
    )}\n`,
  );
  writeTokenizerFiles(dir, o.vocab);
}
