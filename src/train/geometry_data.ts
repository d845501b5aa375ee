// Ground truth of the geometry stage: rendered rooms of `data synth` (`<scene>.mp4` beside `<scene>.safetensors`
// with exact depth, intrinsics and world-to-camera extrinsics, src/data/synth/write.ts) as VGGT's training
// targets. The images are the mp4's decoded frames (what the model sees at inference), not the raw renders.
//
// Normalisation as VGGT's training data (facebookresearch/vggt `training/train_utils/normalization.py`,
// `normalize_camera_extrinsics_and_points_batch`, mode "mean"): every camera is re-expressed relative to the first
// one (E_i · E_0⁻¹, so frame 0 is the identity and world points live in the first camera's frame), then
// translations, world points and depths are divided by the mean distance of the valid world points to the origin.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openVideo, readFrames } from '../media/video.ts';
import { type Cameras, camerasToPoseEncoding, unprojectDepthMaps } from '../models/vggt/geometry.ts';
import { toUnitTensor } from '../models/vggt/preprocess.ts';
import { type HostTensor, tensor } from '../tensor.ts';
import { readSafetensors } from '../weights/safetensors.ts';

/** A rendered scene: its video and its ground-truth tensors. */
export interface RenderedScene {
  name: string;
  video: string;
  truth: string;
}

/** Scenes of a `data synth` folder (also its `synthetic/` subfolder), complete ones only, sorted by name. */
export function listRenderedScenes(dir: string): RenderedScene[] {
  const dirs = [dir, join(dir, 'synthetic')].filter((d) => existsSync(d) && statSync(d).isDirectory());
  return dirs
    .flatMap((d) =>
      readdirSync(d)
        .filter((f) => f.endsWith('.json') && existsSync(join(d, f.replace(/\.json$/, '.safetensors'))))
        .map((f) => {
          const base = join(d, f.replace(/\.json$/, ''));
          return { name: f.replace(/\.json$/, ''), video: `${base}.mp4`, truth: `${base}.safetensors` };
        })
        .filter((s) => existsSync(s.video)),
    )
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One training sequence, batch 1: images and the normalised targets of the vggt losses. */
export interface GeometrySample {
  /** [1, S, 3, H, W] in [0, 1]. */
  images: HostTensor;
  /** [1, S, 9] absT_quaR_FoV of the normalised cameras. */
  pose: HostTensor;
  /** [1, S, H, W, 1] normalised depth, [1, S, H, W, 3] points in the first camera's frame, [1, S, H, W] valid. */
  depth: HostTensor;
  points: HostTensor;
  mask: HostTensor;
  /** Normalised cameras (first = identity) and the metres per normalised unit. */
  cameras: Cameras;
  scale: number;
}

/** Row-major 3×4 [R|t] composed with the inverse of another: E · E0⁻¹ = [R·R0ᵀ | t − R·R0ᵀ·t0]. */
function relativeTo(E: ArrayLike<number>, E0: ArrayLike<number>): number[] {
  const R = (m: ArrayLike<number>, r: number, c: number) => m[r * 4 + c];
  const out = new Array<number>(12).fill(0);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += R(E, r, k) * R(E0, c, k);
      out[r * 4 + c] = s;
    }
    let rt0 = 0;
    for (let k = 0; k < 3; k++) rt0 += out[r * 4 + k] * R(E0, k, 3);
    out[r * 4 + 3] = R(E, r, 3) - rt0;
  }
  return out;
}

/**
 * VGGT's normalisation of ground truth depth [S, H, W] and cameras: first camera = identity, scale = mean
 * distance of the valid points (depth > 0) to it. Returns the normalised tensors (batch 1) and the scale.
 */
export function normaliseGroundTruth(
  depth: Float32Array,
  cameras: Cameras,
  dims: { frames: number; height: number; width: number },
): Omit<GeometrySample, 'images'> {
  const { frames: S, height: H, width: W } = dims;
  const E0 = cameras.extrinsics.subarray(0, 12);
  const extrinsics = new Float32Array(S * 12);
  for (let s = 0; s < S; s++)
    extrinsics.set(relativeTo(cameras.extrinsics.subarray(s * 12, s * 12 + 12), E0), s * 12);
  const relative: Cameras = { extrinsics, intrinsics: cameras.intrinsics };
  const points = unprojectDepthMaps(depth, relative, dims);
  const mask = new Float32Array(S * H * W);
  let [sum, count] = [0, 0];
  for (let i = 0; i < mask.length; i++)
    if (depth[i] > 0) {
      mask[i] = 1;
      sum += Math.hypot(points[3 * i], points[3 * i + 1], points[3 * i + 2]);
      count++;
    }
  const scale = count > 0 && sum > 0 ? sum / count : 1;
  for (let s = 0; s < S; s++) for (let r = 0; r < 3; r++) extrinsics[s * 12 + r * 4 + 3] /= scale;
  const nDepth = depth.map((d) => d / scale);
  const nPoints = points.map((p, i) => (mask[Math.floor(i / 3)] ? p / scale : 0));
  return {
    pose: tensor('float32', [1, S, 9], camerasToPoseEncoding(relative, H, W)),
    depth: tensor('float32', [1, S, H, W, 1], nDepth),
    points: tensor('float32', [1, S, H, W, 3], nPoints),
    mask: tensor('float32', [1, S, H, W], mask),
    cameras: relative,
    scale,
  };
}

/** Frames `indices` of a scene: their ground truth sliced out of `<scene>.safetensors`. */
export function sceneTruth(
  scene: RenderedScene,
  indices: readonly number[],
): { depth: Float32Array; cameras: Cameras; dims: { frames: number; height: number; width: number } } {
  const t = readSafetensors(scene.truth);
  const [T, H, W] = t.get('depth')!.shape;
  for (const i of indices)
    if (!(i >= 0 && i < T)) throw new Error(`${scene.truth}: frame ${i} is outside 0..${T - 1}`);
  const pick = (name: string, per: number) => {
    const src = t.get(name)!.data as Float32Array;
    const out = new Float32Array(indices.length * per);
    indices.forEach((f, k) => {
      out.set(src.subarray(f * per, (f + 1) * per), k * per);
    });
    return out;
  };
  return {
    depth: pick('depth', H * W),
    cameras: { extrinsics: pick('extrinsics', 12), intrinsics: pick('intrinsics', 9) },
    dims: { frames: indices.length, height: H, width: W },
  };
}

/** Frame count of a scene's ground truth. */
export const sceneFrames = (scene: RenderedScene): number =>
  readSafetensors(scene.truth).get('depth')!.shape[0];

/** Decoded frames `indices` of the scene's video as [1, S, 3, H, W] in [0, 1] (must match the renders' size). */
export async function sceneImages(scene: RenderedScene, indices: readonly number[]): Promise<HostTensor> {
  const video = await openVideo(scene.video);
  const frames = await readFrames(video, indices);
  if (frames.length !== new Set(indices).size)
    throw new Error(`${scene.video}: decoded ${frames.length} of ${indices.length} frames`);
  const byIndex = new Map(frames.map((f) => [f.index, f.image]));
  const images = toUnitTensor(indices.map((i) => byIndex.get(i)!));
  return { ...images, shape: [1, ...images.shape] };
}

/** A training or evaluation sequence: decoded frames + normalised ground truth. */
export async function geometrySample(
  scene: RenderedScene,
  indices: readonly number[],
): Promise<GeometrySample> {
  const truth = sceneTruth(scene, indices);
  const images = await sceneImages(scene, indices);
  const [, , , H, W] = images.shape;
  if (H !== truth.dims.height || W !== truth.dims.width)
    throw new Error(
      `${scene.video}: frames are ${W}×${H} but ${scene.truth} holds ${truth.dims.width}×${truth.dims.height} maps`,
    );
  return { images, ...normaliseGroundTruth(truth.depth, truth.cameras, truth.dims) };
}
