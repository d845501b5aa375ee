// Pinhole cameras (OpenCV axes: x right, y down, z forward; pixel centres at integer coordinates, so the
// principal point of a W×H image is (W/2, H/2) as VGGT assumes) and the handheld-scan path through a room:
// a smooth loop inset from the walls, walked at eye height, looking ahead and into the room with a slow sweep.
import type { Rng } from '../rng.ts';
import type { Vec2 } from '../scene.ts';
import type { Vec3 } from './mesh.ts';

export interface Camera {
  width: number;
  height: number;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  /** Row-major 4×4 camera-to-world matrix: columns are the camera's x, y, z axes and centre in the world. */
  cameraToWorld: number[][];
}

export const cameraCentre = (c: Camera): Vec3 => [
  c.cameraToWorld[0][3],
  c.cameraToWorld[1][3],
  c.cameraToWorld[2][3],
];

/** Row-major 3×4 world-to-camera matrix [R | t] (VGGT's `extrinsic`): x_cam = R·x_world + t. */
export function worldToCamera(c: Camera): number[][] {
  const m = c.cameraToWorld;
  const R = [0, 1, 2].map((i) => [m[0][i], m[1][i], m[2][i]]); // transpose of the rotation
  return R.map((row) => [...row, -(row[0] * m[0][3] + row[1] * m[1][3] + row[2] * m[2][3])]);
}

/** A camera at `centre` looking along yaw (counter-clockwise from +x), pitched down by `pitch`, rolled by `roll`. */
export function lookCamera(
  centre: Vec3,
  yaw: number,
  pitch: number,
  roll: number,
  intrinsics: Omit<Camera, 'cameraToWorld'>,
): Camera {
  const f: Vec3 = [Math.cos(pitch) * Math.cos(yaw), Math.cos(pitch) * Math.sin(yaw), -Math.sin(pitch)];
  // right = f × up(0,0,1), normalised; down = f × right.
  const rl = Math.hypot(f[1], f[0]);
  const r: Vec3 = [f[1] / rl, -f[0] / rl, 0];
  const d: Vec3 = [f[1] * r[2] - f[2] * r[1], f[2] * r[0] - f[0] * r[2], f[0] * r[1] - f[1] * r[0]];
  const cr = Math.cos(roll);
  const sr = Math.sin(roll);
  const x = r.map((v, i) => cr * v + sr * d[i]);
  const y = d.map((v, i) => -sr * r[i] + cr * v);
  return {
    ...intrinsics,
    cameraToWorld: [
      [x[0], y[0], f[0], centre[0]],
      [x[1], y[1], f[1], centre[1]],
      [x[2], y[2], f[2], centre[2]],
      [0, 0, 0, 1],
    ],
  };
}

/** The polygon moved inward by `inset` (counter-clockwise input; miter joins, exact for right angles). */
export function insetPolygon(poly: readonly Vec2[], inset: number): Vec2[] {
  const n = poly.length;
  const normal = (a: Vec2, b: Vec2): Vec2 => {
    const l = Math.hypot(b[0] - a[0], b[1] - a[1]);
    return [-(b[1] - a[1]) / l, (b[0] - a[0]) / l];
  };
  return poly.map((p, i) => {
    const n1 = normal(poly[(i + n - 1) % n], p);
    const n2 = normal(p, poly[(i + 1) % n]);
    const k = inset / (1 + n1[0] * n2[0] + n1[1] * n2[1]);
    return [p[0] + k * (n1[0] + n2[0]), p[1] + k * (n1[1] + n2[1])];
  });
}

/** Chaikin corner cutting of a closed polygon: each pass replaces every edge by its 1/4 and 3/4 points. */
export function smoothLoop(poly: readonly Vec2[], passes: number): Vec2[] {
  let pts = poly.slice();
  for (let k = 0; k < passes; k++)
    pts = pts.flatMap((p, i) => {
      const q = pts[(i + 1) % pts.length];
      return [
        [0.75 * p[0] + 0.25 * q[0], 0.75 * p[1] + 0.25 * q[1]] as Vec2,
        [0.25 * p[0] + 0.75 * q[0], 0.25 * p[1] + 0.75 * q[1]] as Vec2,
      ];
    });
  return pts;
}

/** Point and unit tangent at arc length s (wrapped) along a closed polyline. */
function alongLoop(loop: readonly Vec2[], cumulative: number[], s: number): { p: Vec2; t: Vec2 } {
  const total = cumulative[cumulative.length - 1];
  s = ((s % total) + total) % total;
  let i = 0;
  while (cumulative[i + 1] < s) i++;
  const a = loop[i];
  const b = loop[(i + 1) % loop.length];
  const len = cumulative[i + 1] - cumulative[i];
  const f = len > 0 ? (s - cumulative[i]) / len : 0;
  return {
    p: [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])],
    t: [(b[0] - a[0]) / len, (b[1] - a[1]) / len],
  };
}

export interface PathOptions {
  frames: number;
  width: number;
  height: number;
}

/**
 * Cameras of a video walking `floor` (counter-clockwise polygon) about once around at `inset` from the walls, in
 * a random direction from a random start: eye height 1.35–1.65 m with a slight bob, pitched 10–25° down, looking
 * ahead but turned 20–40° towards the interior, ± a 20–35° sweep; horizontal field of view 60–72°.
 */
export function cameraPath(floor: readonly Vec2[], inset: number, rng: Rng, o: PathOptions): Camera[] {
  const loop = smoothLoop(insetPolygon(floor, inset), 3);
  const cumulative = [0];
  for (let i = 0; i < loop.length; i++) {
    const a = loop[i];
    const b = loop[(i + 1) % loop.length];
    cumulative.push(cumulative[i] + Math.hypot(b[0] - a[0], b[1] - a[1]));
  }
  const total = cumulative[loop.length];
  const hfov = ((60 + 12 * rng.next()) * Math.PI) / 180;
  const fx = o.width / 2 / Math.tan(hfov / 2);
  const intrinsics = { width: o.width, height: o.height, fx, fy: fx, cx: o.width / 2, cy: o.height / 2 };
  const start = rng.next() * total;
  const direction = rng.next() < 0.5 ? 1 : -1;
  const coverage = 0.9 + 0.2 * rng.next();
  const eye = 1.35 + 0.3 * rng.next();
  const pitch0 = ((10 + 15 * rng.next()) * Math.PI) / 180;
  const inward = ((20 + 20 * rng.next()) * Math.PI) / 180;
  const sweep = ((20 + 15 * rng.next()) * Math.PI) / 180;
  const sweeps = 1 + 1.5 * rng.next();
  const phase = 2 * Math.PI * rng.next();
  const deg = Math.PI / 180;
  return Array.from({ length: o.frames }, (_, i) => {
    const u = i / o.frames;
    const { p, t } = alongLoop(loop, cumulative, start + direction * u * coverage * total);
    // Look ahead, turned towards the room's interior (left of a counter-clockwise walk): the room is revealed
    // progressively, as in a handheld scan, which the appearance-order questions need.
    const walk = Math.atan2(direction * t[1], direction * t[0]);
    const yaw = walk + direction * inward + sweep * Math.sin(2 * Math.PI * sweeps * u + phase);
    const pitch = pitch0 + 4 * deg * Math.sin(2 * Math.PI * 1.3 * u + 2 * phase);
    const roll = 1.5 * deg * Math.sin(2 * Math.PI * 0.7 * u + 3 * phase);
    const z = eye + 0.03 * Math.sin(2 * Math.PI * 5 * u);
    return lookCamera([p[0], p[1], z], yaw, pitch, roll, intrinsics);
  });
}
