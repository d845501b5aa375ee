// Frame sampling: which frames of a video the model sees — uniform sampling (qwen_vl_utils) and space-aware
// sampling (Spatial-MLLM paper §3.3) in both variants with its per-video geometry cache. The sampling modes, the
// default frame count and its check live in ../frame_options.ts (eval may not import the pipeline) and are
// re-exported here.
//
// Space-aware: reconstruct the candidate frames with VGGT, voxelise the confident points, and greedily pick the K
// frames that cover the most voxels. Upstream: THU-SI/Spatial-MLLM `src/sampling/sa_sampling.py`
// (`space_aware_frame_sampling`, `compute_voxel_sets`, `maximum_coverage_sampling`, and the candidate logic of
// `process_videos_on_device`). Every float32 rounding of upstream's torch code is reproduced (Math.fround), so
// voxel sets match exactly.
//
// Difference from upstream, on purpose: upstream writes candidates as `frame_{idx:04d}.png` and reads them back
// in lexicographic order, which misorders videos longer than 10,000 frames; here candidates stay in time order.
//
// Light on purpose (no ONNX Runtime): VGGT comes in as a `GeometryModel`, so the CLI can import this file
// without loading a model.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import {
  checkFrameCount,
  DEFAULT_FRAME_COUNT,
  DEFAULT_FRAME_SAMPLING,
  type FrameSampling,
} from '../frame_options.ts';
import { readFrames, type VideoSource } from '../media/video.ts';
import {
  type Cameras,
  confidenceMask,
  type MapDims,
  poseEncodingToCameras,
  unprojectDepthMaps,
} from '../models/vggt/geometry.ts';
import type { VggtModel } from '../models/vggt/model.ts';
import { spatialMllmSamplingPreprocess } from '../models/vggt/preprocess.ts';
import { npLinspaceInt, roundHalfEven, torchLinspace32 } from '../python_compat.ts';
import { type HostTensor, tensor } from '../tensor.ts';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.ts';

export {
  checkFrameCount,
  checkFrameSampling,
  DEFAULT_FRAME_COUNT,
  DEFAULT_FRAME_SAMPLING,
  FRAME_SAMPLINGS,
  type FrameSampling,
  MIN_FRAME_COUNT,
} from '../frame_options.ts';

/**
 * `k` frame indices spread evenly over an `n`-frame video, as qwen_vl_utils picks them:
 * `torch.linspace(0, n − 1, k).round()`. torch evaluates linspace in float32 (start + i·step for the first half,
 * end − (k−1−i)·step for the second, as its scalar CPU kernel does; its vectorised kernel can differ by one
 * frame on exact .5 ties) and rounds halves to even.
 */
export function uniformIndices(n: number, k: number): number[] {
  if (!(Number.isInteger(n) && n > 0 && Number.isInteger(k) && k > 0))
    throw new InputError(`cannot pick ${k} frames from a ${n}-frame video: both must be positive integers`);
  return torchLinspace32(0, n - 1, k).map(roundHalfEven);
}

/** VGGT with its heads, as space-aware sampling needs it (SpatialMllm.geometry() gives one). */
export type GeometryModel = Pick<VggtModel, 'config' | 'predict'>;

export interface FrameSamplingOptions {
  /** Frames to pick (default 16). */
  frames?: number;
  sampling?: FrameSampling;
  /** Space-aware only: the VGGT to reconstruct candidates with, asked for only on a cache miss. */
  geometry?: () => GeometryModel;
  /** Space-aware only: names the model in the cache key (e.g. its checkpoint folder). */
  modelKey?: string;
  /** Where per-video geometry is cached (default $XDG_CACHE_HOME or ~/.cache, then spatial-mllm/geometry). */
  cacheDir?: string;
}

/** Voxel coverage of a space-aware choice. */
export interface Coverage {
  covered: number;
  total: number;
  ratio: number;
  /** New voxels per pick, in pick order. */
  gains: number[];
}

export interface FrameChoice {
  /** Frame indices of the video, ascending. Space-aware may return fewer than asked (coverage saturates). */
  indices: number[];
  sampling: FrameSampling;
  coverage?: Coverage;
  selection?: SpaceAwareSelection;
}

/** Picks the frames of `video` the model sees. */
export async function sampleFrames(video: VideoSource, o: FrameSamplingOptions = {}): Promise<FrameChoice> {
  const k = checkFrameCount(o.frames ?? DEFAULT_FRAME_COUNT);
  const sampling = o.sampling ?? DEFAULT_FRAME_SAMPLING;
  if (video.frameCount < 1) throw new InputError(`${video.path}: the video has no frames`);
  if (sampling === 'uniform')
    return { indices: uniformIndices(video.frameCount, Math.min(k, video.frameCount)), sampling };
  const { candidates, maps } = await candidateGeometry(video, sampling, o);
  const selection = spaceAwareSampling(maps, k);
  const covered = selection.covered;
  return {
    indices: selection.selected.map((i) => candidates[i]),
    sampling,
    selection,
    coverage: {
      covered,
      total: selection.totalVoxels,
      ratio: selection.totalVoxels ? covered / selection.totalVoxels : 0,
      gains: selection.gains,
    },
  };
}

function geometryCacheDir(o: FrameSamplingOptions): string {
  return (
    o.cacheDir ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'spatial-mllm', 'geometry')
  );
}

/** World points + confidence of the candidate frames, cached per video file (size + mtime), model and variant. */
export async function candidateGeometry(
  video: VideoSource,
  sampling: Exclude<FrameSampling, 'uniform'>,
  o: FrameSamplingOptions,
): Promise<{ candidates: number[]; maps: PointMaps }> {
  const candidates = candidateFrameIndices(video.frameCount);
  const st = statSync(video.path);
  const key = createHash('sha256')
    .update(JSON.stringify([video.path, st.size, st.mtimeMs, o.modelKey, candidates.length, sampling]))
    .digest('hex')
    .slice(0, 24);
  const dir = geometryCacheDir(o);
  const file = join(dir, `${key}.safetensors`);
  if (existsSync(file)) {
    const t = readSafetensors(file);
    return { candidates, maps: pointMaps(t.get('world_points')!, t.get('world_points_conf')!) };
  }
  if (!o.geometry)
    throw new InputError(`${sampling} sampling needs a model with VGGT; use --sampling uniform`);
  const model = o.geometry();
  if (sampling === 'space-aware-depth' && !(model.config.heads.depth && model.config.heads.camera))
    throw new InputError('this checkpoint holds no VGGT depth/camera heads; use --sampling space-aware');
  const frames = await readFrames(video, candidates);
  const images = spatialMllmSamplingPreprocess(frames.map((fr) => fr.image));
  const pred = await model.predict(images);
  let points = pred.worldPoints!;
  let conf = pred.worldPointsConf!;
  if (sampling === 'space-aware-depth') {
    const [S, H, W] = [images.shape[0], images.shape[2], images.shape[3]];
    const poses = pred.poseEncList![pred.poseEncList!.length - 1].data as Float32Array;
    const maps = pointMapsFromDepth(
      pred.depth!.data as Float32Array,
      pred.depthConf!.data as Float32Array,
      poseEncodingToCameras(poses, H, W),
      { frames: S, height: H, width: W },
    );
    points = tensor('float32', [1, S, H, W, 3], maps.points);
    conf = tensor('float32', [1, S, H, W], maps.conf);
  }
  mkdirSync(dir, { recursive: true });
  writeSafetensors(
    file,
    new Map([
      ['world_points', points],
      ['world_points_conf', conf],
    ]),
  );
  return { candidates, maps: pointMaps(points, conf) };
}

/** [1?, S, H, W, 3] points and [1?, S, H, W] confidences as PointMaps. */
function pointMaps(points: HostTensor, conf: HostTensor): PointMaps {
  const [, S, H, W] = points.shape.length === 5 ? points.shape : [1, ...points.shape];
  return {
    frames: S,
    height: H,
    width: W,
    points: points.data as Float32Array,
    conf: conf.data as Float32Array,
  };
}

const f = Math.fround;

/** Candidate frames VGGT reconstructs (upstream's fixed 128). */
export const MAX_CANDIDATES = 128;
/** Percentile of the confidences a point must reach, and the absolute floor it must exceed. */
export const CONF_PERCENTILE = 50;
export const MIN_CONF = 0.1;
/** The voxel edge is the smallest extent of the confident points' box divided by this. */
export const VOXELS_PER_MIN_EXTENT = 20;

/** Per-pixel world points [S,H,W,3] and their confidences [S,H,W] of the candidate frames. */
export interface PointMaps extends MapDims {
  points: Float32Array;
  conf: Float32Array;
}

/** The min(128, N) candidate frame indices of an N-frame video, in time order. */
export function candidateFrameIndices(numFrames: number, maxCandidates = MAX_CANDIDATES): number[] {
  if (!Number.isInteger(numFrames) || numFrames < 1)
    throw new InputError(
      `the video has ${numFrames} frames: space-aware sampling needs at least one decodable frame`,
    );
  return npLinspaceInt(numFrames - 1, Math.min(maxCandidates, numFrames));
}

/** The voxel grid: origin (min corner of the confident points' box), far corner, edge length, cells per axis. */
export interface VoxelGrid {
  min: [number, number, number];
  max: [number, number, number];
  voxelSize: number;
  cells: [number, number, number];
}

/** Box of the masked points and voxel edge = min extent / 20, all in float32 like upstream. */
export function voxelGrid(maps: PointMaps, mask: Uint8Array): VoxelGrid {
  const min: [number, number, number] = [Infinity, Infinity, Infinity];
  const max: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  for (let n = 0; n < mask.length; n++) {
    if (!mask[n]) continue;
    for (let c = 0; c < 3; c++) {
      const v = maps.points[n * 3 + c];
      if (v < min[c]) min[c] = v;
      if (v > max[c]) max[c] = v;
    }
  }
  if (min[0] === Infinity)
    throw new InputError(
      'space-aware sampling found no confident 3D points: the reconstruction failed; use uniform sampling for this video',
    );
  const extent = min.map((lo, c) => f(max[c] - lo));
  const voxelSize = f(Math.min(...extent) / VOXELS_PER_MIN_EXTENT);
  if (!(voxelSize > 0) || !Number.isFinite(voxelSize))
    throw new InputError(
      `space-aware sampling found a degenerate scene (confident points span a box of extents ${extent.join(', ')}): use uniform sampling for this video`,
    );
  const cells = extent.map((e) => voxelIndex(e, voxelSize) + 1) as [number, number, number];
  if (cells[0] * cells[1] * cells[2] > Number.MAX_SAFE_INTEGER)
    throw new InputError(
      `space-aware sampling found a degenerate scene (voxel grid ${cells.join('×')}): use uniform sampling for this video`,
    );
  return { min, max, voxelSize, cells };
}

/** floor((p − min) / voxel) with both steps rounded to float32, as upstream's float32 tensors do. */
const voxelIndex = (offset: number, voxelSize: number) => Math.floor(f(offset / voxelSize));

/**
 * Each frame's set of occupied voxels as sorted unique keys ((ix·cy + iy)·cz + iz). A frame without
 * confident points has an empty set.
 */
export function frameVoxelSets(maps: PointMaps, mask: Uint8Array, grid: VoxelGrid): Float64Array[] {
  const hw = maps.height * maps.width;
  const [, cy, cz] = grid.cells;
  const [x0, y0, z0] = grid.min;
  const { points } = maps;
  const size = grid.voxelSize;
  const keys = new Float64Array(hw);
  return Array.from({ length: maps.frames }, (_, s) => {
    let count = 0;
    for (let n = s * hw; n < (s + 1) * hw; n++) {
      if (!mask[n]) continue;
      const ix = voxelIndex(f(points[n * 3] - x0), size);
      const iy = voxelIndex(f(points[n * 3 + 1] - y0), size);
      const iz = voxelIndex(f(points[n * 3 + 2] - z0), size);
      keys[count++] = (ix * cy + iy) * cz + iz;
    }
    return uniqueSorted(keys.slice(0, count));
  });
}

function uniqueSorted(a: Float64Array): Float64Array {
  a.sort();
  let n = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[n - 1]) a[n++] = a[i];
  return a.slice(0, n);
}

/** Voxel (ix, iy, iz) of a key made by frameVoxelSets. */
export function voxelOfKey(key: number, grid: VoxelGrid): [number, number, number] {
  const [, cy, cz] = grid.cells;
  return [Math.floor(key / (cy * cz)), Math.floor(key / cz) % cy, key % cz];
}

/** A greedy maximum-coverage run: frames in pick order and the new voxels each pick added. */
export interface CoverageRun {
  order: number[];
  gains: number[];
}

/**
 * Greedy maximum coverage, up to k picks: each round scans the remaining frames in ascending order and takes the
 * first with the strictly largest number of uncovered voxels; stops early when the best gain is 0.
 */
export function greedyMaxCoverage(sets: Float64Array[], k: number): CoverageRun {
  const covered = new Set<number>();
  const remaining = new Set(sets.map((_, i) => i));
  const run: CoverageRun = { order: [], gains: [] };
  while (run.order.length < k && remaining.size > 0) {
    let [best, bestGain] = [-1, 0];
    for (const frame of [...remaining].sort((a, b) => a - b)) {
      let gain = 0;
      for (const key of sets[frame]) if (!covered.has(key)) gain++;
      if (gain > bestGain) [best, bestGain] = [frame, gain];
    }
    if (best < 0) break;
    for (const key of sets[best]) covered.add(key);
    remaining.delete(best);
    run.order.push(best);
    run.gains.push(bestGain);
  }
  return run;
}

/** What space-aware sampling chose, and the coverage figures behind the choice. */
export interface SpaceAwareSelection {
  /** Chosen frames (indices into the candidate frames), in time order; fewer than K when coverage saturates. */
  selected: number[];
  /** Chosen frames in greedy pick order, and the voxels each pick newly covered. */
  greedyOrder: number[];
  gains: number[];
  /** Voxels covered by the selection, and by all candidates together. */
  covered: number;
  totalVoxels: number;
  voxelsPerFrame: number[];
  /** Confidence percentile (float64, as numpy gives it), confident points kept, and the voxel grid. */
  threshold: number;
  confidentPoints: number;
  grid: VoxelGrid;
}

/** Selects up to k of the candidate frames by voxel coverage of their confident world points. */
export function spaceAwareSampling(maps: PointMaps, k: number): SpaceAwareSelection {
  const { mask, threshold } = confidenceMask(maps.conf, CONF_PERCENTILE, MIN_CONF);
  const grid = voxelGrid(maps, mask);
  const sets = frameVoxelSets(maps, mask, grid);
  const run = greedyMaxCoverage(sets, k);
  const all = new Set<number>();
  for (const set of sets) for (const key of set) all.add(key);
  let confidentPoints = 0;
  for (const m of mask) confidentPoints += m;
  return {
    selected: [...run.order].sort((a, b) => a - b),
    greedyOrder: run.order,
    gains: run.gains,
    covered: run.gains.reduce((a, b) => a + b, 0),
    totalVoxels: all.size,
    voxelsPerFrame: sets.map((set) => set.length),
    threshold,
    confidentPoints,
    grid,
  };
}

/**
 * The paper's variant: world points unprojected from VGGT's depth maps [S,H,W] and cameras instead of its point
 * head, with the depth confidences.
 */
export function pointMapsFromDepth(
  depth: Float32Array,
  depthConf: Float32Array,
  cameras: Cameras,
  dims: MapDims,
): PointMaps {
  return { ...dims, points: unprojectDepthMaps(depth, cameras, dims), conf: depthConf };
}
