// Spatial-MLLM end to end (THU-SI/Spatial-MLLM `src/inference.py`): a video and a question in, an answer out.
// Frame sampling → decode → processor → model (both encoders, fusion, generation) → text. Each stage is timed and
// reported through `onStage`; artifacts (frames, point cloud, cameras) are the app's business.

import { statSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { greyLike, type RgbImage } from '../media/image.ts';
import { openVideo, readFrames, type VideoFrame } from '../media/video.ts';
import type { TokenSampling } from '../models/generate.ts';
import type { GridThw } from '../models/qwen2_5_vl/rope_index.ts';
import type { SpatialMllm } from '../models/spatial_mllm/model.ts';
import type { HostTensor } from '../tensor.ts';
import {
  type Coverage,
  defaultGeometryMode,
  type FrameSampling,
  type GeometryMode,
  sampleFrames,
} from './frame_sampling.ts';
import { StageClock, type StageEvent, type StageTimings } from './stages.ts';

export type { Stage, StageEvent } from './stages.ts';

/** VSI-Bench answer instructions Spatial-MLLM appends (src/evaluation/vsibench). */
export const PROMPT_SUFFIXES = {
  multipleChoice: "Answer with the option's letter from the given choices directly.",
  numeric: 'Please answer the question using a single word or phrase.',
};

export interface AskOptions extends TokenSampling {
  /** Frames given to the model (default 16) and how they are chosen (default uniform); see frame_sampling.ts. */
  frames?: number;
  sampling?: FrameSampling;
  /** How space-aware sampling reconstructs its candidates (default by the model's device: exact on a GPU, cpu on
   * the CPU, where the exact plan takes hours; see GEOMETRY_PLANS). */
  geometryMode?: GeometryMode;
  /** Where space-aware sampling caches per-video geometry. */
  cacheDir?: string;
  maxNewTokens?: number;
  /** Replace the chosen frames by constant grey images of the same size (the blind control). */
  blind?: boolean;
  /** Appended to the question on its own line (see PROMPT_SUFFIXES); default none. */
  promptSuffix?: string;
  onStage?: (e: StageEvent) => void;
  /** Streams the answer's text as it is generated. */
  onToken?: (text: string) => void;
  signal?: AbortSignal;
}

export interface AskResult {
  answer: string;
  frames: { index: number; timestamp: number }[];
  sampling: FrameSampling;
  coverage?: Coverage;
  grid: GridThw;
  promptTokens: number;
  newTokens: number;
  /** The generated token ids (a stop token included). */
  tokenIds: number[];
  timings: StageTimings;
  /** The resized frames the model saw (an odd count is padded with the last frame). */
  images: RgbImage[];
}

export async function ask(
  model: SpatialMllm,
  videoPath: string,
  question: string,
  o: AskOptions = {},
): Promise<AskResult> {
  const clock = new StageClock(o.onStage);
  const video = await openVideo(videoPath);
  const choice = await clock.run(
    'sampling',
    () =>
      sampleFrames(video, {
        ...o,
        geometryMode: o.geometryMode ?? defaultGeometryMode(model.options.device),
        geometry: () => model.geometry(),
        modelKey: model.dir,
      }),
    (r) => `${r.indices.length} frames (${r.sampling})`,
  );
  const frames = await clock.run(
    'decode',
    () => readFrames(video, choice.indices),
    (r) => `${r.length} frames decoded`,
  );
  const { size, mtimeMs } = statSync(videoPath);
  const memoKey = JSON.stringify([videoPath, size, mtimeMs, choice.indices, o.blind === true]);
  return answer(model, frames, question, o, clock, choice, memoKey);
}

/**
 * The visual embeddings of the last videos asked about, per loaded model (its weights never change): an eval, a
 * web session or a chat asks many questions about one video, and for the small model the encoders are half of
 * each answer. Keyed by the video file's identity, the chosen frames and blindness; bounded in bytes.
 */
const visionMemo = new WeakMap<SpatialMllm, Map<string, HostTensor | undefined>>();
const VISION_MEMO_BYTES = 256 * 2 ** 20;

async function memoisedVision(
  model: SpatialMllm,
  key: string | undefined,
  compute: () => Promise<HostTensor | undefined>,
): Promise<HostTensor | undefined> {
  if (key === undefined) return compute();
  const memo = visionMemo.get(model) ?? new Map<string, HostTensor | undefined>();
  visionMemo.set(model, memo);
  if (memo.has(key)) {
    const hit = memo.get(key);
    memo.delete(key); // re-inserted as the newest
    memo.set(key, hit);
    return hit;
  }
  const value = await compute();
  memo.set(key, value);
  let bytes = 0;
  for (const v of memo.values()) bytes += v?.data.byteLength ?? 0;
  for (const [k, v] of memo) {
    if (bytes <= VISION_MEMO_BYTES || k === key) break;
    memo.delete(k); // oldest first
    bytes -= v?.data.byteLength ?? 0;
  }
  return value;
}

/** `ask` on frames already decoded (in time order), every one given to the model: the entry point where no video
 * decoder runs (a browser tab decodes with its own). */
export function askFrames(
  model: SpatialMllm,
  frames: VideoFrame[],
  question: string,
  o: AskOptions = {},
): Promise<AskResult> {
  if (frames.length === 0) throw new InputError('no frames to answer about');
  return answer(model, frames, question, o, new StageClock(o.onStage), { sampling: 'uniform' });
}

async function answer(
  model: SpatialMllm,
  frames: VideoFrame[],
  question: string,
  o: AskOptions,
  clock: StageClock,
  choice: { sampling: FrameSampling; coverage?: Coverage },
  memoKey?: string,
): Promise<AskResult> {
  const text = o.promptSuffix ? `${question}\n${o.promptSuffix}` : question;
  const { inputs, visualEmbeds } = await clock.run(
    'encoders',
    async () => {
      const inputs = model.processor.process(
        [{ role: 'user', content: [{ type: 'video' }, { type: 'text', text }] }],
        { videos: [{ frames: frames.map((f) => (o.blind ? greyLike(f.image) : f.image)) }] },
        { addGenerationPrompt: true },
      );
      return { inputs, visualEmbeds: await memoisedVision(model, memoKey, () => model.embedVision(inputs)) };
    },
    (r) => `grid ${r.inputs.videos[0].grid.join('×')}, ${r.visualEmbeds?.shape[0]} visual tokens`,
  );
  clock.start('prefill');
  const gen = await model.generate(inputs, {
    ...o,
    visualEmbeds,
    onToken: (t) => {
      if (t.index === 0) {
        clock.end('prefill', `${inputs.inputIds.length} prompt tokens`);
        clock.start('generate');
      }
      if (t.text) o.onToken?.(t.text);
    },
  });
  clock.timings.tokensPerSecond = gen.tokensPerSecond;
  clock.end(
    'generate',
    `${gen.tokens.length} tokens, ${gen.tokensPerSecond.toFixed(1)} tokens/s`,
    gen.decodeSeconds,
  );
  return {
    answer: gen.text,
    frames: frames.map((f) => ({ index: f.index, timestamp: f.timestamp })),
    sampling: choice.sampling,
    coverage: choice.coverage,
    grid: inputs.videos[0].grid,
    promptTokens: gen.promptTokens,
    newTokens: gen.tokens.length,
    tokenIds: gen.tokens,
    timings: clock.finish(),
    images: inputs.videos[0].frames,
  };
}
