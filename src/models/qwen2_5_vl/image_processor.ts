// Qwen2.5-VL vision input processing: target sizes, resize, rescale, normalise and the patch layout the vision
// tower reads. Upstream: transformers 4.51 `models/qwen2_vl/image_processing_qwen2_vl.py` (Qwen2VLImageProcessor,
// which Qwen2_5_VLProcessor uses for images and videos alike), `models/qwen2_5_vl/processing_qwen2_5_vl.py`
// (second_per_grid_ts) and qwen_vl_utils `vision_process.py` (smart_resize, fetch_video's pixel budget).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import { readJsonObject } from '../../json.ts';
import type { RgbImage } from '../../media/image.ts';
import { resize } from '../../media/resize.ts';
import { roundHalfEven } from '../../python_compat.ts';
import { type HostTensor, tensor } from '../../tensor.ts';
import type { VisionConfig } from './config.ts';
import type { GridThw } from './rope_index.ts';

export interface ProcessorConfig {
  minPixels: number;
  maxPixels: number;
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
  imageMean: readonly [number, number, number];
  imageStd: readonly [number, number, number];
  rescaleFactor: number;
}

/** OpenAI CLIP statistics and the Qwen2.5-VL preprocessor_config.json values. */
export const DEFAULT_PROCESSOR_CONFIG: ProcessorConfig = {
  minPixels: 56 * 56,
  maxPixels: 28 * 28 * 16384,
  patchSize: 14,
  temporalPatchSize: 2,
  mergeSize: 2,
  imageMean: [0.48145466, 0.4578275, 0.40821073],
  imageStd: [0.26862954, 0.26130258, 0.27577711],
  rescaleFactor: 1 / 255,
};

/** Reads preprocessor_config.json; missing keys take the Qwen2.5-VL values. `min_pixels`/`max_pixels` override
 * `size.shortest_edge`/`size.longest_edge`, as in the 4.51 constructor. With `vision` (config.json's vision
 * encoder), the patch sizes must match it: the encoder's patch embedding only takes its own. */
export function readProcessorConfig(
  dir: string,
  vision?: Pick<VisionConfig, 'patchSize' | 'temporalPatchSize' | 'spatialMergeSize'>,
): ProcessorConfig {
  const path = join(dir, 'preprocessor_config.json');
  if (!existsSync(path)) return DEFAULT_PROCESSOR_CONFIG;
  const fix = 'fix the file or remove it (Qwen2.5-VL defaults apply)';
  const cfg = parseProcessorConfig(readJsonObject(path, fix), path, fix);
  if (vision)
    for (const [ours, theirs, key] of [
      [cfg.patchSize, vision.patchSize, 'patch_size'],
      [cfg.temporalPatchSize, vision.temporalPatchSize, 'temporal_patch_size'],
      [cfg.mergeSize, vision.spatialMergeSize, 'merge_size'],
    ] as const)
      if (ours !== theirs)
        throw new InputError(
          `${path}: ${key} ${ours} differs from config.json's vision_config (${theirs}); ${fix}`,
        );
  return cfg;
}

function parseProcessorConfig(j: Record<string, any>, path: string, fix: string): ProcessorConfig {
  const d = DEFAULT_PROCESSOR_CONFIG;
  const triple = (v: unknown, fallback: readonly [number, number, number], key: string) => {
    if (v === undefined) return fallback;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number'))
      throw new InputError(`${path}: ${key} must be 3 numbers (R, G, B); ${fix}`);
    return v as unknown as [number, number, number];
  };
  const cfg: ProcessorConfig = {
    minPixels: j.min_pixels ?? j.size?.shortest_edge ?? d.minPixels,
    maxPixels: j.max_pixels ?? j.size?.longest_edge ?? d.maxPixels,
    patchSize: j.patch_size ?? d.patchSize,
    temporalPatchSize: j.temporal_patch_size ?? d.temporalPatchSize,
    mergeSize: j.merge_size ?? d.mergeSize,
    imageMean: triple(j.image_mean, d.imageMean, 'image_mean'),
    imageStd: triple(j.image_std, d.imageStd, 'image_std'),
    rescaleFactor: j.rescale_factor ?? d.rescaleFactor,
  };
  const fileKey: Partial<Record<keyof ProcessorConfig, string>> = {
    minPixels: 'min_pixels',
    maxPixels: 'max_pixels',
    patchSize: 'patch_size',
    temporalPatchSize: 'temporal_patch_size',
    mergeSize: 'merge_size',
    rescaleFactor: 'rescale_factor',
  };
  for (const [k, key] of Object.entries(fileKey)) {
    const v = cfg[k as keyof ProcessorConfig];
    const integer = k !== 'rescaleFactor';
    if (typeof v !== 'number' || !(v > 0) || (integer && !Number.isInteger(v)))
      throw new InputError(
        `${path}: ${key} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}; ${fix}`,
      );
  }
  if (cfg.minPixels > cfg.maxPixels)
    throw new InputError(`${path}: min_pixels ${cfg.minPixels} exceeds max_pixels ${cfg.maxPixels}; ${fix}`);
  return cfg;
}

export interface PixelLimits {
  /** Both sides become multiples of this (patch · merge = 28). */
  factor?: number;
  minPixels?: number;
  maxPixels?: number;
}

const MAX_ASPECT_RATIO = 200;

/** Height and width closest to the input that are multiples of `factor` with an area in [minPixels, maxPixels].
 * qwen_vl_utils' smart_resize (Python round, half to even); transformers' copy differs only by raising where a
 * side would round to 0 instead of clamping it to `factor`. */
export function smartResize(height: number, width: number, limits: PixelLimits = {}): [number, number] {
  const factor = limits.factor ?? 28;
  const minPixels = limits.minPixels ?? DEFAULT_PROCESSOR_CONFIG.minPixels;
  const maxPixels = limits.maxPixels ?? DEFAULT_PROCESSOR_CONFIG.maxPixels;
  if (Math.max(height, width) / Math.min(height, width) > MAX_ASPECT_RATIO)
    throw new InputError(
      `a ${width}×${height} image is too elongated (aspect ratio above ${MAX_ASPECT_RATIO}); crop it first`,
    );
  let h = Math.max(factor, roundHalfEven(height / factor) * factor);
  let w = Math.max(factor, roundHalfEven(width / factor) * factor);
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.max(factor, Math.floor(height / beta / factor) * factor);
    w = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  return [h, w];
}

/** qwen_vl_utils defaults for video frames. */
const VIDEO_MIN_PIXELS = 128 * 28 * 28;
const VIDEO_MAX_PIXELS = 768 * 28 * 28;
const VIDEO_TOTAL_PIXELS = Math.trunc(128000 * 28 * 28 * 0.9);

export interface VideoSizeOptions {
  minPixels?: number;
  /** Caps the per-frame budget further (it can only lower it). */
  maxPixels?: number;
  /** Pixel budget of the whole clip. */
  totalPixels?: number;
}

/** Frame size qwen_vl_utils.fetch_video resizes a decoded video to: the clip's pixel budget is shared by its frames
 * (two frames per temporal patch), within [minPixels, 768·28²] per frame. */
export function videoFrameSize(
  height: number,
  width: number,
  nframes: number,
  options: VideoSizeOptions = {},
): [number, number] {
  const minPixels = options.minPixels ?? VIDEO_MIN_PIXELS;
  const totalPixels = options.totalPixels ?? VIDEO_TOTAL_PIXELS;
  let maxPixels = Math.max(
    Math.min(VIDEO_MAX_PIXELS, (totalPixels / nframes) * 2),
    Math.trunc(minPixels * 1.05),
  );
  if (options.maxPixels !== undefined) maxPixels = Math.min(options.maxPixels, maxPixels);
  return smartResize(height, width, { factor: 28, minPixels, maxPixels });
}

/**
 * The video bounds for a checkpoint: qwen-vl-utils' defaults, unless the checkpoint's processor caps frames below
 * qwen-vl-utils' video minimum. The HF image processor then shrinks the upscaled frames again (a size the model
 * never trained on); such a checkpoint (the small model, src/train/small: 168×112 frames) is given frames within
 * its own bounds, as its SFT data was. Real checkpoints (max_pixels 12845056) keep the defaults.
 */
export function checkpointVideoBounds(p: { minPixels: number; maxPixels: number }): VideoSizeOptions {
  return p.maxPixels < VIDEO_MIN_PIXELS ? { minPixels: p.minPixels, maxPixels: p.maxPixels } : {};
}

export interface FrameCountOptions {
  /** A fixed frame count (rounded to an even number); excludes `fps`. */
  nframes?: number;
  /** Frames per second of video to sample (default 2), bounded by minFrames / maxFrames. */
  fps?: number;
  minFrames?: number;
  maxFrames?: number;
}

const roundBy = (x: number, f: number) => roundHalfEven(x / f) * f;
const floorBy = (x: number, f: number) => Math.floor(x / f) * f;
const ceilBy = (x: number, f: number) => Math.ceil(x / f) * f;

/** How many frames qwen_vl_utils samples from a video of `totalFrames` frames at `videoFps` (smart_nframes):
 * always even (frames pair up into temporal patches) and within [2, totalFrames]. */
export function smartNframes(totalFrames: number, videoFps: number, options: FrameCountOptions = {}): number {
  if (options.nframes !== undefined && options.fps !== undefined)
    throw new InputError('give either a frame count or a sampling fps, not both');
  let n: number;
  if (options.nframes !== undefined) n = roundBy(options.nframes, 2);
  else {
    const minFrames = ceilBy(options.minFrames ?? 4, 2);
    const maxFrames = floorBy(options.maxFrames ?? Math.min(768, totalFrames), 2);
    const wanted = (totalFrames / videoFps) * (options.fps ?? 2);
    n = floorBy(Math.min(Math.max(wanted, minFrames), maxFrames, totalFrames), 2);
  }
  if (!(n >= 2 && n <= totalFrames))
    throw new InputError(
      `cannot sample ${n} frames from a video of ${totalFrames}; ask for between 2 and ${totalFrames}`,
    );
  return n;
}

/** Patches of one image or one video, in the layout the vision tower reads. */
export interface VisionPatches {
  /** [grid_t·grid_h·grid_w, 3·temporal·patch·patch] float32. Rows run (t, h/merge, w/merge, merge, merge), so the
   * patches of each merge group are consecutive; columns run (channel, frame in pair, row, column). */
  pixelValues: HostTensor<'float32'>;
  gridThw: GridThw;
}

/** uint8 → float32(float32(float64(v) · rescale) − mean) / std per channel, computed as numpy does (rescale in
 * float64 then cast; the normalisation in float32). */
function normalizationTables(cfg: ProcessorConfig): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const mean = Math.fround(cfg.imageMean[c]);
    const std = Math.fround(cfg.imageStd[c]);
    return Float32Array.from(
      { length: 256 },
      (_, v) => Math.fround(Math.fround(v * cfg.rescaleFactor) - mean) / std,
    );
  });
}

/** Qwen2VLImageProcessor._preprocess on the frames of one video (or one image): every frame is resized to the
 * smart size of the first, normalised, frames are grouped by temporal_patch_size (a short last group repeats the
 * last frame; a single image therefore becomes two identical frames) and cut into patch rows. */
export function patchify(
  frames: readonly RgbImage[],
  cfg: ProcessorConfig = DEFAULT_PROCESSOR_CONFIG,
): VisionPatches {
  if (frames.length === 0)
    throw new InputError('no frames to process; give at least one image or video frame');
  const { patchSize: p, mergeSize: m, temporalPatchSize: tp } = cfg;
  const [height, width] = smartResize(frames[0].height, frames[0].width, {
    factor: p * m,
    minPixels: cfg.minPixels,
    maxPixels: cfg.maxPixels,
  });
  const resized = frames.map((f) =>
    f.width === width && f.height === height ? f : resize(f, width, height),
  );
  const tables = normalizationTables(cfg);
  const gridT = Math.ceil(resized.length / tp);
  const gridH = height / p;
  const gridW = width / p;
  const cols = 3 * tp * p * p;
  const out = new Float32Array(gridT * gridH * gridW * cols);
  let o = 0;
  for (let t = 0; t < gridT; t++)
    for (let bh = 0; bh < gridH / m; bh++)
      for (let bw = 0; bw < gridW / m; bw++)
        for (let mh = 0; mh < m; mh++)
          for (let mw = 0; mw < m; mw++) {
            const y0 = (bh * m + mh) * p;
            const x0 = (bw * m + mw) * p;
            for (let c = 0; c < 3; c++)
              for (let dt = 0; dt < tp; dt++) {
                const frame = resized[Math.min(t * tp + dt, resized.length - 1)].data;
                for (let py = 0; py < p; py++)
                  for (let px = 0; px < p; px++)
                    out[o++] = tables[c][frame[((y0 + py) * width + x0 + px) * 3 + c]];
              }
          }
  return {
    pixelValues: tensor('float32', [gridT * gridH * gridW, cols], out),
    gridThw: [gridT, gridH, gridW],
  };
}

function concatRows(parts: readonly HostTensor<'float32'>[]): HostTensor<'float32'> {
  const cols = parts[0].shape[1];
  const rows = parts.reduce((n, t) => n + t.shape[0], 0);
  const data = new Float32Array(rows * cols);
  let offset = 0;
  for (const t of parts) {
    data.set(t.data, offset);
    offset += t.data.length;
  }
  return tensor('float32', [rows, cols], data);
}

export interface ImageInputs {
  pixelValues: HostTensor<'float32'>;
  imageGridThw: GridThw[];
}

/** Processor output for images (`pixel_values`, `image_grid_thw`): each image on its own, rows concatenated. */
export function processImages(
  images: readonly RgbImage[],
  cfg: ProcessorConfig = DEFAULT_PROCESSOR_CONFIG,
): ImageInputs {
  const each = images.map((img) => patchify([img], cfg));
  return {
    pixelValues: concatRows(each.map((e) => e.pixelValues)),
    imageGridThw: each.map((e) => e.gridThw),
  };
}

export interface VideoInputs {
  pixelValuesVideos: HostTensor<'float32'>;
  videoGridThw: GridThw[];
  /** Seconds per temporal grid step, temporal_patch_size / fps, rounded to float32 as the processor's tensor. */
  secondPerGridTs: number[];
}

/** Processor output for videos. `fps` is the rate the frames were sampled at (one for all videos or one each);
 * Qwen2_5_VLProcessor assumes 2 when none is given. */
export function processVideos(
  videos: readonly (readonly RgbImage[])[],
  cfg: ProcessorConfig = DEFAULT_PROCESSOR_CONFIG,
  fps: number | readonly number[] = 2,
): VideoInputs {
  const rates = typeof fps === 'number' ? videos.map(() => fps) : fps;
  if (rates.length !== videos.length)
    throw new InputError(`got ${rates.length} fps values for ${videos.length} videos; give one per video`);
  const each = videos.map((frames) => patchify(frames, cfg));
  return {
    pixelValuesVideos: concatRows(each.map((e) => e.pixelValues)),
    videoGridThw: each.map((e) => e.gridThw),
    secondPerGridTs: rates.map((r) => Math.fround(cfg.temporalPatchSize / r)),
  };
}
