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
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import {
  checkFrameCount,
  DEFAULT_FRAME_COUNT,
  DEFAULT_FRAME_SAMPLING,
  type FrameSampling,
  type GeometryMode,
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
import { userCacheDir } from '../user_cache.ts';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.ts';

export {
  checkFrameCount,
  checkFrameSampling,
  checkGeometryMode,
  DEFAULT_FRAME_COUNT,
  DEFAULT_FRAME_SAMPLING,
  defaultGeometryMode,
  FRAME_SAMPLINGS,
  type FrameSampling,
  GEOMETRY_MODES,
  type GeometryMode,
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
  /** Space-aware only: how the candidates are reconstructed (default exact = upstream; see GEOMETRY_PLANS). */
  geometryMode?: GeometryMode;
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
  return o.cacheDir ?? userCacheDir('geometry');
}

/**
 * World points + confidence of the candidate frames, cached per video file (size + mtime), model, variant and
 * geometry plan. A cached exact reconstruction (from a GPU, say) serves any mode: it is the better one.
 */
export async function candidateGeometry(
  video: VideoSource,
  sampling: Exclude<FrameSampling, 'uniform'>,
  o: FrameSamplingOptions,
): Promise<{ candidates: number[]; maps: PointMaps }> {
  const st = statSync(video.path);
  const dir = geometryCacheDir(o);
  const entry = (mode: GeometryMode) => {
    const candidates = candidateFrameIndices(video.frameCount, GEOMETRY_PLANS[mode].candidates);
    // The exact plan keeps the key of caches written before there were plans.
    const plan = mode === 'exact' ? [] : [GEOMETRY_PLANS[mode]];
    const key = createHash('sha256')
      .update(
        JSON.stringify([video.path, st.size, st.mtimeMs, o.modelKey, candidates.length, sampling, ...plan]),
      )
      .digest('hex')
      .slice(0, 24);
    return { candidates, file: join(dir, `${key}.safetensors`) };
  };
  const mode = o.geometryMode ?? 'exact';
  for (const m of new Set<GeometryMode>(['exact', mode])) {
    const { candidates, file } = entry(m);
    if (!existsSync(file)) continue;
    const t = readSafetensors(file);
    return { candidates, maps: pointMaps(t.get('world_points')!, t.get('world_points_conf')!) };
  }
  if (!o.geometry)
    throw new InputError(`${sampling} sampling needs a model with VGGT; use --sampling uniform`);
  const { candidates, file } = entry(mode);
  const plan = GEOMETRY_PLANS[mode];
  const model = o.geometry();
  if (sampling === 'space-aware-depth' && !(model.config.heads.depth && model.config.heads.camera))
    throw new InputError('this checkpoint holds no VGGT depth/camera heads; use --sampling space-aware');
  const frames = await readFrames(video, candidates);
  const images = spatialMllmSamplingPreprocess(
    frames.map((fr) => fr.image),
    plan.width,
  );
  const maps = await reconstructCandidates(images, plan.chunkFrames, (chunk) =>
    predictPointMaps(model, chunk, sampling),
  );
  const dims = [1, maps.frames, maps.height, maps.width];
  mkdirSync(dir, { recursive: true });
  writeSafetensors(
    file,
    new Map([
      ['world_points', tensor('float32', [...dims, 3], maps.points)],
      ['world_points_conf', tensor('float32', dims, maps.conf)],
    ]),
  );
  return { candidates, maps };
}

/** How space-aware sampling reconstructs its candidates. */
export interface GeometryPlan {
  /** Candidate frames (at most; fewer in a shorter video). */
  candidates: number;
  /** Width of the frames VGGT sees, px (a multiple of 14; height scaled, centre-cropped to ≤ this). */
  width: number;
  /** Frames per VGGT call, the shared anchor included (see geometryChunks); ≥ candidates = one call. */
  chunkFrames: number;
}

/**
 * Candidate indices per VGGT call: all in one call when they fit; otherwise every call starts with candidate 0,
 * the anchor, and takes an interleaved share of the others (call j of k: 1+j, 1+j+k, …). VGGT predicts points in
 * its first frame's camera coordinates, so calls that share that frame share coordinates up to VGGT's per-call
 * scale normalisation (alignChunk). Interleaving makes each call a sparser sweep of the whole video, so every
 * call sees the scene the anchor sees and what its neighbours see, rather than one stretch of the walk.
 */
export function geometryChunks(candidates: number, chunkFrames: number): number[][] {
  if (!(Number.isInteger(chunkFrames) && chunkFrames >= 2))
    throw new Error(`geometry chunks need ≥ 2 frames (an anchor and one more), got ${chunkFrames}`);
  const all = Array.from({ length: candidates }, (_, i) => i);
  if (candidates <= chunkFrames) return [all];
  const k = Math.ceil((candidates - 1) / (chunkFrames - 1));
  return Array.from({ length: k }, (_, j) => [0, ...all.filter((i) => i > 0 && (i - 1) % k === j)]);
}

/** Frames `indices` of images [S, 3, H, W] (or [S, …]). */
function pickFrames(images: HostTensor, indices: number[]): HostTensor {
  const [S, ...rest] = images.shape;
  const n = images.data.length / S;
  const out = new Float32Array(indices.length * n);
  indices.forEach((s, j) => {
    out.set((images.data as Float32Array).subarray(s * n, (s + 1) * n), j * n);
  });
  return tensor('float32', [indices.length, ...rest], out);
}

/** Median of frame `s` of a [S, H, W] confidence map. */
function frameMedian(maps: PointMaps, s: number): number {
  const hw = maps.height * maps.width;
  const v = maps.conf.slice(s * hw, (s + 1) * hw).sort();
  return v[v.length >> 1];
}

/**
 * The scale that maps a call's points onto the reference call's: least squares s = Σ r·p / Σ p·p over the
 * anchor's pixels (frame 0 of both) that are at least as confident as the median in both calls. Both calls put
 * the anchor's camera at the origin with identity rotation, so scale is the one free parameter between them.
 */
export function alignChunk(reference: PointMaps, maps: PointMaps): number {
  const hw = maps.height * maps.width;
  const [r0, m0] = [frameMedian(reference, 0), frameMedian(maps, 0)];
  let [num, den] = [0, 0];
  for (let i = 0; i < hw; i++) {
    if (!(reference.conf[i] >= r0 && maps.conf[i] >= m0)) continue;
    for (let c = 0; c < 3; c++) {
      const [r, p] = [reference.points[i * 3 + c], maps.points[i * 3 + c]];
      if (!(Number.isFinite(r) && Number.isFinite(p))) continue;
      num += r * p;
      den += p * p;
    }
  }
  return den > 0 && num > 0 ? num / den : 1;
}

/**
 * Point maps of all candidate frames (images [S, 3, H, W]), by calls of `predict` on the chunks of
 * geometryChunks; each later call is scaled onto the first by its anchor (alignChunk), whose map is taken from
 * the first call. One chunk = one call, the maps as predicted.
 */
export async function reconstructCandidates(
  images: HostTensor,
  chunkFrames: number,
  predict: (images: HostTensor) => Promise<PointMaps>,
): Promise<PointMaps> {
  const S = images.shape[0];
  const chunks = geometryChunks(S, chunkFrames);
  if (chunks.length === 1) return predict(images);
  let out: PointMaps | undefined;
  let reference: PointMaps | undefined;
  for (const chunk of chunks) {
    const maps = await predict(pickFrames(images, chunk));
    const hw = maps.height * maps.width;
    out ??= {
      frames: S,
      height: maps.height,
      width: maps.width,
      points: new Float32Array(S * hw * 3),
      conf: new Float32Array(S * hw),
    };
    const scale = reference ? alignChunk(reference, maps) : 1;
    chunk.forEach((s, j) => {
      if (reference && j === 0) return;
      const pts = maps.points.subarray(j * hw * 3, (j + 1) * hw * 3);
      out!.points.set(scale === 1 ? pts : pts.map((v) => v * scale), s * hw * 3);
      out!.conf.set(maps.conf.subarray(j * hw, (j + 1) * hw), s * hw);
    });
    reference ??= maps;
  }
  return out!;
}

/** VGGT's point maps of images [S, 3, H, W]: its point head (space-aware), or its depth unprojected with its
 * cameras (space-aware-depth); only the heads needed run. */
async function predictPointMaps(
  model: GeometryModel,
  images: HostTensor,
  sampling: Exclude<FrameSampling, 'uniform'>,
): Promise<PointMaps> {
  const fromDepth = sampling === 'space-aware-depth';
  const pred = await model.predict(images, {
    heads: { camera: fromDepth, depth: fromDepth, point: !fromDepth },
  });
  if (!fromDepth) return pointMaps(pred.worldPoints!, pred.worldPointsConf!);
  const [S, , H, W] = images.shape;
  const poses = pred.poseEncList![pred.poseEncList!.length - 1].data as Float32Array;
  return pointMapsFromDepth(
    pred.depth!.data as Float32Array,
    pred.depthConf!.data as Float32Array,
    poseEncodingToCameras(poses, H, W),
    { frames: S, height: H, width: W },
  );
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

/** Candidate frames VGGT reconstructs (upstream's fixed 128; the exact geometry plan). */
export const MAX_CANDIDATES = 128;
/** Percentile of the confidences a point must reach, and the absolute floor it must exceed. */
export const CONF_PERCENTILE = 50;
export const MIN_CONF = 0.1;
/** The voxel edge is the smallest extent of the confident points' box divided by this. */
export const VOXELS_PER_MIN_EXTENT = 20;

/**
 * exact: upstream's 128 candidates at 518 px in one VGGT call (global attention over ~133k tokens: a GPU's work).
 * cpu: 32 candidates at 294×224 px (3× fewer tokens per frame) in 3 calls of ≤ 12 frames sharing one anchor
 * frame (~77× fewer aggregator FLOPs). On 12 synthetic rooms with exact geometry (npm run bench:sampling) its 16
 * picks keep 98.6% of the exact plan's voxel coverage (min 96.6%; 8 picks: 98.8%, uniform 92.9%); random VGGT-1B
 * weights take ≈ 470 CPU s for it (≈ 4–5 min on an idle 2-core machine). 64 candidates at 224 px in 5 calls keep
 * more on exact geometry (99.3%) at a similar cost, but VGGT (trained at 518 px) is further from home there.
 */
export const GEOMETRY_PLANS: Record<GeometryMode, GeometryPlan> = {
  exact: { candidates: MAX_CANDIDATES, width: 518, chunkFrames: MAX_CANDIDATES },
  cpu: { candidates: 32, width: 294, chunkFrames: 16 },
};

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
