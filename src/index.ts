// The package's public API (`import … from 'spatial-mllm'`): load a checkpoint folder, ask about a video, pick
// frames, run an evaluation. The package ships TypeScript sources: run the importing program with
// `node --import tsx` (or any TypeScript-aware loader or bundler). See the README, "Use it from TypeScript".

export { evalDeps, spatialMllmAdapter, videoFrameSource } from './apps/eval_deps.ts';
export { InputError } from './errors.ts';
export type { AdapterDeps, FrameSource, ModelAdapter, ModelQuery } from './eval/adapter.ts';
export { type AdapterContext, createAdapter } from './eval/adapters.ts';
export {
  BENCHMARKS,
  type Benchmark,
  type EvalQuestion,
  PROMPT_STYLES,
  type PromptStyle,
} from './eval/questions.ts';
export type { Report } from './eval/report.ts';
export { type EvaluateOptions, evaluate, type RunOutcome, type Shard } from './eval/runner.ts';
export { type RgbImage, readImage, writeImage } from './media/image.ts';
export { openVideo, readFrames, type VideoFrame, type VideoSource } from './media/video.ts';
export type { TokenSampling } from './models/generate.ts';
export {
  type ConversationInputs,
  type ModelInputs,
  type ProcessedVideo,
  Qwen25VLProcessor,
  type TurnSpan,
  type VideoInput,
} from './models/qwen2_5_vl/processor.ts';
export type { ChatMessage, ContentItem } from './models/qwen2_5_vl/tokenizer.ts';
export { DEFAULT_MAX_NEW_TOKENS, SPATIAL_MLLM_SAMPLING } from './models/spatial_mllm/config.ts';
export {
  type GeneratedToken,
  type Generation,
  type GenerationOptions,
  SpatialMllm,
  type SpatialMllmOptions,
} from './models/spatial_mllm/model.ts';
export { type AskOptions, type AskResult, ask, PROMPT_SUFFIXES, type StageEvent } from './pipeline/ask.ts';
export {
  type Coverage,
  checkFrameCount,
  checkFrameSampling,
  DEFAULT_FRAME_COUNT,
  DEFAULT_FRAME_SAMPLING,
  FRAME_SAMPLINGS,
  type FrameChoice,
  type FrameSampling,
  type FrameSamplingOptions,
  sampleFrames,
  uniformIndices,
} from './pipeline/frame_sampling.ts';
