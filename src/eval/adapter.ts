// The interface between the evaluation runner and a model: one question in (a ModelQuery), raw answer text out.
// Adapters that need something heavy (our model brings ONNX Runtime; image-sending adapters need a video
// decoder) get it from the app through AdapterDeps, so nothing under src/eval imports the pipeline or models.
import type { FrameSampling } from '../frame_options.ts';
import type { EvalQuestion } from './questions.ts';

/** Everything an adapter gets for one question. */
export interface ModelQuery {
  question: EvalQuestion;
  /** The full text prompt (question, options and answer-format instruction). */
  prompt: string;
  /** The scene's video: an .mp4 file or a folder of frame images. */
  video: string;
  /** How many frames to give the model, and how to pick them. */
  frames: number;
  sampling: FrameSampling;
  /** Replace every frame by a constant grey image (the blind control: what the model answers from text alone). */
  blind?: boolean;
}

export interface ModelAdapter {
  /** Recorded in the run's settings and in the report. */
  readonly name: string;
  /** The model's raw answer text. Throw InputError for problems no retry can fix (the run stops). */
  answer(query: ModelQuery, signal?: AbortSignal): Promise<string>;
  close?(): Promise<void>;
}

/** One decoded frame: 8-bit RGB, row-major, no padding. */
export interface RgbFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Turns a video reference into frames, for adapters that send images. */
export interface FrameSource {
  /** `count` frames spread uniformly over the video, in time order (fewer if the video is shorter). */
  frames(video: string, count: number): Promise<RgbFrame[]>;
}

/** How our model runs (the CLI's --dtype and --spatial-res; absent: float32, full). */
export interface SpatialMllmRunOptions {
  dtype?: 'float32' | 'int4' | 'int8';
  spatialRes?: 'full' | 'half';
}

/** The options that change our model's answers, as the CLI spells them; none for the defaults. */
export const changedRunOptions = (o: SpatialMllmRunOptions): string[] => [
  ...(o.dtype && o.dtype !== 'float32' ? [`--dtype ${o.dtype}`] : []),
  ...(o.spatialRes === 'half' ? ['--spatial-res half'] : []),
];

/** What the app provides; an adapter whose dependency is missing fails with an InputError naming it. */
export interface AdapterDeps {
  /** Our model on a checkpoint folder (the app wires the Spatial-MLLM pipeline in). */
  spatialMllm?: (checkpoint: string, options?: SpatialMllmRunOptions) => Promise<ModelAdapter>;
  /** Frames for adapters that send images (the app wires its video decoder in). */
  frameSource?: FrameSource;
}
