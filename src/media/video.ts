// Video input: mp4 / webm / mov (anything the bundled ffmpeg demuxes) and folders of numbered PNG / JPEG frames.
// Decoding runs the ffmpeg / ffprobe binaries that @ffmpeg-installer and @ffprobe-installer bring from the npm
// registry, so no system ffmpeg is needed. Frames stream out of ffmpeg as raw rgb24, one frame in memory at a
// time, and ffmpeg converts to RGB only the frames asked for (its `select` filter) and stops after the last one.
//
// Differences from upstream's decord-based loaders (qwen_vl_utils `_read_video_decord`), on purpose:
// - frames come out upright: ffmpeg applies the container's rotation (phone videos), decord ignores it;
// - frame folders are ordered by the numbers in their names (frame_9 before frame_10); upstream sorts file names
//   as strings (Spatial-MLLM `src/sampling/sa_sampling.py` and `src/evaluation/vsibench/eval_vsibench.py`), which
//   misorders any folder whose numbers outgrow their zero padding, e.g. 4-digit names past 10,000 frames.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import ffprobeInstaller from '@ffprobe-installer/ffprobe';
import { InputError } from '../errors.ts';
import { IMAGE_EXTENSIONS, type RgbImage, readImage } from './image.ts';

const FFMPEG = ffmpegInstaller.path;
const FFPROBE = ffprobeInstaller.path;

/** Frame rate given to a folder of frames, which carries none: qwen_vl_utils' default for frame lists. */
export const DEFAULT_FOLDER_FPS = 2;

/** One decoded frame: its index in the video, its time in seconds (index / fps) and its pixels. */
export interface VideoFrame {
  index: number;
  timestamp: number;
  image: RgbImage;
}

/** An opened video or frame folder. Nothing is decoded until `readFrames` is iterated. */
export interface VideoSource {
  path: string;
  kind: 'file' | 'folder';
  frameCount: number;
  fps: number;
  /** Seconds. */
  duration: number;
  /** Size of the frames `readFrames` yields (after rotation). */
  width: number;
  height: number;
  /** Counter-clockwise degrees (0, 90, 180, 270) the stored frames are turned to come out upright. */
  rotation: number;
  /**
   * Decodes the given frames and yields them in ascending index order, each index once, whatever the order and
   * repetitions of `indices`. Stopping the iteration early stops the decoder.
   */
  readFrames(indices: readonly number[]): AsyncIterable<VideoFrame>;
}

export interface OpenVideoOptions {
  /** Frame rate of a frame folder (ignored for video files). */
  folderFps?: number;
}

/** Opens a video file or a folder of frames and reads its size, frame count, frame rate and duration. */
export async function openVideo(path: string, options: OpenVideoOptions = {}): Promise<VideoSource> {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new InputError(`video not found: ${path} (check the path)`);
  }
  return isDir ? openFrameFolder(path, options.folderFps ?? DEFAULT_FOLDER_FPS) : openVideoFile(path);
}

/** Decodes the given frames of a video (see VideoSource.readFrames) into an array; none decodable is a user error. */
export async function readFrames(video: VideoSource, indices: readonly number[]): Promise<VideoFrame[]> {
  const out: VideoFrame[] = [];
  for await (const f of video.readFrames(indices)) out.push(f);
  if (out.length === 0) throw new InputError(`${video.path}: no frame could be decoded`);
  return out;
}

/** Sorted unique frame indices, each checked to lie in [0, frameCount). */
function checkIndices(indices: readonly number[], frameCount: number, path: string): number[] {
  for (const i of indices)
    if (!(Number.isInteger(i) && i >= 0 && i < frameCount))
      throw new InputError(`frame index ${i} is outside ${path}, which has frames 0..${frameCount - 1}`);
  return [...new Set(indices)].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------------------------
// Folders of frames

/** Natural order: runs of digits compare by value (frame_9 < frame_10 < frame_010b), the rest by code unit. */
export function compareFrameNames(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const digits = /^\d/.test(x) && /^\d/.test(y);
    if (digits) {
      const u = x.replace(/^0+/, '');
      const v = y.replace(/^0+/, '');
      if (u.length !== v.length) return u.length - v.length;
      if (u !== v) return u < v ? -1 : 1;
    } else return x < y ? -1 : 1;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0; // same numbers, different zero padding
}

function openFrameFolder(path: string, fps: number): VideoSource {
  if (!(fps > 0)) throw new InputError(`frame rate ${fps} for ${path} must be positive`);
  const names = readdirSync(path)
    .filter((name) => (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase()))
    .sort(compareFrameNames);
  if (names.length === 0)
    throw new InputError(
      `the folder ${path} holds no .png / .jpg frames: point to a video or a folder of frames`,
    );
  const first = readImage(join(path, names[0]));
  const { width, height } = first;
  return {
    path,
    kind: 'folder',
    frameCount: names.length,
    fps,
    duration: names.length / fps,
    width,
    height,
    rotation: 0,
    async *readFrames(indices) {
      for (const index of checkIndices(indices, names.length, path)) {
        const file = join(path, names[index]);
        const image = readImage(file);
        if (image.width !== width || image.height !== height)
          throw new InputError(
            `frame ${file} is ${image.width}×${image.height} but ${names[0]} is ${width}×${height}: all frames must share one size`,
          );
        yield { index, timestamp: index / fps, image };
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Video files

interface ProbeStream {
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  nb_read_packets?: string;
  duration?: string;
  tags?: { rotate?: string };
  side_data_list?: { rotation?: number }[];
}

interface ProbeResult {
  streams?: ProbeStream[];
  format?: { duration?: string };
}

/** Runs a bundled binary; resolves with stdout, or rejects with InputError quoting the last stderr line. */
function runTool(binary: string, args: string[], path: string, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err += s;
    });
    child.on('error', (e) => reject(new InputError(`cannot run ${binary} to ${what} ${path}: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new InputError(`cannot ${what} ${path}: ${lastLine(err) || `ffmpeg exited with ${code}`}`));
    });
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1].trim();
}

function parseRate(rate: string | undefined): number {
  const [num, den] = (rate ?? '').split('/').map(Number);
  const r = den ? num / den : num;
  return Number.isFinite(r) && r > 0 ? r : 0;
}

async function probe(path: string, extra: string[], entries: string): Promise<ProbeStream & ProbeResult> {
  const args = [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    ...extra,
    '-show_entries',
    entries,
    '-of',
    'json',
    path,
  ];
  const json = JSON.parse(await runTool(FFPROBE, args, path, 'read the video')) as ProbeResult;
  const stream = json.streams?.[0];
  if (!stream)
    throw new InputError(`${path} holds no video stream with frames: give an mp4 / webm / mov video`);
  return { ...stream, format: json.format };
}

async function openVideoFile(path: string): Promise<VideoSource> {
  const s = await probe(
    path,
    [],
    'stream=width,height,avg_frame_rate,r_frame_rate,nb_frames,duration:stream_tags=rotate' +
      ':stream_side_data=rotation:format=duration',
  );
  // Containers that store no frame count (webm, mkv) get their packets counted: demuxing only, no decoding.
  let frameCount = Number(s.nb_frames);
  if (!(frameCount > 0))
    frameCount = Number((await probe(path, ['-count_packets'], 'stream=nb_read_packets')).nb_read_packets);
  if (!(frameCount > 0)) throw new InputError(`${path} holds no video frames: the video is empty`);
  const fps = parseRate(s.avg_frame_rate) || parseRate(s.r_frame_rate);
  if (!fps) throw new InputError(`${path} has no frame rate: re-encode it with a constant frame rate`);
  const duration = Number(s.format?.duration) || Number(s.duration) || frameCount / fps;
  // ffprobe reports the display matrix as counter-clockwise degrees; older files carry a clockwise `rotate` tag.
  const matrix = s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation;
  const ccw = matrix !== undefined ? matrix : -Number(s.tags?.rotate ?? 0);
  const rotation = (((Math.round(ccw / 90) * 90) % 360) + 360) % 360;
  const turned = rotation % 180 !== 0;
  const width = turned ? s.height! : s.width!;
  const height = turned ? s.width! : s.height!;
  if (!(width > 0 && height > 0))
    throw new InputError(`${path} has no frame size: the video stream is broken`);
  return {
    path,
    kind: 'file',
    frameCount,
    fps,
    duration,
    width,
    height,
    rotation,
    readFrames: (indices) => decodeFrames(path, width, height, fps, checkIndices(indices, frameCount, path)),
  };
}

/** ffmpeg `select` expression true exactly on the given sorted frame numbers (runs become `between`). */
function selectExpression(sorted: number[]): string {
  const terms: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    terms.push(i === j ? `eq(n\\,${sorted[i]})` : `between(n\\,${sorted[i]}\\,${sorted[j]})`);
    i = j + 1;
  }
  return terms.join('+');
}

async function* decodeFrames(
  path: string,
  width: number,
  height: number,
  fps: number,
  sorted: number[],
): AsyncGenerator<VideoFrame> {
  if (sorted.length === 0) return;
  const args = ['-v', 'error', '-nostdin', '-i', path, '-map', '0:v:0', '-an', '-sn', '-dn'];
  args.push('-vf', `select=${selectExpression(sorted)}`, '-vsync', 'passthrough');
  args.push('-frames:v', String(sorted.length), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const child = spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const failure = watchProcess(child, path, 'decode');
  const frameBytes = width * height * 3;
  let frame = new Uint8Array(frameBytes);
  let filled = 0;
  let next = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length; ) {
        const n = Math.min(frameBytes - filled, chunk.length - off);
        frame.set(chunk.subarray(off, off + n), filled);
        filled += n;
        off += n;
        if (filled === frameBytes) {
          const index = sorted[next++];
          yield { index, timestamp: index / fps, image: { width, height, data: frame } };
          frame = new Uint8Array(frameBytes);
          filled = 0;
        }
      }
    }
    await failure.done;
    if (next < sorted.length)
      throw new InputError(
        `${path} ended before frame ${sorted[next]} (${next} of ${sorted.length} requested frames decoded): ` +
          'the file is truncated or its frame count is wrong',
      );
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** Collects an ffmpeg child's stderr; `done` resolves on exit 0 and rejects with the last stderr line otherwise. */
function watchProcess(
  child: ChildProcessByStdio<Writable | null, Readable | null, Readable>,
  path: string,
  what: string,
): { done: Promise<void> } {
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    err = (err + s).slice(-4096);
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new InputError(`cannot run ffmpeg to ${what} ${path}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new InputError(`ffmpeg failed to ${what} ${path}: ${lastLine(err) || `exit ${code ?? signal}`}`),
        );
    });
  });
  done.catch(() => {}); // observed by the caller when it awaits; never an unhandled rejection
  return { done };
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

export interface WriteVideoOptions {
  /** x264 constant rate factor: 0 = lossless (in YUV), 17 ≈ visually lossless (default), 23 = x264's default. */
  crf?: number;
  /** Chroma subsampling: 'yuv420p' (default, plays everywhere) or 'yuv444p' (closer colours, less support). */
  pixelFormat?: 'yuv420p' | 'yuv444p';
}

/**
 * Encodes RGB frames to an H.264 mp4 by piping raw rgb24 into ffmpeg (frames are consumed one at a time).
 * All frames must share one size with even width and height (4:2:0 chroma needs them). The file appears
 * atomically: ffmpeg writes a temporary file that is renamed on success.
 */
export async function writeVideo(
  path: string,
  frames: AsyncIterable<RgbImage> | Iterable<RgbImage>,
  fps: number,
  options: WriteVideoOptions = {},
): Promise<void> {
  if (!(fps > 0)) throw new InputError(`cannot write ${path} at ${fps} fps: the frame rate must be positive`);
  const { crf = 17, pixelFormat = 'yuv420p' } = options;
  const tmp = `${path}.partial-${process.pid}`;
  let child: ChildProcessByStdio<Writable, null, Readable> | undefined;
  let failure: { done: Promise<void> } | undefined;
  let size = '';
  let count = 0;
  try {
    for await (const img of frames) {
      if (!child) {
        if (img.width % 2 || img.height % 2)
          throw new InputError(
            `cannot write ${path}: frames are ${img.width}×${img.height}; H.264 needs even sizes`,
          );
        size = `${img.width}x${img.height}`;
        const args = ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', size];
        args.push('-framerate', String(fps), '-i', 'pipe:0', '-c:v', 'libx264', '-preset', 'medium');
        args.push('-crf', String(crf), '-pix_fmt', pixelFormat, '-movflags', '+faststart', '-f', 'mp4', tmp);
        child = spawn(FFMPEG, args, { stdio: ['pipe', 'ignore', 'pipe'] });
        child.stdin.on('error', () => {}); // a dying ffmpeg closes the pipe; its exit status reports why
        failure = watchProcess(child, path, 'encode');
      } else if (`${img.width}x${img.height}` !== size)
        throw new InputError(
          `cannot write ${path}: frame ${count} is ${img.width}×${img.height}, not ${size}`,
        );
      if (img.data.length !== img.width * img.height * 3)
        throw new InputError(
          `cannot write ${path}: frame ${count} holds ${img.data.length} bytes, not w·h·3`,
        );
      if (!child.stdin.write(img.data)) await Promise.race([drained(child.stdin), failure!.done]);
      count++;
    }
    if (!child || !failure) throw new InputError(`cannot write ${path}: no frames were given`);
    child.stdin.end();
    await failure.done;
    renameSync(tmp, path);
  } catch (e) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(tmp, { force: true });
    throw e;
  }
}

function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => stream.once('drain', resolve));
}
