// Geometry of oriented boxes for the QA generators: corners, exact closest-point distances between boxes (what
// VSI-Bench's "measuring from the closest point of each object" means), floor footprints, planar angles.
// Upstream (VITA-Group/VLM-3R `vlm_3r_data_process/src/utils/common_utils.py`, cal_3d_bbox_distance_between_
// categories) approximates the distance by sampling the box shells on a 5 cm grid; we compute it exactly.
import type { OrientedBox, Vec2, Vec3 } from './scene.ts';

export interface Box {
  center: Vec3;
  /** Unit axes (the rows of `normalizedAxes`). */
  axes: [Vec3, Vec3, Vec3];
  half: Vec3;
}

const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
const norm = (a: Vec3): number => Math.sqrt(dot(a, a));

export function toBox(b: OrientedBox): Box {
  const r = b.normalizedAxes;
  return {
    center: b.centroid,
    axes: [
      [r[0], r[1], r[2]],
      [r[3], r[4], r[5]],
      [r[6], r[7], r[8]],
    ],
    half: [b.axesLengths[0] / 2, b.axesLengths[1] / 2, b.axesLengths[2] / 2],
  };
}

/** The 8 corners (order: sign patterns of the three axes, x fastest). */
export function corners(box: Box): Vec3[] {
  const out: Vec3[] = [];
  for (const sz of [-1, 1])
    for (const sy of [-1, 1])
      for (const sx of [-1, 1]) {
        let p = box.center;
        p = add(p, scale(box.axes[0], sx * box.half[0]));
        p = add(p, scale(box.axes[1], sy * box.half[1]));
        p = add(p, scale(box.axes[2], sz * box.half[2]));
        out.push(p);
      }
  return out;
}

/** The 12 edges as corner index pairs (corners differ in exactly one sign). */
const EDGES: [number, number][] = [];
for (let i = 0; i < 8; i++) for (const bit of [1, 2, 4]) if (!(i & bit)) EDGES.push([i, i | bit]);

/** Euclidean distance from a point to a solid box (0 inside). */
export function pointBoxDistance(p: Vec3, box: Box): number {
  const d = sub(p, box.center);
  let s = 0;
  for (let i = 0; i < 3; i++) {
    const excess = Math.abs(dot(d, box.axes[i])) - box.half[i];
    if (excess > 0) s += excess * excess;
  }
  return Math.sqrt(s);
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/** Distance between segments [p0,p1] and [q0,q1] (Ericson, Real-Time Collision Detection §5.1.9), allocation-free. */
export function segmentDistance(p0: Vec3, p1: Vec3, q0: Vec3, q1: Vec3): number {
  const d1x = p1[0] - p0[0];
  const d1y = p1[1] - p0[1];
  const d1z = p1[2] - p0[2];
  const d2x = q1[0] - q0[0];
  const d2y = q1[1] - q0[1];
  const d2z = q1[2] - q0[2];
  const rx = p0[0] - q0[0];
  const ry = p0[1] - q0[1];
  const rz = p0[2] - q0[2];
  const a = d1x * d1x + d1y * d1y + d1z * d1z;
  const e = d2x * d2x + d2y * d2y + d2z * d2z;
  const f = d2x * rx + d2y * ry + d2z * rz;
  const c = d1x * rx + d1y * ry + d1z * rz;
  let s = 0;
  let t = 0;
  if (a > 1e-18 && e > 1e-18) {
    const b = d1x * d2x + d1y * d2y + d1z * d2z;
    const denom = a * e - b * b;
    s = denom > 1e-18 ? clamp01((b * f - c * e) / denom) : 0;
    t = (b * s + f) / e;
    if (t < 0) {
      t = 0;
      s = clamp01(-c / a);
    } else if (t > 1) {
      t = 1;
      s = clamp01((b - c) / a);
    }
  } else if (a > 1e-18) {
    s = clamp01(-c / a);
  } else if (e > 1e-18) {
    t = clamp01(f / e);
  }
  const x = rx + d1x * s - d2x * t;
  const y = ry + d1y * s - d2y * t;
  const z = rz + d1z * s - d2z * t;
  return Math.sqrt(x * x + y * y + z * z);
}

/** Separating-axis test: do the two solid boxes overlap (touching counts)? */
function boxesOverlap(a: Box, b: Box): boolean {
  const t = sub(b.center, a.center);
  const candidates: Vec3[] = [...a.axes, ...b.axes];
  for (const u of a.axes) for (const v of b.axes) candidates.push(cross(u, v));
  for (const axis of candidates) {
    const len = norm(axis);
    if (len < 1e-9) continue; // parallel edges: covered by the face axes
    const n = scale(axis, 1 / len);
    const ra =
      a.half[0] * Math.abs(dot(a.axes[0], n)) +
      a.half[1] * Math.abs(dot(a.axes[1], n)) +
      a.half[2] * Math.abs(dot(a.axes[2], n));
    const rb =
      b.half[0] * Math.abs(dot(b.axes[0], n)) +
      b.half[1] * Math.abs(dot(b.axes[1], n)) +
      b.half[2] * Math.abs(dot(b.axes[2], n));
    if (Math.abs(dot(t, n)) > ra + rb) return false;
  }
  return true;
}

/**
 * Exact distance between the closest points of two solid oriented boxes (0 when they overlap). For disjoint
 * convex polyhedra a closest pair always involves a vertex of one (against the other solid) or two edges.
 */
export function boxDistance(a: Box, b: Box): number {
  if (boxesOverlap(a, b)) return 0;
  const ca = corners(a);
  const cb = corners(b);
  let best = Number.POSITIVE_INFINITY;
  for (const p of ca) best = Math.min(best, pointBoxDistance(p, b));
  for (const p of cb) best = Math.min(best, pointBoxDistance(p, a));
  for (const [i, j] of EDGES)
    for (const [k, l] of EDGES) best = Math.min(best, segmentDistance(ca[i], ca[j], cb[k], cb[l]));
  return best;
}

/** Closest-point distance between two object categories: the minimum over their instances (VSI-Bench rule). */
export function categoryDistance(a: readonly OrientedBox[], b: readonly OrientedBox[]): number {
  const radius = (x: Box) => norm(x.half);
  const pairs = a.flatMap((x) => b.map((y) => [toBox(x), toBox(y)] as const));
  // Bounding spheres give a lower bound; visiting pairs nearest-first lets most of them be skipped.
  const bound = pairs.map(([x, y]) => norm(sub(x.center, y.center)) - radius(x) - radius(y));
  const order = bound.map((_, i) => i).sort((i, j) => bound[i] - bound[j]);
  let best = Number.POSITIVE_INFINITY;
  for (const i of order) {
    if (bound[i] >= best) break;
    best = Math.min(best, boxDistance(pairs[i][0], pairs[i][1]));
  }
  return best;
}

/** Convex hull (monotone chain, counter-clockwise) of 2D points. */
export function convexHull(points: readonly Vec2[]): Vec2[] {
  const pts = points.slice().sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  if (pts.length <= 2) return pts;
  const turn = (o: Vec2, a: Vec2, b: Vec2) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Vec2[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && turn(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Vec2[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && turn(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/** The box's shadow on the floor (xy plane): a convex polygon. */
export function footprint(box: Box): Vec2[] {
  return convexHull(corners(box).map((p) => [p[0], p[1]] as Vec2));
}

/** Distance from a point to a segment in the plane. */
export function pointSegmentDistance2(p: Vec2, a: Vec2, b: Vec2): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.min(1, Math.max(0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2)) : 0;
  return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}

/** Even-odd point-in-polygon test. */
export function insidePolygon(p: Vec2, poly: readonly Vec2[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Distance from a point to a polygon (0 inside). */
export function pointPolygonDistance(p: Vec2, poly: readonly Vec2[]): number {
  if (insidePolygon(p, poly)) return 0;
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++)
    best = Math.min(best, pointSegmentDistance2(p, poly[j], poly[i]));
  return best;
}

/**
 * Counter-clockwise angle in degrees, in [0, 360), from direction `from` to direction `to` in the xy plane — computed
 * as VSI-Bench's generator does (arccos of the normalized dot product, mirrored when the 2D cross product is
 * negative), VLM-3R `src/tasks/vsibench/get_obj_rel_direction_v1_qa.py` calculate_angle. With z up, a positive
 * angle below 180 means "to the left".
 */
export function ccwAngle(from: Vec2, to: Vec2): number {
  const cos = (from[0] * to[0] + from[1] * to[1]) / (Math.hypot(from[0], from[1]) * Math.hypot(to[0], to[1]));
  const angle = Math.acos(Math.min(1, Math.max(-1, cos)));
  const crossZ = from[0] * to[1] - from[1] * to[0];
  return ((crossZ >= 0 ? angle : 2 * Math.PI - angle) * 180) / Math.PI;
}

/** Signed turn in degrees, in (−180, 180]: positive = counter-clockwise = a left turn (z up). */
export function signedTurn(from: Vec2, to: Vec2): number {
  const a = ccwAngle(from, to);
  return a > 180 ? a - 360 : a;
}
