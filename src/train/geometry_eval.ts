// Figures of the geometry stage on held-out rooms: VGGT (inference code, src/models/vggt/model.ts) run on all
// decoded frames of each evaluation video, compared with the rooms' exact ground truth (normalised as in
// training, src/train/geometry_data.ts: first camera = identity, mean point distance = 1).
//   depth AbsRel      mean |s·d̂ − d| / d over valid pixels, s = median(d) / median(d̂) per sequence (median
//                     scaling: VGGT's depth is defined up to the sequence scale);
//   rotation error    angle of R̂ᵢ·Rᵢᵀ in degrees, frames 1..S−1 (frame 0 is the reference in both);
//   translation error ‖t̂ᵢ − tᵢ‖ in normalised units, and in metres (× the room's scale);
//   coverage          share of the ground-truth voxels (src/pipeline/frame_sampling.ts voxel grid on the exact
//                     point maps) covered by the K frames picked by: uniform sampling, space-aware sampling on
//                     VGGT's point head (`space-aware`), on its depth + cameras (`space-aware-depth`), and greedy
//                     max coverage on the ground truth itself (the best a picker can do).
import { InputError } from '../errors.ts';
import { percentile, poseEncodingToCameras, unprojectDepthMaps } from '../models/vggt/geometry.ts';
import { VggtModel } from '../models/vggt/model.ts';
import {
  frameVoxelSets,
  greedyMaxCoverage,
  type PointMaps,
  pointMapsFromDepth,
  spaceAwareSampling,
  uniformIndices,
  voxelGrid,
} from '../pipeline/frame_sampling.ts';
import {
  listRenderedScenes,
  normaliseGroundTruth,
  sceneFrames,
  sceneImages,
  sceneTruth,
} from './geometry_data.ts';

export interface CoverageFigures {
  uniform: number;
  spaceAware: number;
  spaceAwareDepth: number;
  groundTruth: number;
}

export interface GeometryFigures {
  rooms: number;
  framesPerRoom: number;
  picks: number;
  depthAbsRel: number;
  rotationErrorDeg: number;
  translationError: number;
  translationErrorM: number;
  /** Mean coverage ratios over the rooms where the picker succeeded. */
  coverage: CoverageFigures;
  /** Rooms where space-aware sampling refused the reconstruction (no confident or a degenerate box). */
  samplingFailures: { spaceAware: number; spaceAwareDepth: number };
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

/** Share of the union of all `sets` covered by the union of `picked` ones. */
export function coverageOf(sets: readonly Float64Array[], picked: readonly number[]): number {
  const all = new Set<number>();
  for (const s of sets) for (const k of s) all.add(k);
  const got = new Set<number>();
  for (const i of picked) for (const k of sets[i]) got.add(k);
  return all.size ? got.size / all.size : 0;
}

/** Median-scaled AbsRel of predicted depth against ground truth (valid where gt > 0). */
export function depthAbsRel(pred: Float32Array, gt: Float32Array): number {
  const idx: number[] = [];
  for (let i = 0; i < gt.length; i++) if (gt[i] > 0 && Number.isFinite(pred[i])) idx.push(i);
  const s =
    percentile(
      Float32Array.from(idx, (i) => gt[i]),
      50,
    ) /
    percentile(
      Float32Array.from(idx, (i) => pred[i]),
      50,
    );
  return mean(idx.map((i) => Math.abs(s * pred[i] - gt[i]) / gt[i]));
}

/** Angle in degrees between two row-major 3×4 [R|t] rotations. */
export function rotationAngleDeg(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let trace = 0;
  for (let r = 0; r < 3; r++) for (let k = 0; k < 3; k++) trace += a[r * 4 + k] * b[r * 4 + k];
  return (Math.acos(Math.min(1, Math.max(-1, (trace - 1) / 2))) * 180) / Math.PI;
}

function pickOrFail(maps: PointMaps, k: number): number[] | undefined {
  try {
    return spaceAwareSampling(maps, k).selected;
  } catch (e) {
    if (e instanceof InputError) return undefined;
    throw e;
  }
}

/** Figures of the VGGT in checkpoint `model` on the rooms of `data` (a `data synth` folder), K = `picks`. */
export async function geometryFigures(
  model: string,
  data: string,
  o: { picks: number; threads?: number },
): Promise<GeometryFigures> {
  const scenes = listRenderedScenes(data);
  if (scenes.length === 0) throw new InputError(`${data} holds no rendered scenes; run data synth`);
  const vggt = VggtModel.load(model, { threads: o.threads });
  const acc = {
    absRel: [] as number[],
    rot: [] as number[],
    trans: [] as number[],
    transM: [] as number[],
    uniform: [] as number[],
    sa: [] as number[],
    saDepth: [] as number[],
    gt: [] as number[],
  };
  let framesPerRoom = 0;
  try {
    for (const scene of scenes) {
      const T = sceneFrames(scene);
      framesPerRoom = T;
      const all = Array.from({ length: T }, (_, i) => i);
      const truth = sceneTruth(scene, all);
      const norm = normaliseGroundTruth(truth.depth, truth.cameras, truth.dims);
      const { height: H, width: W } = truth.dims;
      const pred = await vggt.predict(await sceneImages(scene, all));
      const depth = pred.depth!.data as Float32Array;
      acc.absRel.push(depthAbsRel(depth, truth.depth));
      const poses = pred.poseEncList![pred.poseEncList!.length - 1].data as Float32Array;
      const cams = poseEncodingToCameras(poses, H, W);
      for (let s = 1; s < T; s++) {
        const p = cams.extrinsics.subarray(s * 12, s * 12 + 12);
        const g = norm.cameras.extrinsics.subarray(s * 12, s * 12 + 12);
        acc.rot.push(rotationAngleDeg(p, g));
        const d = Math.hypot(p[3] - g[3], p[7] - g[7], p[11] - g[11]);
        acc.trans.push(d);
        acc.transM.push(d * norm.scale);
      }
      // Ground-truth voxels: the exact points of every valid pixel.
      const gtMaps: PointMaps = {
        ...truth.dims,
        points: unprojectDepthMaps(truth.depth, truth.cameras, truth.dims),
        conf: new Float32Array(truth.depth.length).fill(1),
      };
      const valid = Uint8Array.from(truth.depth, (d) => (d > 0 ? 1 : 0));
      const sets = frameVoxelSets(gtMaps, valid, voxelGrid(gtMaps, valid));
      acc.uniform.push(coverageOf(sets, uniformIndices(T, o.picks)));
      acc.gt.push(coverageOf(sets, greedyMaxCoverage(sets, o.picks).order));
      const dims = { frames: T, height: H, width: W };
      const fromPoints: PointMaps = {
        ...dims,
        points: pred.worldPoints!.data as Float32Array,
        conf: pred.worldPointsConf!.data as Float32Array,
      };
      const fromDepth = pointMapsFromDepth(depth, pred.depthConf!.data as Float32Array, cams, dims);
      const sa = pickOrFail(fromPoints, o.picks);
      if (sa) acc.sa.push(coverageOf(sets, sa));
      const saDepth = pickOrFail(fromDepth, o.picks);
      if (saDepth) acc.saDepth.push(coverageOf(sets, saDepth));
    }
  } finally {
    await vggt.release();
  }
  return {
    rooms: scenes.length,
    framesPerRoom,
    picks: o.picks,
    depthAbsRel: mean(acc.absRel),
    rotationErrorDeg: mean(acc.rot),
    translationError: mean(acc.trans),
    translationErrorM: mean(acc.transM),
    coverage: {
      uniform: mean(acc.uniform),
      spaceAware: mean(acc.sa),
      spaceAwareDepth: mean(acc.saDepth),
      groundTruth: mean(acc.gt),
    },
    samplingFailures: {
      spaceAware: scenes.length - acc.sa.length,
      spaceAwareDepth: scenes.length - acc.saDepth.length,
    },
  };
}

/** Before / after as a markdown table. */
export function geometryTable(before: GeometryFigures, after: GeometryFigures): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const rows: [string, (f: GeometryFigures) => string][] = [
    ['depth AbsRel (median-scaled)', (f) => f.depthAbsRel.toFixed(3)],
    ['camera rotation error (deg)', (f) => f.rotationErrorDeg.toFixed(2)],
    ['camera translation error (normalised)', (f) => f.translationError.toFixed(3)],
    ['camera translation error (m)', (f) => f.translationErrorM.toFixed(3)],
    [`coverage of ${after.picks} picks: uniform`, (f) => pct(f.coverage.uniform)],
    [
      'coverage: space-aware (point head)',
      (f) =>
        `${pct(f.coverage.spaceAware)}${f.samplingFailures.spaceAware ? ` (${f.samplingFailures.spaceAware} failed)` : ''}`,
    ],
    [
      'coverage: space-aware-depth (depth + cameras)',
      (f) =>
        `${pct(f.coverage.spaceAwareDepth)}${f.samplingFailures.spaceAwareDepth ? ` (${f.samplingFailures.spaceAwareDepth} failed)` : ''}`,
    ],
    ['coverage: greedy on ground truth', (f) => pct(f.coverage.groundTruth)],
  ];
  return [
    `| held-out rooms: ${after.rooms} × ${after.framesPerRoom} frames | random init | trained |`,
    '| --- | --- | --- |',
    ...rows.map(([name, get]) => `| ${name} | ${get(before)} | ${get(after)} |`),
  ].join('\n');
}
