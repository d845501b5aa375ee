// One SFT sample as model inputs, as upstream's `LazySupervisedDataset._get_item` makes it (THU-SI/Spatial-MLLM
// `src/qwenvl/data/data_qwen.py`, `process_video` + `preprocess_qwen_2_visual` + `rope2d.get_rope_index_25`):
// frames picked by clip length, resized and patchified by the Qwen2-VL image processor at the video pixel bounds,
// the rescaled frames (odd counts padded by repeating the last) for the spatial encoder, token ids and labels,
// and the M-RoPE positions.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { readJsonObject } from '../json.ts';
import { greyLike, type RgbImage } from '../media/image.ts';
import { resize } from '../media/resize.ts';
import { openVideo } from '../media/video.ts';
import { type Qwen25VLConfig, ropeIndexConfig } from '../models/qwen2_5_vl/config.ts';
import { type ProcessorConfig, patchify, smartResize } from '../models/qwen2_5_vl/image_processor.ts';
import { type GridThw, ropeIndex } from '../models/qwen2_5_vl/rope_index.ts';
import type { QwenTokenizer } from '../models/qwen2_5_vl/tokenizer.ts';
import { npLinspaceInt, roundHalfEven } from '../python_compat.ts';
import type { HostTensor } from '../tensor.ts';
import type { SftRecord } from './sft_data.ts';
import { buildSftTokens } from './sft_labels.ts';

/** Upstream DataArguments that shape a video sample. */
export interface VideoArgs {
  /** Seconds of video per sampled frame before clamping (`base_interval`). */
  baseInterval: number;
  minFrames: number;
  maxFrames: number;
  /** Pixel bounds of one resized frame (`video_min_frame_pixels` / `video_max_frame_pixels`). */
  minPixels: number;
  maxPixels: number;
  /** Nominal fps of the sampled frames for the temporal positions (`video_frame_fps`); default frames/duration. */
  frameFps?: number;
}

/** The values of upstream's training script `scripts/training/spatial_mllm_train_demo.sh`. */
export const UPSTREAM_VIDEO_ARGS: VideoArgs = {
  baseInterval: 2,
  minFrames: 16,
  maxFrames: 16,
  minPixels: 293216,
  maxPixels: 324576,
  frameFps: 4,
};

/**
 * `process_video`'s frames: n = round(duration / interval) (half to even), clamped to [min, max] frames, then
 * np.unique(np.linspace(0, total − 1, n, dtype=int)) (float64, truncated; short videos give fewer frames).
 */
export function sftFrameIndices(
  totalFrames: number,
  avgFps: number,
  a: Pick<VideoArgs, 'baseInterval' | 'minFrames' | 'maxFrames'>,
): number[] {
  const duration = totalFrames / avgFps;
  const n = Math.min(Math.max(roundHalfEven(duration / a.baseInterval), a.minFrames), a.maxFrames);
  return [...new Set(npLinspaceInt(totalFrames - 1, n))].sort((x, y) => x - y);
}

/** A frame folder may carry `video.json` {avg_fps} (what decord reports for the video it was decoded from). */
function folderFps(path: string): number | undefined {
  const meta = join(path, 'video.json');
  if (!existsSync(meta)) return undefined;
  const fps = readJsonObject(meta, 'write it as {"avg_fps": <frames per second>}').avg_fps;
  return typeof fps === 'number' && fps > 0 ? fps : undefined;
}

export interface ExampleMedia {
  /** Vision-tower input [t·h·w, 1176]. */
  pixelValues: HostTensor<'float32'>;
  /** The resized frames, padded to a multiple of the temporal patch: the spatial encoder's input. */
  frames: RgbImage[];
}

export interface SftExample {
  record: SftRecord;
  inputIds: number[];
  /** Unshifted (label i belongs to token i), IGNORE_INDEX where not scored. */
  labels: number[];
  /** [3, 1, S] int64. */
  positionIds: HostTensor<'int64'>;
  grid: GridThw;
  frameIndices: number[];
  secondPerGridTs: number;
  /** Identifies the frozen encoders' input: video file identity, frames and size (the encoder cache key). */
  mediaKey: string;
  /** Decodes, resizes and patchifies the frames (only needed when the frozen encoders must run). */
  media(): Promise<ExampleMedia>;
}

export interface ExampleContext {
  tokenizer: QwenTokenizer;
  processor: ProcessorConfig;
  config: Qwen25VLConfig;
  video: VideoArgs;
}

/** Videos opened once per process (path + mtime): a dataset asks many questions about each video, and opening
 * one probes it with ffprobe. */
const openedVideos = new Map<string, ReturnType<typeof openVideo>>();
function openShared(path: string): ReturnType<typeof openVideo> {
  let mtime = 0;
  try {
    mtime = statSync(path).mtimeMs;
  } catch {}
  const key = `${path}\u0000${mtime}`;
  let source = openedVideos.get(key);
  if (!source) {
    source = openVideo(path, { folderFps: folderFps(path) });
    openedVideos.set(key, source);
    source.catch(() => openedVideos.delete(key));
  }
  return source;
}

/** The frames of one video sample as the processor sees them: which frames, the resized size and grid, and the
 * patchified pixels on demand. Shared by SFT examples and the vision pretraining (same processor path). */
export interface VideoSample {
  frameIndices: number[];
  grid: GridThw;
  /** Resized frame size. */
  height: number;
  width: number;
  /** Seconds per temporal patch. */
  secondPerGridTs: number;
  /** Identifies the frozen encoders' input: video file identity, frames and size (the encoder cache key). */
  mediaKey: string;
  /** Decodes, resizes and patchifies the frames. */
  media(): Promise<ExampleMedia>;
}

export async function loadVideoSample(
  videoPath: string,
  processor: ProcessorConfig,
  video: VideoArgs,
  where: string,
  blind = false,
): Promise<VideoSample> {
  const source = await openShared(videoPath);
  const frameIndices = sftFrameIndices(source.frameCount, source.fps, video);
  // Upstream deep-copies the image processor with the video pixel bounds.
  const p = { ...processor, minPixels: video.minPixels, maxPixels: video.maxPixels };
  const [height, width] = smartResize(source.height, source.width, {
    factor: p.patchSize * p.mergeSize,
    minPixels: p.minPixels,
    maxPixels: p.maxPixels,
  });
  const grid: GridThw = [
    Math.ceil(frameIndices.length / p.temporalPatchSize),
    height / p.patchSize,
    width / p.patchSize,
  ];
  const fps = video.frameFps ?? frameIndices.length / (source.frameCount / source.fps);
  const secondPerGridTs = p.temporalPatchSize / fps;
  const st = statSync(videoPath);
  // The real path: the same file reached through a symlink or a relative path shares its cached encoder outputs.
  const key = [realpathSync(videoPath), st.size, st.mtimeMs, frameIndices, height, width];
  const mediaKey = JSON.stringify(blind ? [...key, 'blind'] : key);
  const media = async (): Promise<ExampleMedia> => {
    const decoded: RgbImage[] = [];
    for await (const f of source.readFrames(frameIndices)) decoded.push(f.image);
    if (decoded.length !== frameIndices.length)
      throw new InputError(`${where}: could not decode frames ${frameIndices} of ${videoPath}`);
    const resized = decoded.map((f) => {
      const sized = f.width === width && f.height === height ? f : resize(f, width, height);
      return blind ? greyLike(sized) : sized;
    });
    const { pixelValues } = patchify(resized, p);
    const frames = Array.from(
      { length: grid[0] * p.temporalPatchSize },
      (_, i) => resized[Math.min(i, resized.length - 1)],
    );
    return { pixelValues, frames };
  };
  return { frameIndices, grid, height, width, secondPerGridTs, mediaKey, media };
}

export async function loadSftExample(record: SftRecord, ctx: ExampleContext): Promise<SftExample> {
  const v = await loadVideoSample(record.videoPath, ctx.processor, ctx.video, record.where, record.blind);
  const { grid, secondPerGridTs } = v;
  const merged = (grid[0] * grid[1] * grid[2]) / ctx.processor.mergeSize ** 2;
  const { inputIds, labels } = buildSftTokens(record.turns, (t) => ctx.tokenizer.encode(t), [merged]);
  const { positionIds } = ropeIndex(
    { inputIds: [inputIds], videoGridThw: [grid], secondPerGridTs: [secondPerGridTs] },
    ropeIndexConfig(ctx.config),
  );
  const { frameIndices, mediaKey, media } = v;
  return { record, inputIds, labels, positionIds, grid, frameIndices, secondPerGridTs, mediaKey, media };
}
