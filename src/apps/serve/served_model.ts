// What the HTTP server needs from a model: answer one question about one video (streaming tokens, cancellable),
// and rebuild the geometry behind an answer (VGGT's point cloud and the cameras of the frames the model saw).
// The server only knows this narrow interface; `loadServedModel` binds it to the Spatial-MLLM pipeline, tests
// bind it to stubs.
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { FrameSampling as Sampling } from '../../frame_options.ts';
import { type RgbImage, readImage } from '../../media/image.ts';
import { SpatialMllm, type SpatialMllmOptions } from '../../models/spatial_mllm/model.ts';
import { type AskResult, ask } from '../../pipeline/ask.ts';
import type { Coverage } from '../../pipeline/frame_sampling.ts';
import { saveAnswerArtifacts } from '../artifacts.ts';

export interface ServedQuestion {
  /** A video file or a folder of frames, inside the server's data folder. */
  video: string;
  question: string;
  frames?: number;
  sampling?: Sampling;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  signal?: AbortSignal;
  onToken?: (text: string) => void;
}

export interface ServedAnswer {
  answer: string;
  frames: { index: number; timestamp: number }[];
  sampling: Sampling;
  coverage?: Coverage;
  promptTokens: number;
  newTokens: number;
  /** The resized frames the model saw, in the order of `frames`. */
  images: RgbImage[];
}

/** Camera-from-world 3×4 (OpenCV axes) and 3×3 intrinsics of one chosen frame, as `ask --save` writes them. */
export interface ServedCamera {
  frame: number;
  timestamp: number;
  extrinsic: number[][];
  intrinsic: number[][];
  width: number;
  height: number;
}

export interface ServedGeometry {
  /** Binary little-endian PLY: float x, y, z and uchar r, g, b per point. */
  ply: Uint8Array;
  cameras: ServedCamera[];
}

/** A file of the checkpoint folder, offered to the in-tab model. */
export interface ModelFile {
  name: string;
  path: string;
  bytes: number;
  /** Changes when the file does (size and modification time). */
  version: string;
}

export interface ServedModel {
  readonly id: string;
  readonly description: string;
  /** The checkpoint's files for a browser tab to run it; empty when the model is too large for a tab. */
  files(): ModelFile[];
  ask(q: ServedQuestion): Promise<ServedAnswer>;
  /** Point cloud + cameras of the frames of an answer (kept as PNGs in `dir`); undefined when the model has no
   * VGGT point/camera heads. Writes its files into `dir`. */
  geometry(
    frames: ServedAnswer['frames'],
    images: RgbImage[],
    dir: string,
  ): Promise<ServedGeometry | undefined>;
  release(): Promise<void>;
}

export interface LoadOptions extends SpatialMllmOptions {
  /** Model id in the API (default: the folder name). */
  id?: string;
  /** Where space-aware sampling caches per-video geometry. */
  cacheDir?: string;
}

/** The Spatial-MLLM pipeline behind the ServedModel interface. */
export function loadServedModel(dir: string, o: LoadOptions = {}): ServedModel {
  const model = SpatialMllm.load(dir, o);
  const id = o.id ?? basename(dir.replace(/\/+$/, ''));
  return {
    id,
    description: `Spatial-MLLM checkpoint ${id}`,
    files: () => checkpointFiles(dir),
    async ask(q) {
      const r = await ask(model, q.video, q.question, {
        cacheDir: o.cacheDir,
        frames: q.frames,
        sampling: q.sampling,
        maxNewTokens: q.maxTokens,
        temperature: q.temperature,
        topP: q.topP,
        seed: q.seed,
        signal: q.signal,
        onToken: q.onToken,
      });
      return { ...r, images: r.images.slice(0, r.frames.length) };
    },
    async geometry(frames, images, dir) {
      const saved = await saveAnswerArtifacts(
        model,
        { frames, images } as Pick<AskResult, 'frames' | 'images'> as AskResult,
        dir,
      );
      if (!saved.pointCloud || !saved.cameras) return undefined;
      return {
        ply: readFileSync(saved.pointCloud),
        cameras: JSON.parse(readFileSync(saved.cameras, 'utf8')).cameras,
      };
    },
    release: () => model.release(),
  };
}

/** The frames of an answer as kept on disk (frame_00_<index>.png …), in order. */
export function readAnswerImages(dir: string): RgbImage[] {
  mkdirSync(dir, { recursive: true });
  return readdirSync(dir)
    .filter((n) => /^frame_\d+_\d+\.png$/.test(n))
    .sort()
    .map((n) => readImage(join(dir, n)));
}

/** Checkpoints up to this size are offered to browser tabs (a tab holds the weights in memory twice). */
export const TAB_MODEL_LIMIT = 512 * 2 ** 20;

/** The files a loader reads from a checkpoint folder (configs, tokenizer, safetensors), when they fit a tab. */
export function checkpointFiles(dir: string): ModelFile[] {
  const files = readdirSync(dir)
    .filter((name) => /^[\w.-]+\.(json|safetensors|txt|jinja)$/.test(name))
    .map((name) => {
      const path = join(dir, name);
      const st = statSync(path);
      return {
        name,
        path,
        bytes: st.size,
        version: `${st.size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}`,
      };
    });
  return files.reduce((a, f) => a + f.bytes, 0) <= TAB_MODEL_LIMIT ? files : [];
}
