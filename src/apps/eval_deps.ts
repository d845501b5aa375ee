// What the evaluation harness gets from the app: our model as an eval adapter, and the video decoder as the
// frame source of image-sending adapters. src/eval stays free of the pipeline and ONNX Runtime; both are
// loaded here only when a run asks for them (`eval score` and baseline runs never load them).

import {
  type AdapterDeps,
  changedRunOptions,
  type FrameSource,
  type ModelAdapter,
  type RgbFrame,
  type SpatialMllmRunOptions,
} from '../eval/adapter.ts';
import { uniformIndices } from '../pipeline/frame_sampling.ts';
import { resolveModelDir } from './model_name.ts';
import { weightOptions } from './options.ts';

/**
 * The Spatial-MLLM pipeline on a checkpoint folder, answering each query with the query's frames and sampling.
 * Its sessions run in a worker thread: an eval is a long job whose event loop must stay free meanwhile (Ctrl-C
 * finishing the current question, the progress line, a job queue's lock renewals).
 */
export async function spatialMllmAdapter(
  checkpoint: string,
  o: SpatialMllmRunOptions = {},
): Promise<ModelAdapter> {
  const [{ SpatialMllm }, { ask }] = await Promise.all([
    import('../models/spatial_mllm/model.ts'),
    import('../pipeline/ask.ts'),
  ]);
  const model = SpatialMllm.load(resolveModelDir(checkpoint), {
    offMainThread: true,
    ...weightOptions(o.dtype ?? 'float32'),
    spatialResolution: o.spatialRes,
  });
  return {
    // The run's settings.json records the name: a resumed run with other options is refused, not mixed.
    name: [`spatial-mllm:${checkpoint}`, ...changedRunOptions(o)].join(' '),
    answer: async (q, signal) =>
      (
        await ask(model, q.video, q.prompt, {
          frames: q.frames,
          sampling: q.sampling,
          blind: q.blind,
          signal,
        })
      ).answer,
    close: () => model.release(),
  };
}

/**
 * The media decoder (.mp4/.webm/.mov through the bundled ffmpeg, or a folder of numbered frames) with the
 * same uniform frame choice as qwen-vl-utils, so that other systems see the frames our model sees.
 */
export const videoFrameSource: FrameSource = {
  async frames(video, count) {
    const { openVideo } = await import('../media/video.ts');
    const source = await openVideo(video);
    const out: RgbFrame[] = [];
    for await (const f of source.readFrames(uniformIndices(source.frameCount, count))) out.push(f.image);
    return out;
  },
};

export const evalDeps: AdapterDeps = { spatialMllm: spatialMllmAdapter, frameSource: videoFrameSource };
