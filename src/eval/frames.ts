// Frames for adapters that send images (the OpenAI-compatible one): a FrameSource turns a video reference into
// `count` RGB frames sampled uniformly in time. A folder of frame images works now; `.mp4` files go through the
// video decoder of src/pipeline/video.ts once that module exists (see VideoDecoderModule for the contract).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { InputError } from '../errors.ts';

/** One decoded frame: 8-bit RGB, row-major, no padding. */
export interface RgbFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface FrameSource {
  /** `count` frames of the video (or all of them if it has fewer), in time order. */
  frames(video: string, count: number): Promise<RgbFrame[]>;
}

/** What this file expects src/pipeline/video.ts to export: decode `count` uniformly spaced frames of a video. */
export interface VideoDecoderModule {
  sampleVideoFrames(path: string, count: number): Promise<RgbFrame[]>;
}

/**
 * `count` indices spread over `n` frames, first and last included: round(i·(n−1)/(count−1)), as
 * qwen-vl-utils' `torch.linspace(0, n−1, count).round()`; all frames when there are no more than `count`.
 */
export function uniformIndices(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  if (count === 1) return [0];
  return Array.from({ length: count }, (_, i) => Math.round((i * (n - 1)) / (count - 1)));
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);
const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

async function decodeImage(path: string): Promise<RgbFrame> {
  const bytes = readFileSync(path);
  const rgba =
    extname(path).toLowerCase() === '.png'
      ? (await import('pngjs')).PNG.sync.read(bytes)
      : (await import('jpeg-js')).default.decode(bytes, { useTArray: true });
  const { width, height } = rgba;
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    data[3 * p] = rgba.data[4 * p];
    data[3 * p + 1] = rgba.data[4 * p + 1];
    data[3 * p + 2] = rgba.data[4 * p + 2];
  }
  return { width, height, data };
}

/** A folder of frame images (.png/.jpg), ordered by the numbers in their names (frame_2 before frame_10). */
export async function folderFrames(dir: string, count: number): Promise<RgbFrame[]> {
  const files = readdirSync(dir)
    .filter((n) => IMAGE_EXT.has(extname(n).toLowerCase()))
    .sort(naturalOrder);
  if (!files.length) throw new Error(`no .png/.jpg frames in ${dir}`);
  return Promise.all(uniformIndices(files.length, count).map((i) => decodeImage(join(dir, files[i]))));
}

async function videoFileFrames(path: string, count: number): Promise<RgbFrame[]> {
  let mod: Partial<VideoDecoderModule>;
  try {
    mod = await import(new URL('../pipeline/video.ts', import.meta.url).href);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' || !String(e).includes('pipeline/video.ts')) throw e;
    mod = {};
  }
  if (typeof mod.sampleVideoFrames !== 'function')
    throw new InputError(
      `cannot decode ${path}: this build has no video decoder (src/pipeline/video.ts); extract the frames to a folder named like the video without .mp4 and run again`,
    );
  return mod.sampleVideoFrames(path, count);
}

/** Frames from a folder of images or, through the pipeline's decoder, from a video file. */
export const defaultFrameSource: FrameSource = {
  async frames(video, count) {
    let isDir: boolean;
    try {
      isDir = statSync(video).isDirectory();
    } catch {
      throw new Error(`video not found: ${video} (expected an .mp4 file or a folder of frames)`);
    }
    return isDir ? folderFrames(video, count) : videoFileFrames(video, count);
  },
};
