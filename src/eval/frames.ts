// Frames for adapters that send images (the OpenAI-compatible one): a FrameSource turns a video reference into
// `count` RGB frames. The default one is the media decoder (src/media/video.ts: .mp4/.webm/.mov through
// the bundled ffmpeg, or a folder of numbered frames), with the same uniform frame choice as qwen-vl-utils, so
// that other systems see the frames our model sees. It is imported lazily: scoring needs no decoder.
import { InputError } from '../errors.ts';
import { uniformIndices } from '../pipeline/frame_sampling.ts';

/** One decoded frame: 8-bit RGB, row-major, no padding. */
export interface RgbFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface FrameSource {
  /** `count` frames spread uniformly over the video, in time order (fewer if the video is shorter). */
  frames(video: string, count: number): Promise<RgbFrame[]>;
}

/** The part of src/media/video.ts this file uses. */
interface VideoModule {
  openVideo(path: string): Promise<{
    frameCount: number;
    readFrames(indices: readonly number[]): AsyncIterable<{ image: RgbFrame }>;
  }>;
}

export const defaultFrameSource: FrameSource = {
  async frames(video, count) {
    let mod: VideoModule;
    try {
      mod = await import(new URL('../media/video.ts', import.meta.url).href);
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String(e).includes('media/video.ts'))
        throw new InputError(
          'this build has no video decoder (src/media/video.ts), so frames cannot be read',
        );
      throw e;
    }
    const source = await mod.openVideo(video);
    const out: RgbFrame[] = [];
    for await (const f of source.readFrames(uniformIndices(source.frameCount, count))) out.push(f.image);
    return out;
  },
};
