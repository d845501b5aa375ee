// Spatial-MLLM end to end (THU-SI/Spatial-MLLM `src/inference.py`): a video and a question in, an answer out.
// Frame sampling → decode → processor → model (both encoders, fusion, generation) → text. Each stage is timed and
// reported through `onStage`; artifacts (frames, point cloud, cameras) are the app's business.
import type { RgbImage } from '../media/image.ts';
import { openVideo, readFrames } from '../media/video.ts';
import type { TokenSampling } from '../models/generate.ts';
import type { GridThw } from '../models/qwen2_5_vl/rope_index.ts';
import type { SpatialMllm } from '../models/spatial_mllm/model.ts';
import { type Coverage, type FrameSampling, sampleFrames } from './frame_sampling.ts';

/** VSI-Bench answer instructions Spatial-MLLM appends (src/evaluation/vsibench). */
export const PROMPT_SUFFIXES = {
  multipleChoice: "Answer with the option's letter from the given choices directly.",
  numeric: 'Please answer the question using a single word or phrase.',
};

export type Stage = 'sampling' | 'decode' | 'encoders' | 'prefill' | 'generate';

export interface StageEvent {
  stage: Stage;
  state: 'start' | 'end';
  seconds?: number;
  detail?: string;
}

export interface AskOptions extends TokenSampling {
  /** Frames given to the model (default 16) and how they are chosen (default uniform); see frame_sampling.ts. */
  frames?: number;
  sampling?: FrameSampling;
  /** Where space-aware sampling caches per-video geometry. */
  cacheDir?: string;
  maxNewTokens?: number;
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
  timings: Record<Stage | 'total', number> & { tokensPerSecond: number };
  /** The resized frames the model saw (an odd count is padded with the last frame). */
  images: RgbImage[];
}

export async function ask(
  model: SpatialMllm,
  videoPath: string,
  question: string,
  o: AskOptions = {},
): Promise<AskResult> {
  const t0 = performance.now();
  const timings = {
    sampling: 0,
    decode: 0,
    encoders: 0,
    prefill: 0,
    generate: 0,
    total: 0,
    tokensPerSecond: 0,
  };
  const begin = (stage: Stage) => o.onStage?.({ stage, state: 'start' });
  const finish = (stage: Stage, seconds: number, detail: string) => {
    timings[stage] = seconds;
    o.onStage?.({ stage, state: 'end', seconds, detail });
  };
  const timed = async <T>(stage: Stage, run: () => Promise<T>, detail: (r: T) => string): Promise<T> => {
    begin(stage);
    const s = performance.now();
    const r = await run();
    finish(stage, (performance.now() - s) / 1000, detail(r));
    return r;
  };

  const video = await openVideo(videoPath);
  const geometry = () => model.geometry();
  const choice = await timed(
    'sampling',
    () => sampleFrames(video, { ...o, geometry, modelKey: model.dir }),
    (r) => `${r.indices.length} frames (${r.sampling})`,
  );
  const frames = await timed(
    'decode',
    () => readFrames(video, choice.indices),
    (r) => `${r.length} frames decoded`,
  );
  const text = o.promptSuffix ? `${question}\n${o.promptSuffix}` : question;
  const messages = [{ role: 'user', content: [{ type: 'video' as const }, { type: 'text' as const, text }] }];
  const { inputs, visualEmbeds } = await timed(
    'encoders',
    async () => {
      const inputs = model.processor.process(
        messages,
        { videos: [{ frames: frames.map((f) => f.image) }] },
        {
          addGenerationPrompt: true,
        },
      );
      return { inputs, visualEmbeds: await model.embedVision(inputs) };
    },
    (r) => `grid ${r.inputs.videos[0].grid.join('×')}, ${r.visualEmbeds?.shape[0]} visual tokens`,
  );

  begin('prefill');
  const genStart = performance.now();
  const gen = await model.generate(inputs, {
    ...o,
    visualEmbeds,
    onToken: (t) => {
      if (t.index === 0) {
        finish('prefill', (performance.now() - genStart) / 1000, `${inputs.inputIds.length} prompt tokens`);
        begin('generate');
      }
      if (t.text) o.onToken?.(t.text);
    },
  });
  timings.tokensPerSecond = gen.decodeSeconds > 0 ? (gen.tokens.length - 1) / gen.decodeSeconds : 0;
  finish(
    'generate',
    gen.decodeSeconds,
    `${gen.tokens.length} tokens, ${timings.tokensPerSecond.toFixed(1)} tokens/s`,
  );
  timings.total = (performance.now() - t0) / 1000;
  return {
    answer: gen.text,
    frames: frames.map((f) => ({ index: f.index, timestamp: f.timestamp })),
    sampling: choice.sampling,
    coverage: choice.coverage,
    grid: inputs.videos[0].grid,
    promptTokens: gen.promptTokens,
    newTokens: gen.tokens.length,
    timings,
    images: inputs.videos[0].frames,
  };
}
