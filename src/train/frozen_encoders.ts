// The frozen encoders of Spatial-MLLM SFT, run in inference sessions: the Qwen ViT blocks up to the PatchMerger
// (which trains) and the VGGT aggregator with the 3D token merge (the connector trains). Their outputs depend only
// on the frames and on the encoders' own weights, so they are cached on disk per (video file, frame indices, frame
// size, digest of exactly the tensors the two frozen graphs read): every epoch after the first runs only the
// trainable graph; a checkpoint whose encoder weights changed (e.g. rewritten by the geometry stage) never reads
// stale outputs; and checkpoints that share the encoders (SFT's output and GRPO's start, a wider LLM on the same
// encoders) share one cache.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../engine/index.ts';
import type { LinearFormat } from '../models/layers.ts';
import type { GridThw } from '../models/qwen2_5_vl/rope_index.ts';
import { buildVisionEncoder } from '../models/qwen2_5_vl/vision_encoder.ts';
import { GraphSessions } from '../models/sessions.ts';
import type { SpatialMllmCheckpoint } from '../models/spatial_mllm/checkpoint.ts';
import { merge3d } from '../models/spatial_mllm/merge_3d.ts';
import { spatialEncoder } from '../models/spatial_mllm/spatial_encoder.ts';
import type { Device } from '../runtime/session.ts';
import { type HostTensor, tensor } from '../tensor.ts';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.ts';
import type { SftExample } from './sft_example.ts';

export interface FrozenOutputs {
  /** [t·h·w, C] ViT output before the merger, merge groups in merged-token order. */
  vitHidden: HostTensor;
  /** [t·h·w/4, M] merged VGGT tokens. */
  spatialMerged: HostTensor;
  /** Whether they came from the disk cache. */
  cached: boolean;
}

export interface FrozenEncoderOptions {
  /** Folder of cached outputs; none = no cache. */
  cacheDir?: string;
  device?: Device;
  threads?: number;
  /** Format of the ViT's linear layers (VGGT stays float32, as in inference). */
  format?: LinearFormat;
  /** Weights of the ViT (e.g. quantized); default the checkpoint's. */
  weights?: E.WeightSource;
  /** Run the sessions in a worker thread (the lanes of `fill`). */
  offMainThread?: boolean;
}

/** The VGGT half: uint8 frames [2t, 14h, 14w, 3] → `spatial_merged`. */
function buildSpatialTokens(ckpt: SpatialMllmCheckpoint, grid: GridThw): E.Graph {
  const cfg = ckpt.config;
  const c = cfg.connector;
  const [t, h, w] = grid;
  const g = new E.Graph(`spatial_mllm_frozen_spatial_${t}x${h}x${w}`);
  const p = cfg.vggt.patchSize;
  const tokens = spatialEncoder(g, cfg, t * c.temporalMerge, h * p, w * p);
  const layout = {
    h,
    w,
    patchStart: 1 + cfg.vggt.aggregator.numRegisterTokens,
    temporalMerge: c.temporalMerge,
    spatialMerge: c.spatialMerge,
  };
  g.output('spatial_merged', merge3d(tokens, layout, cfg.version));
  return g;
}

/**
 * SHA-256 over name, dtype, shape and bytes of every parameter the frozen graphs read (the ViT before its merger,
 * the VGGT aggregator): equal exactly when the cached outputs are valid. The graphs are built at the smallest grid
 * only to list their parameters, which do not depend on the grid.
 */
export function encoderWeightsDigest(ckpt: SpatialMllmCheckpoint): string {
  const m = ckpt.config.qwen.vision.spatialMergeSize;
  const grid: GridThw = [1, m, m];
  const graphs = [
    buildVisionEncoder(ckpt.config.qwen.vision, grid, { beforeMerger: true }),
    buildSpatialTokens(ckpt, grid),
  ];
  const names = [...new Set(graphs.flatMap((g) => [...g.params.keys()]))].sort();
  const hash = createHash('sha256');
  for (const name of names) {
    const t = ckpt.weights.read(name);
    hash.update(JSON.stringify([name, t.dtype, t.shape]));
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hash.digest('hex');
}

export class FrozenEncoders {
  private readonly vit: GraphSessions;
  private weightsKey?: string;
  private readonly vggt: GraphSessions;
  /** Runs and cache hits so far. */
  readonly stats = { computed: 0, cached: 0 };

  constructor(
    readonly checkpoint: SpatialMllmCheckpoint,
    readonly options: FrozenEncoderOptions = {},
  ) {
    const s = { device: options.device, threads: options.threads, offMainThread: options.offMainThread };
    this.vit = new GraphSessions(options.weights ?? checkpoint.weights, s);
    this.vggt = new GraphSessions(checkpoint.weights, s);
  }

  /** Computed on first use: only a run with a cache reads every encoder weight for it. */
  private encoderDigest(): string {
    this.weightsKey ??= encoderWeightsDigest(this.checkpoint);
    return this.weightsKey;
  }

  private cachePath(ex: SftExample): string | undefined {
    if (!this.options.cacheDir) return undefined;
    const key = createHash('sha256')
      .update(JSON.stringify([ex.mediaKey, this.encoderDigest(), this.options.format ?? null]))
      .digest('hex')
      .slice(0, 32);
    return join(this.options.cacheDir, `${key}.safetensors`);
  }

  async encode(ex: SftExample): Promise<FrozenOutputs> {
    const path = this.cachePath(ex);
    if (path && existsSync(path)) {
      const t = readSafetensors(path);
      this.stats.cached++;
      return { vitHidden: t.get('vit_hidden')!, spatialMerged: t.get('spatial_merged')!, cached: true };
    }
    const grid = ex.grid;
    const media = await ex.media();
    const vision = this.checkpoint.config.qwen.vision;
    const vitSession = await this.vit.get(`vit:${grid}`, () =>
      buildVisionEncoder(vision, grid, { format: this.options.format, beforeMerger: true }),
    );
    const vitHidden = (await vitSession.run({ pixel_values: media.pixelValues })).vit_hidden;
    const { width, height } = media.frames[0];
    const rgb = new Uint8Array(media.frames.length * width * height * 3);
    media.frames.forEach((f, i) => {
      rgb.set(f.data, i * width * height * 3);
    });
    const vggtSession = await this.vggt.get(`vggt:${grid}`, () => buildSpatialTokens(this.checkpoint, grid));
    const frames = tensor('uint8', [media.frames.length, height, width, 3], rgb);
    const spatialMerged = (await vggtSession.run({ frames })).spatial_merged;
    this.stats.computed++;
    if (path) {
      mkdirSync(this.options.cacheDir!, { recursive: true });
      writeSafetensors(path, { vit_hidden: vitHidden, spatial_merged: spatialMerged });
    }
    return { vitHidden, spatialMerged, cached: false };
  }

  /**
   * Fills the cache for every example whose outputs are not there yet, `lanes` at a time, each lane with its own
   * one-thread sessions in a worker thread: the small graphs of a tiny model keep one core busy at most (frame
   * decoding and patchifying run between its runs), so filling inline — the first epoch of an SFT run — took
   * ~0.5 s per video on 2 cores where two lanes take ~0.17. Each lane holds its own copy of the encoders' sessions.
   */
  async fill(examples: readonly SftExample[], lanes: number, progress?: (done: number, of: number) => void) {
    const todo = new Map<string, SftExample>();
    for (const ex of examples) {
      const path = this.cachePath(ex);
      if (path && !todo.has(path) && !existsSync(path)) todo.set(path, ex);
    }
    const queue = [...todo.values()];
    if (queue.length === 0) return;
    const workers = Array.from({ length: Math.max(1, Math.min(lanes, queue.length)) }, () => {
      const w = new FrozenEncoders(this.checkpoint, { ...this.options, threads: 1, offMainThread: true });
      w.weightsKey = this.encoderDigest();
      return w;
    });
    let next = 0;
    let done = 0;
    try {
      await Promise.all(
        workers.map(async (w) => {
          while (next < queue.length) {
            await w.encode(queue[next++]);
            progress?.(++done, queue.length);
          }
        }),
      );
    } finally {
      for (const w of workers) await w.release();
    }
  }

  async release(): Promise<void> {
    await this.vit.release();
    await this.vggt.release();
  }
}
