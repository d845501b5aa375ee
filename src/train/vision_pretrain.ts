// Dense pretraining of the Qwen2.5-VL vision encoder on the synthetic world (issue 14, "the vision encoder may be
// pretrained first by any honest means"). Upstream SFT freezes the ViT (THU-SI/Spatial-MLLM `train_qwen.py`), so a
// small model whose ViT is random never learns to look: its ViT is trained first, here, then frozen by SFT.
//
// Objective, per 14-px patch of a temporal patch (2 frames, as the Conv3d patch embedding sees it), on the ViT's
// per-patch output tokens before the merger (`vit_hidden`, built by the model's own `buildVisionEncoder`):
//   category   the majority class of the patch's pixels in both frames' instance maps (instance id → its box's
//              category; id 0 = floor, walls, ceiling = `background`, a class of its own; ties → the lower class
//              index), linear head + cross-entropy;
//   log-depth  the mean of ln(depth) over the patch's valid pixels (depth > 0) in both frames, linear head + L1;
//              patches without a valid pixel do not count.
// Inputs are the decoded mp4 frames through the SFT processor path (`loadVideoSample`: frame indices, smart
// resize, patchify at the small model's pixel bounds), not the raw renders. The trainable part is the ViT (patch
// embedding + blocks) and the heads; the merger gets no gradient from this objective and is left as it was (SFT
// trains it). The heads are discarded: the trained ViT is written into a copy of the checkpoint, same key names.
//
// Several rooms form one batch by concatenating them along time: the ViT attends within a frame (full blocks) or
// within a window of a frame, so a grid [B·t, h, w] is exactly B independent videos of grid [t, h, w].
//
// The honest baseline is a linear probe: the same heads trained for the same steps on the frozen random ViT.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SPECS } from '../data/synth/catalog.ts';
import * as E from '../engine/index.ts';
import { InputError } from '../errors.ts';
import type { VisionConfig } from '../models/qwen2_5_vl/config.ts';
import { type ProcessorConfig, readProcessorConfig } from '../models/qwen2_5_vl/image_processor.ts';
import type { GridThw } from '../models/qwen2_5_vl/rope_index.ts';
import { buildVisionEncoder } from '../models/qwen2_5_vl/vision_encoder.ts';
import { openSpatialMllm } from '../models/spatial_mllm/checkpoint.ts';
import { f32, type HostTensor, i64 } from '../tensor.ts';
import { readSafetensors } from '../weights/safetensors.ts';
import { writeModelFolder } from './export.ts';
import { Rng } from './rng.ts';
import { type LogRecord, Progress, RunFolder } from './run_log.ts';
import { loadVideoSample, type VideoArgs } from './sft_example.ts';
import { microBatchRecord } from './sft_run.ts';
import { Trainer } from './trainer.ts';

export const BACKGROUND = 'background';

/** Class list of the category head: background, then the synth catalog's categories in catalog order. */
export function visionClasses(): string[] {
  return [BACKGROUND, ...new Set(Object.values(SPECS).map((s) => s.category))];
}

/** Per-patch targets, rows in the processor's patch order (t, h/merge, w/merge, merge, merge). */
export interface PatchLabels {
  /** Class index per patch. */
  category: Int32Array;
  /** Mean ln(depth) over the patch's valid pixels (0 where none). */
  logDepth: Float32Array;
  /** 1 where the patch has a valid depth pixel. */
  depthMask: Float32Array;
}

export interface LabelMaps {
  /** [T, H, W] instance ids of the rendered frames. */
  instance: Uint8Array;
  /** [T, H, W] depth in metres, 0 where nothing was hit. */
  depth: Float32Array;
  height: number;
  width: number;
}

export interface PatchGeometry {
  grid: GridThw;
  patchSize: number;
  mergeSize: number;
  temporalPatchSize: number;
  /** The rendered frames of each temporal slot (the processor's frames, a short last pair repeating the last). */
  frameIndices: readonly number[];
}

/**
 * The targets of every patch. The maps may have another size than the processed frames (resized by the
 * processor): each processed pixel reads the map pixel under its centre.
 */
export function patchLabels(
  maps: LabelMaps,
  geo: PatchGeometry,
  classOf: (id: number) => number,
): PatchLabels {
  const [T, gh, gw] = geo.grid;
  const { patchSize: p, mergeSize: m, temporalPatchSize: tp } = geo;
  const [H, W] = [gh * p, gw * p];
  const n = T * gh * gw;
  const category = new Int32Array(n);
  const logDepth = new Float32Array(n);
  const depthMask = new Float32Array(n);
  const srcY = Int32Array.from({ length: H }, (_, y) => Math.floor(((y + 0.5) * maps.height) / H));
  const srcX = Int32Array.from({ length: W }, (_, x) => Math.floor(((x + 0.5) * maps.width) / W));
  const counts = new Map<number, number>();
  let r = 0;
  for (let t = 0; t < T; t++)
    for (let bh = 0; bh < gh / m; bh++)
      for (let bw = 0; bw < gw / m; bw++)
        for (let mh = 0; mh < m; mh++)
          for (let mw = 0; mw < m; mw++, r++) {
            counts.clear();
            let sum = 0;
            let valid = 0;
            for (let dt = 0; dt < tp; dt++) {
              const frame = geo.frameIndices[Math.min(t * tp + dt, geo.frameIndices.length - 1)];
              const base = frame * maps.height * maps.width;
              for (let py = 0; py < p; py++)
                for (let px = 0; px < p; px++) {
                  const i = base + srcY[(bh * m + mh) * p + py] * maps.width + srcX[(bw * m + mw) * p + px];
                  const c = classOf(maps.instance[i]);
                  counts.set(c, (counts.get(c) ?? 0) + 1);
                  if (maps.depth[i] > 0) {
                    sum += Math.log(maps.depth[i]);
                    valid++;
                  }
                }
            }
            let best = -1;
            let bestCount = 0;
            for (const [c, k] of counts)
              if (k > bestCount || (k === bestCount && c < best)) [best, bestCount] = [c, k];
            category[r] = best;
            if (valid) {
              logDepth[r] = sum / valid;
              depthMask[r] = 1;
            }
          }
  return { category, logDepth, depthMask };
}

/** Instance id → class index from a scene file's `object_bbox` (category → boxes with `instance_id`). */
export function instanceClasses(scenePath: string, classes: readonly string[]): (id: number) => number {
  const meta = JSON.parse(readFileSync(scenePath, 'utf8')) as {
    object_bbox?: Record<string, { instance_id?: number }[]>;
  };
  const byId = new Map<number, number>([[0, 0]]);
  for (const [category, boxes] of Object.entries(meta.object_bbox ?? {})) {
    const c = classes.indexOf(category);
    if (c < 0)
      throw new InputError(
        `${scenePath}: category '${category}' is not in the synth catalog; regenerate the rooms`,
      );
    for (const b of boxes) if (typeof b.instance_id === 'number') byId.set(b.instance_id, c);
  }
  return (id) => {
    const c = byId.get(id);
    if (c === undefined)
      throw new InputError(`${scenePath}: instance ${id} of the masks has no box; regenerate the rooms`);
    return c;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The graph

export const HEADS = {
  category: 'vision_pretrain.category',
  depth: 'vision_pretrain.depth',
} as const;

/**
 * The ViT up to `vit_hidden` + the two heads and the loss (category CE + log-depth L1). Inputs: pixel_values,
 * patch_class [n] int64, patch_log_depth [n], patch_depth_mask [n]. Outputs: loss, category_loss, depth_loss,
 * category_logits [n, K], log_depth [n].
 */
export function buildVisionPretrainGraph(vision: VisionConfig, grid: GridThw, classes: number): E.Graph {
  const g = buildVisionEncoder(vision, grid, { beforeMerger: true });
  const hidden = g.outputs.find((o) => o.name === 'vit_hidden')!.tensor;
  const n = grid[0] * grid[1] * grid[2];
  const C = vision.hiddenSize;
  const head = (name: string, out: number) =>
    E.linear(
      hidden,
      g.param(`${name}.weight`, 'float32', [out, C]),
      g.param(`${name}.bias`, 'float32', [out]),
    );
  const logits = head(HEADS.category, classes);
  const logDepth = E.reshape(head(HEADS.depth, 1), [n]);
  const target = g.input('patch_class', 'int64', [n]);
  const gtDepth = g.input('patch_log_depth', 'float32', [n]);
  const mask = g.input('patch_depth_mask', 'float32', [n]);
  const logp = E.squeeze(E.gatherElements(E.logSoftmax(logits, -1), E.unsqueeze(target, [-1]), -1), [-1]);
  const categoryLoss = E.neg(E.mean(logp, [0]));
  const depthLoss = E.div(
    E.sum(E.mul(E.abs(E.sub(logDepth, gtDepth)), mask), [0]),
    E.maximum(E.sum(mask, [0]), 1),
  );
  g.output('loss', E.add(categoryLoss, depthLoss));
  g.output('category_loss', categoryLoss);
  g.output('depth_loss', depthLoss);
  g.output('category_logits', logits);
  g.output('log_depth', logDepth);
  return g;
}

/** The ViT's trainable tensors: patch embedding and blocks (the merger gets no gradient from this loss). */
export const isVitBody = (name: string): boolean =>
  name.startsWith('visual.patch_embed.') || name.startsWith('visual.blocks.');
export const isHead = (name: string): boolean => name.startsWith('vision_pretrain.');

/** Fresh heads: weights N(0, 1/C), category bias 0, depth bias = `depthBias` (the training rooms' mean). */
export function initHeads(
  C: number,
  classes: number,
  depthBias: number,
  seed: number,
): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const normal = (k: number) => Float32Array.from({ length: k }, () => rng.normal() / Math.sqrt(C));
  return new Map([
    [`${HEADS.category}.weight`, f32([classes, C], normal(classes * C))],
    [`${HEADS.category}.bias`, f32([classes])],
    [`${HEADS.depth}.weight`, f32([1, C], normal(C))],
    [`${HEADS.depth}.bias`, f32([1], [depthBias])],
  ]);
}

// ---------------------------------------------------------------------------------------------------------------
// Data

/** One room as a training sample: the processed frames and their patch targets. */
export interface VisionRoom {
  name: string;
  grid: GridThw;
  pixelValues: HostTensor<'float32'>;
  labels: PatchLabels;
}

/** Loads `<name>.mp4` with its `<name>.safetensors` maps and `<name>.json` boxes through the SFT processor path. */
export async function loadVisionRoom(
  video: string,
  processor: ProcessorConfig,
  args: VideoArgs,
  classes: readonly string[],
): Promise<VisionRoom> {
  const stem = video.replace(/\.mp4$/, '');
  const sample = await loadVideoSample(video, processor, args, video);
  const maps = readSafetensors(`${stem}.safetensors`);
  const instance = maps.get('instance');
  const depth = maps.get('depth');
  if (!instance || !depth)
    throw new InputError(
      `${stem}.safetensors has no instance or depth maps; regenerate it with \`data synth\``,
    );
  const [, H, W] = instance.shape;
  const labels = patchLabels(
    { instance: instance.data as Uint8Array, depth: depth.data as Float32Array, height: H, width: W },
    {
      grid: sample.grid,
      patchSize: processor.patchSize,
      mergeSize: processor.mergeSize,
      temporalPatchSize: processor.temporalPatchSize,
      frameIndices: sample.frameIndices,
    },
    instanceClasses(`${stem}.json`, classes),
  );
  const { pixelValues } = await sample.media();
  return { name: stem.replace(/^.*\//, ''), grid: sample.grid, pixelValues, labels };
}

function concat<A extends Float32Array | Int32Array>(parts: readonly A[], make: (n: number) => A): A {
  const out = make(parts.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of parts) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

export function concatLabels(parts: readonly PatchLabels[]): PatchLabels {
  return {
    category: concat(
      parts.map((p) => p.category),
      (k) => new Int32Array(k),
    ),
    logDepth: concat(
      parts.map((p) => p.logDepth),
      (k) => new Float32Array(k),
    ),
    depthMask: concat(
      parts.map((p) => p.depthMask),
      (k) => new Float32Array(k),
    ),
  };
}

/** The graph feeds of rooms concatenated along time. */
export function batchFeeds(rooms: readonly VisionRoom[]): Record<string, HostTensor> {
  const cols = rooms[0].pixelValues.shape[1];
  const pixels = concat(
    rooms.map((r) => r.pixelValues.data),
    (k) => new Float32Array(k),
  );
  const l = concatLabels(rooms.map((r) => r.labels));
  const n = l.category.length;
  return {
    pixel_values: f32([pixels.length / cols, cols], pixels),
    patch_class: i64([n], l.category),
    patch_log_depth: f32([n], l.logDepth),
    patch_depth_mask: f32([n], l.depthMask),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics

export interface PatchMetrics {
  /** Share of patches whose predicted class is right. */
  accuracy: number;
  /** Mean over classes with a non-empty union of |pred ∩ gt| / |pred ∪ gt| (patches). */
  miou: number;
  /** Mean over patches with depth of |d̂ − d| / d, d = exp(mean ln depth), d̂ = exp(head). */
  absRel: number;
  patches: number;
}

export function patchMetrics(
  predClass: ArrayLike<number>,
  labels: PatchLabels,
  predLogDepth: ArrayLike<number>,
  classes: number,
): PatchMetrics {
  const inter = new Float64Array(classes);
  const union = new Float64Array(classes);
  let right = 0;
  let rel = 0;
  let valid = 0;
  const n = labels.category.length;
  for (let i = 0; i < n; i++) {
    const [p, t] = [predClass[i], labels.category[i]];
    if (p === t) {
      right++;
      inter[t]++;
      union[t]++;
    } else {
      union[p]++;
      union[t]++;
    }
    if (labels.depthMask[i]) {
      const d = Math.exp(labels.logDepth[i]);
      rel += Math.abs(Math.exp(predLogDepth[i]) - d) / d;
      valid++;
    }
  }
  let iou = 0;
  let present = 0;
  for (let c = 0; c < classes; c++)
    if (union[c] > 0) {
      iou += inter[c] / union[c];
      present++;
    }
  return {
    accuracy: right / n,
    miou: iou / Math.max(1, present),
    absRel: rel / Math.max(1, valid),
    patches: n,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// A run: the pretraining (ViT + heads) or the linear probe (heads on the frozen ViT), resumable in its folder

export interface VisionHyper {
  lr: number;
  weightDecay: number;
  warmupRatio: number;
  maxGradNorm: number;
}

export const VISION_HYPER: VisionHyper = { lr: 1e-3, weightDecay: 0.01, warmupRatio: 0.03, maxGradNorm: 1 };

export interface VisionRunOptions {
  /** The checkpoint whose ViT starts the run. */
  model: string;
  out: string;
  /** 'pretrain' trains the ViT and the heads; 'probe' only the heads. */
  mode: 'pretrain' | 'probe';
  steps: number;
  /** Rooms per step (concatenated along time). */
  batch: number;
  seed: number;
  saveEvery: number;
  threads: number;
  hyper?: VisionHyper;
  log?: (s: string) => void;
}

export interface VisionRun {
  trainer: Trainer;
  resumedFrom: number;
  lastLoss?: number;
}

/** Trains on `rooms` (every one the same grid); returns the trainer at its last step (release it after use). */
export async function runVisionTraining(
  o: VisionRunOptions,
  rooms: readonly VisionRoom[],
): Promise<VisionRun> {
  const log = o.log ?? ((s: string) => process.stderr.write(s));
  const h = o.hyper ?? VISION_HYPER;
  const ckpt = openSpatialMllm(o.model);
  const classes = visionClasses();
  const vision = ckpt.config.qwen.vision;
  const [t, gh, gw] = rooms[0].grid;
  if (rooms.some((r) => r.grid.join() !== rooms[0].grid.join()))
    throw new InputError(
      'vision pretraining: every room must give the same patch grid (same frame size and count)',
    );
  const graph = buildVisionPretrainGraph(vision, [t * o.batch, gh, gw], classes.length);
  const weights = new Map<string, HostTensor>();
  let depthSum = 0;
  let depthCount = 0;
  for (const r of rooms)
    r.labels.depthMask.forEach((m, i) => {
      if (m) {
        depthSum += r.labels.logDepth[i];
        depthCount++;
      }
    });
  for (const [k, v] of initHeads(
    vision.hiddenSize,
    classes.length,
    depthSum / Math.max(1, depthCount),
    o.seed,
  ))
    weights.set(k, v);
  for (const name of graph.params.keys()) if (!weights.has(name)) weights.set(name, ckpt.weights.read(name));
  ckpt.checkpoint.close();
  const trainer = Trainer.create(graph, weights, {
    trainable: o.mode === 'pretrain' ? (n) => isVitBody(n) || isHead(n) : isHead,
    optimizer: { kind: 'adamw', betas: [0.9, 0.98], eps: 1e-8 },
    lr: h.lr,
    weightDecay: h.weightDecay,
    schedule: { kind: 'cosine', warmupSteps: Math.ceil(o.steps * h.warmupRatio), totalSteps: o.steps },
    maxGradNorm: h.maxGradNorm,
    session: { threads: o.threads },
    outputs: ['category_loss', 'depth_loss', 'category_logits', 'log_depth'],
  });
  const settings = {
    model: o.model,
    mode: o.mode,
    steps: o.steps,
    batch: o.batch,
    seed: o.seed,
    hyper: h,
    rooms: rooms.map((r) => r.name),
  };
  const run = new RunFolder(o.out, settings, trainer, ['loss', 'category_loss', 'depth_loss', 'grad_norm']);
  if (run.resumedFrom > 0) log(`resuming ${o.out} at step ${run.resumedFrom}/${o.steps}\n`);
  const progress = new Progress(o.steps, run.resumedFrom, log, o.log ? false : undefined);
  let lastLoss: number | undefined;
  for (let step = run.resumedFrom; step < o.steps; step++) {
    const started = Date.now();
    const batch = Array.from(
      { length: o.batch },
      (_, j) => rooms[microBatchRecord(step * o.batch + j, rooms.length, o.seed)],
    );
    const r = await trainer.step([batchFeeds(batch)]);
    const out = r.outputs[0];
    lastLoss = r.losses[0];
    const entry: LogRecord = {
      step: r.step,
      loss: lastLoss,
      category_loss: Number(out.category_loss.data[0]),
      depth_loss: Number(out.depth_loss.data[0]),
      grad_norm: r.gradNorm,
      lr: r.lr.default,
      seconds: (Date.now() - started) / 1000,
      rooms: batch.map((b) => b.name),
    };
    run.record(entry, o.saveEvery, o.steps);
    progress.update(r.step, {
      loss: lastLoss.toFixed(4),
      ce: (entry.category_loss as number).toFixed(3),
      depth: (entry.depth_loss as number).toFixed(3),
    });
  }
  progress.end();
  run.drawCurves();
  return { trainer, resumedFrom: run.resumedFrom, lastLoss };
}

/** Metrics of a trained run on held-out rooms (batched as in training; a short last batch repeats rooms, unscored). */
export async function evaluateVision(
  trainer: Trainer,
  rooms: readonly VisionRoom[],
  batch: number,
): Promise<PatchMetrics> {
  const classes = visionClasses().length;
  const pred: number[] = [];
  const depth: number[] = [];
  for (let i = 0; i < rooms.length; i += batch) {
    const chunk = Array.from({ length: batch }, (_, j) => rooms[(i + j) % rooms.length]);
    const out = await trainer.evaluate(batchFeeds(chunk));
    const logits = out.category_logits.data as Float32Array;
    const real = chunk
      .slice(0, Math.min(batch, rooms.length - i))
      .reduce((n, r) => n + r.labels.category.length, 0);
    for (let p = 0; p < real; p++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[p * classes + c] > logits[p * classes + best]) best = c;
      pred.push(best);
      depth.push((out.log_depth.data as Float32Array)[p]);
    }
  }
  const labels = concatLabels(rooms.map((r) => r.labels));
  return patchMetrics(pred, labels, depth, classes);
}

// ---------------------------------------------------------------------------------------------------------------
// The recipe stage: probe, pretraining, held-out figures, the checkpoint with the trained ViT

/** The run options (model = the "before" ViT, out = the stage folder: probe/, pretrain/, model/) and the rooms. */
export interface VisionStageOptions extends Omit<VisionRunOptions, 'mode'> {
  trainVideos: readonly string[];
  evalVideos: readonly string[];
  video: VideoArgs;
}

export interface VisionFigures {
  classes: string[];
  trainRooms: number;
  evalRooms: number;
  steps: number;
  /** Held-out figures of the linear probe on the starting ViT and of the pretrained ViT with its heads. */
  probe: PatchMetrics;
  pretrained: PatchMetrics;
  /** Accuracy of always answering the training rooms' most frequent class. */
  majorityAccuracy: number;
  table: string;
  model: string;
}

export const visionPaths = (out: string) => ({
  probe: join(out, 'probe'),
  pretrain: join(out, 'pretrain'),
  model: join(out, 'model'),
});

const DECODES_IN_FLIGHT = 3;

async function loadRooms(
  videos: readonly string[],
  o: VisionStageOptions,
  classes: string[],
): Promise<VisionRoom[]> {
  const processor = readProcessorConfig(o.model);
  // A few rooms in flight: each decode is mostly an ffmpeg child process, so one at a time left a core idle.
  const rooms: VisionRoom[] = new Array(videos.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < videos.length; i = next++)
      rooms[i] = await loadVisionRoom(videos[i], processor, o.video, classes);
  };
  await Promise.all(Array.from({ length: DECODES_IN_FLIGHT }, worker));
  return rooms;
}

export async function runVisionStage(o: VisionStageOptions): Promise<VisionFigures> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const names = (vs: readonly string[]) => new Set(vs.map((v) => v.replace(/^.*\//, '')));
  const evalNames = names(o.evalVideos);
  const leaked = [...names(o.trainVideos)].filter((n) => evalNames.has(n));
  if (leaked.length)
    throw new Error(`vision pretraining: evaluation rooms among the training rooms: ${leaked.join(', ')}`);
  const classes = visionClasses();
  log(`[vision] decoding ${o.trainVideos.length} training and ${o.evalVideos.length} evaluation rooms`);
  const train = await loadRooms(o.trainVideos, o, classes);
  const held = await loadRooms(o.evalVideos, o, classes);
  const p = visionPaths(o.out);
  const run = async (mode: 'probe' | 'pretrain') => {
    const r = await runVisionTraining(
      { ...o, mode, out: mode === 'probe' ? p.probe : p.pretrain, log: (s) => log(s.trimEnd()) },
      train,
    );
    try {
      return { metrics: await evaluateVision(r.trainer, held, o.batch), params: r.trainer.parameters() };
    } finally {
      await r.trainer.release();
    }
  };
  const probe = (await run('probe')).metrics;
  const pretrained = await run('pretrain');
  const ckpt = openSpatialMllm(o.model);
  try {
    writeModelFolder(ckpt, p.model, new Map([...pretrained.params].filter(([n]) => isVitBody(n))));
  } finally {
    ckpt.checkpoint.close();
  }
  const counts = new Float64Array(classes.length);
  for (const r of train) for (const c of r.labels.category) counts[c]++;
  const majority = counts.indexOf(Math.max(...counts));
  const heldLabels = concatLabels(held.map((r) => r.labels));
  const majorityAccuracy =
    heldLabels.category.reduce((n, c) => n + (c === majority ? 1 : 0), 0) / heldLabels.category.length;
  const table = visionTable(probe, pretrained.metrics, majorityAccuracy);
  log(table);
  return {
    classes,
    trainRooms: train.length,
    evalRooms: held.length,
    steps: o.steps,
    probe,
    pretrained: pretrained.metrics,
    majorityAccuracy,
    table,
    model: p.model,
  };
}

export function visionTable(probe: PatchMetrics, pretrained: PatchMetrics, majority: number): string {
  const pct = (x: number) => (100 * x).toFixed(1);
  const rows = [
    ['ViT', 'category accuracy %', 'mean IoU %', 'depth AbsRel'],
    ['---', '---', '---', '---'],
    ['always the most frequent class', pct(majority), '–', '–'],
    ['random (linear probe)', pct(probe.accuracy), pct(probe.miou), probe.absRel.toFixed(3)],
    ['pretrained', pct(pretrained.accuracy), pct(pretrained.miou), pretrained.absRel.toFixed(3)],
  ];
  return `${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`;
}
