// The geometry stage (issue 14, 2a): VGGT of a checkpoint trained on rendered rooms with VGGT's own losses, as a
// resumable run in an output folder (the layout of `train sft`, src/train/sft_run.ts):
//   settings.json, state.safetensors, train.jsonl, train.svg   as every run (src/train/run_log.ts);
//   model/   a copy of the checkpoint with the trained VGGT tensors (same key names), which `ask`, `train sft`
//            and space-aware sampling load unchanged.
// The training graph is the model code of src/models/vggt (aggregator, camera head, depth and point DPT heads)
// followed by src/train/vggt_losses.ts; every VGGT tensor trains (the small model's VGGT starts from random).
// One step = one sequence of `frames` frames of one training room (batch 1), as VGGT trains on one scene's
// frames per sample; room and frames come from the seed and the step, so a resumed run sees the same data.
import { join, resolve } from 'node:path';
import * as E from '../engine/index.ts';
import { InputError } from '../errors.ts';
import { aggregator, BATCH, FRAMES } from '../models/vggt/aggregator.ts';
import { cameraHead } from '../models/vggt/camera_head.ts';
import type { VggtConfig } from '../models/vggt/config.ts';
import { dptHead } from '../models/vggt/dpt_head.ts';
import { openVggt } from '../models/vggt/load.ts';
import type { ImageSize } from '../models/vggt/model.ts';
import type { HostTensor } from '../tensor.ts';
import { writeCheckpointCopy } from './export.ts';
import {
  type GeometrySample,
  geometrySample,
  listRenderedScenes,
  type RenderedScene,
  sceneFrames,
} from './geometry_data.ts';
import { Rng } from './rng.ts';
import { type LogRecord, Progress, RunFolder } from './run_log.ts';
import { microBatchRecord } from './sft_run.ts';
import { Trainer } from './trainer.ts';
import { VGGT_LOSS_DEFAULTS, type VggtLossOptions, vggtLoss } from './vggt_losses.ts';

/** Loss components logged per step (besides the total). */
export const LOSS_PARTS = [
  'loss_camera',
  'loss_T',
  'loss_R',
  'loss_FL',
  'loss_conf_depth',
  'loss_reg_depth',
  'loss_grad_depth',
  'loss_conf_point',
  'loss_reg_point',
  'loss_grad_point',
] as const;

/**
 * images [B, S, 3, H, W] and the normalised targets → `loss` (VGGT's MultitaskLoss) and its parts. Every VGGT
 * parameter of the graph keeps its VGGT-1B state-dict name (`aggregator.…`, `camera_head.…`, `depth_head.…`).
 */
export function buildGeometryGraph(
  c: VggtConfig,
  size: ImageSize,
  o: VggtLossOptions = VGGT_LOSS_DEFAULTS,
): E.Graph {
  if (!(c.heads.camera && c.heads.depth && c.heads.point))
    throw new InputError('geometry training needs VGGT with camera, depth and point heads in the checkpoint');
  const g = new E.Graph(`vggt_geometry_${size.join('x')}`);
  const [H, W] = size;
  const images = g.input('images', 'float32', [BATCH, FRAMES, 3, H, W]);
  const last = c.aggregator.depth - 1;
  const { layers } = aggregator(g, images, c, [...new Set([...c.dpt.layers, last])]);
  // Camera tokens: token 0 of the last layer (model.ts `tokenAt`).
  const cameraTokens = E.squeeze(E.slice(layers.get(last)!, [2], [0], [1]), [2]);
  const dptLayers = c.dpt.layers.map((l) => layers.get(l)!);
  const depth = dptHead(g, 'depth', dptLayers, c, size);
  const point = dptHead(g, 'point', dptLayers, c, size);
  const { loss, parts } = vggtLoss(
    {
      poseEncList: cameraHead(g, cameraTokens, c),
      depth: depth.value,
      depthConf: depth.conf,
      worldPoints: point.value,
      worldPointsConf: point.conf,
    },
    {
      pose: g.input('gt_pose', 'float32', [BATCH, FRAMES, 9]),
      depth: g.input('gt_depth', 'float32', [BATCH, FRAMES, H, W, 1]),
      points: g.input('gt_points', 'float32', [BATCH, FRAMES, H, W, 3]),
      mask: g.input('gt_mask', 'float32', [BATCH, FRAMES, H, W]),
    },
    o,
  );
  g.output('loss', loss);
  for (const [name, t] of Object.entries(parts)) g.output(name, t);
  return g;
}

/** The feeds of one sample. */
export const geometryFeeds = (s: GeometrySample): Record<string, HostTensor> => ({
  images: s.images,
  gt_pose: s.pose,
  gt_depth: s.depth,
  gt_points: s.points,
  gt_mask: s.mask,
});

export interface GeometryHyper {
  lr: number;
  weightDecay: number;
  warmupRatio: number;
  maxGradNorm: number;
}

/** Upstream's fine-tuning uses lr 5e-5 on VGGT-1B; from random init the tiny VGGT needs a larger rate. */
export const GEOMETRY_HYPER: GeometryHyper = {
  lr: 1e-3,
  weightDecay: 0.05,
  warmupRatio: 0.05,
  maxGradNorm: 1,
};

export interface GeometryRunOptions {
  /** Spatial-MLLM (or VGGT) checkpoint folder whose VGGT trains. */
  model: string;
  /** `data synth` folder of the training rooms. */
  data: string;
  out: string;
  steps: number;
  /** Frames per sequence (one sequence per step). */
  frames: number;
  seed: number;
  saveEvery: number;
  threads?: number;
  hyper?: GeometryHyper;
  /** Which VGGT tensors train (default all; upstream's fine-tuning configs freeze `aggregator.*`). */
  trainable?: (name: string) => boolean;
  log?: (s: string) => void;
}

export interface GeometryRunSummary {
  steps: number;
  resumedFrom: number;
  firstLoss?: number;
  lastLoss?: number;
  model: string;
}

/** Room and sorted frame indices of step `step`: rooms in seeded epochs, frames drawn without replacement. */
export function stepSequence(
  step: number,
  rooms: number,
  framesPerRoom: number,
  frames: number,
  seed: number,
): { room: number; indices: number[] } {
  const room = microBatchRecord(step, rooms, seed);
  const rng = new Rng((Math.imul(seed + 1, 0x85ebca6b) + step) >>> 0);
  const pool = Array.from({ length: framesPerRoom }, (_, i) => i);
  for (let k = pool.length - 1; k > 0; k--) {
    const j = rng.int(k + 1);
    [pool[k], pool[j]] = [pool[j], pool[k]];
  }
  return { room, indices: pool.slice(0, Math.min(frames, framesPerRoom)).sort((a, b) => a - b) };
}

/** Mean of the last `n` logged losses (the curve is noisy: one room per step). */
const tailMean = (records: readonly LogRecord[], n: number) => {
  const xs = records.slice(-n).map((r) => r.loss as number);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
};

export async function runGeometry(o: GeometryRunOptions): Promise<GeometryRunSummary> {
  const log = o.log ?? ((s: string) => process.stderr.write(s));
  const scenes: RenderedScene[] = listRenderedScenes(o.data);
  if (scenes.length === 0)
    throw new InputError(
      `${o.data} holds no rendered scenes (<scene>.mp4 + .safetensors + .json); run data synth`,
    );
  if (!(Number.isInteger(o.frames) && o.frames >= 2))
    throw new InputError(`--frames must be an integer ≥ 2 (VGGT learns from several views), got ${o.frames}`);
  const framesPerRoom = sceneFrames(scenes[0]);
  const hyper = o.hyper ?? GEOMETRY_HYPER;
  const { config, weights, checkpoint } = openVggt(o.model);
  try {
    const first = await geometrySample(scenes[0], [0, 1]);
    const size: ImageSize = [first.images.shape[3], first.images.shape[4]];
    const graph = buildGeometryGraph(config, size);
    const init = new Map([...graph.params.keys()].map((n) => [n, weights.read(n)]));
    const trainer = Trainer.create(graph, init, {
      trainable: o.trainable ?? (() => true),
      outputs: [...LOSS_PARTS],
      optimizer: { kind: 'adamw', betas: [0.9, 0.999], eps: 1e-8 },
      lr: hyper.lr,
      weightDecay: hyper.weightDecay,
      schedule: { kind: 'cosine', warmupSteps: Math.ceil(o.steps * hyper.warmupRatio), totalSteps: o.steps },
      maxGradNorm: hyper.maxGradNorm,
      session: { threads: o.threads, spinning: false },
    });
    try {
      const settings = {
        model: resolve(o.model),
        data: resolve(o.data),
        rooms: scenes.length,
        steps: o.steps,
        frames: o.frames,
        seed: o.seed,
        size,
        hyper,
        losses: VGGT_LOSS_DEFAULTS,
        ...(o.trainable ? { trainable: trainer.trainable } : {}),
      };
      const run = new RunFolder(o.out, settings, trainer, ['loss', ...LOSS_PARTS, 'grad_norm', 'lr.default']);
      const resumedFrom = run.resumedFrom;
      if (resumedFrom > 0) log(`resuming ${o.out} at step ${resumedFrom}/${o.steps}\n`);
      const progress = new Progress(o.steps, resumedFrom, log, o.log ? false : undefined);
      for (let step = resumedFrom; step < o.steps; step++) {
        const started = Date.now();
        const seq = stepSequence(step, scenes.length, framesPerRoom, o.frames, o.seed);
        const sample = await geometrySample(scenes[seq.room], seq.indices);
        const r = await trainer.step([geometryFeeds(sample)]);
        const parts = Object.fromEntries(LOSS_PARTS.map((k) => [k, Number(r.outputs[0][k].data[0])]));
        const entry: LogRecord = {
          step: r.step,
          loss: r.losses[0],
          ...parts,
          grad_norm: r.gradNorm,
          lr: r.lr,
          scene: scenes[seq.room].name,
          frames: seq.indices,
          seconds: (Date.now() - started) / 1000,
        };
        run.record(entry, o.saveEvery, o.steps);
        progress.update(r.step, {
          loss: r.losses[0].toFixed(4),
          cam: parts.loss_camera.toFixed(3),
          depth: parts.loss_reg_depth.toFixed(3),
        });
      }
      progress.end();
      run.drawCurves();
      const trained = trainer.parameters();
      const replaced = new Map([...trained].map(([n, t]) => [weights.prefix + n, t]));
      const modelDir = join(o.out, 'model');
      writeCheckpointCopy(o.model, checkpoint, modelDir, replaced);
      const n = Math.max(1, Math.min(20, Math.floor(run.history.length / 5)));
      return {
        steps: trainer.stepsDone,
        resumedFrom,
        firstLoss: run.history.length ? tailMean(run.history.slice(0, n), n) : undefined,
        lastLoss: tailMean(run.history, n),
        model: modelDir,
      };
    } finally {
      await trainer.release();
    }
  } finally {
    checkpoint.close();
  }
}
