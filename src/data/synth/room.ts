// Procedural rooms: a rectangular or L-shaped floor, a ceiling height, and furniture placed by rejection sampling
// so that nothing overlaps (exact oriented-box distances), everything stays inside the floor polygon, doors keep
// a clear swing zone, and the camera path never comes close to an object.
import { type Box, boxDistance, insidePolygon, pointBoxDistance, toBox } from '../geometry.ts';
import type { Rng } from '../rng.ts';
import type { OrientedBox, Vec2 } from '../scene.ts';
import {
  DEFAULT_SURFACE,
  drawSize,
  ROOM_TYPES,
  type RoomType,
  type Size,
  SPECS,
  type SpecName,
  SURFACES,
} from './catalog.ts';
import type { Pose, Vec3 } from './mesh.ts';

export interface Room {
  type: RoomType;
  /** Floor outline, counter-clockwise, metres (floor at z = 0). */
  polygon: Vec2[];
  height: number;
}

export interface SynthObject {
  /** Instance id (1, 2, …; 0 is the room itself). */
  id: number;
  spec: SpecName;
  category: string;
  pose: Pose;
  size: Size;
  /** Instance this object rests on, for objects mounted on others. */
  support?: number;
}

/** Objects keep at least this gap between their boxes. */
export const MIN_GAP = 0.03;
/** Camera centres keep at least this distance from every object box. */
export const CAMERA_CLEARANCE = 0.45;
/** Depth of the floor zone kept free in front of a door. */
const DOOR_SWING = 0.9;
const ATTEMPTS = 80;

/** Shoelace area of a simple polygon (positive when counter-clockwise). */
export function polygonArea(poly: readonly Vec2[]): number {
  let a = 0;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++)
    a += poly[j][0] * poly[i][1] - poly[i][0] * poly[j][1];
  return a / 2;
}

const uniform = (rng: Rng, lo: number, hi: number) => lo + rng.next() * (hi - lo);

/**
 * A rectangle W×D (65 %) or an L (a corner rectangle cut away, both arms at least 2.4 m wide), centred on the
 * origin, with a ceiling 2.5–3 m high. Returns the room and the narrowest width of its floor.
 */
export function generateRoom(rng: Rng): { room: Room; narrowest: number } {
  const types = Object.keys(ROOM_TYPES) as RoomType[];
  const type = rng.pick(types);
  // Floors from ~8 to ~80 m² (VSI-Bench's rooms span a similar range): a narrow range lets the room-size answer be
  // guessed without looking.
  const W = uniform(rng, 3, 10);
  const D = uniform(rng, 2.8, 8);
  const height = uniform(rng, 2.5, 3);
  const x0 = -W / 2;
  const y0 = -D / 2;
  if (rng.next() < 0.65 || Math.min(W, D) < 4.8) {
    const polygon: Vec2[] = [
      [x0, y0],
      [x0 + W, y0],
      [x0 + W, y0 + D],
      [x0, y0 + D],
    ];
    return { room: { type, polygon, height }, narrowest: Math.min(W, D) };
  }
  // Cut the (+x, +y) corner: arms of width aw (along x) and ad (along y) remain.
  const aw = uniform(rng, 2.4, W - 1.2);
  const ad = uniform(rng, 2.4, D - 1.2);
  const polygon: Vec2[] = [
    [x0, y0],
    [x0 + W, y0],
    [x0 + W, y0 + ad],
    [x0 + aw, y0 + ad],
    [x0 + aw, y0 + D],
    [x0, y0 + D],
  ];
  return { room: { type, polygon, height }, narrowest: Math.min(aw, ad) };
}

/** The tight oriented box of an object in VSI-Bench's layout (rows of normalizedAxes = the box axes). */
export function orientedBox(o: Pick<SynthObject, 'pose' | 'size'>): OrientedBox {
  const { pose, size } = o;
  const c = Math.cos(pose.yaw);
  const s = Math.sin(pose.yaw);
  const [w, d, h] = size;
  const hx = (Math.abs(c) * w + Math.abs(s) * d) / 2;
  const hy = (Math.abs(s) * w + Math.abs(c) * d) / 2;
  return {
    centroid: [pose.x, pose.y, pose.z + h / 2],
    axesLengths: [w, d, h],
    normalizedAxes: [c, s, 0, -s, c, 0, 0, 0, 1],
    min: [pose.x - hx, pose.y - hy, pose.z],
    max: [pose.x + hx, pose.y + hy, pose.z + h],
  };
}

/** Corners of an object's footprint (counter-clockwise). */
function footprintCorners(pose: Pose, [w, d]: Size): Vec2[] {
  const c = Math.cos(pose.yaw);
  const s = Math.sin(pose.yaw);
  return [
    [-w / 2, -d / 2],
    [w / 2, -d / 2],
    [w / 2, d / 2],
    [-w / 2, d / 2],
  ].map(([x, y]) => [pose.x + c * x - s * y, pose.y + s * x + c * y] as Vec2);
}

/** Whether the footprint lies inside the floor: its corners inside, and no floor corner poking into it. */
function insideFloor(pose: Pose, size: Size, floor: readonly Vec2[]): boolean {
  if (!footprintCorners(pose, size).every((p) => insidePolygon(p, floor))) return false;
  const c = Math.cos(pose.yaw);
  const s = Math.sin(pose.yaw);
  return floor.every(([px, py]) => {
    const dx = px - pose.x;
    const dy = py - pose.y;
    return (
      Math.abs(c * dx + s * dy) >= size[0] / 2 - 1e-9 || Math.abs(-s * dx + c * dy) >= size[1] / 2 - 1e-9
    );
  });
}

interface Wall {
  a: Vec2;
  /** Unit direction a → b and inward normal. */
  u: Vec2;
  n: Vec2;
  length: number;
}

function walls(poly: readonly Vec2[]): Wall[] {
  return poly.map((a, i) => {
    const b = poly[(i + 1) % poly.length];
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
    const u: Vec2 = [(b[0] - a[0]) / length, (b[1] - a[1]) / length];
    return { a, u, n: [-u[1], u[0]], length };
  });
}

/** A pose with the object's back against a wall, `lift` above the floor, `gap` off the wall. */
function wallPose(rng: Rng, ws: Wall[], size: Size, lift: number, gap: number): Pose | null {
  const fits = ws.filter((w) => w.length > size[0] + 0.3);
  if (fits.length === 0) return null;
  const w = rng.pick(fits);
  const t = uniform(rng, 0.15 + size[0] / 2, w.length - 0.15 - size[0] / 2);
  const off = gap + size[1] / 2;
  return {
    x: w.a[0] + w.u[0] * t + w.n[0] * off,
    y: w.a[1] + w.u[1] * t + w.n[1] * off,
    z: lift,
    // Local +y (the front) must point along the inward normal: (−sin yaw, cos yaw) = n.
    yaw: Math.atan2(-w.n[0], w.n[1]),
  };
}

/**
 * Places the furniture of the room's type. `cameraPoints` are the camera centres of the whole video: every
 * object keeps CAMERA_CLEARANCE from them. Objects that find no valid spot in ATTEMPTS tries are left out.
 */
export function placeObjects(room: Room, cameraPoints: readonly Vec3[], rng: Rng): SynthObject[] {
  const ws = walls(room.polygon);
  const objects: SynthObject[] = [];
  const boxes: Box[] = [];
  const keepOut: Box[] = []; // door swing zones (floor objects only)
  const [minX, minY, maxX, maxY] = [
    Math.min(...room.polygon.map((p) => p[0])),
    Math.min(...room.polygon.map((p) => p[1])),
    Math.max(...room.polygon.map((p) => p[0])),
    Math.max(...room.polygon.map((p) => p[1])),
  ];

  const propose = (name: SpecName, size: Size): { pose: Pose; support?: SynthObject } | null => {
    const mount = SPECS[name].mount;
    switch (mount.kind) {
      case 'wall': {
        const pose = wallPose(rng, ws, size, uniform(rng, mount.elevation[0], mount.elevation[1]), 0.002);
        return pose && { pose };
      }
      case 'against': {
        const pose = wallPose(rng, ws, size, 0, 0.02);
        return pose && { pose };
      }
      case 'free': {
        const yaw = (rng.int(4) * Math.PI) / 2 + (rng.next() < 0.3 ? uniform(rng, -0.4, 0.4) : 0);
        return { pose: { x: uniform(rng, minX, maxX), y: uniform(rng, minY, maxY), z: 0, yaw } };
      }
      case 'facing': {
        // Pulled up to one side of a target (its front only, for tables against a wall), facing it.
        const targets = objects.filter((o) => o.category === mount.target);
        if (targets.length === 0) return null;
        const t = rng.pick(targets);
        const sides = SPECS[t.spec].mount.kind === 'against' ? [0] : [0, 1, 2, 3];
        const side = rng.pick(sides);
        const along = side % 2 === 0 ? t.size[0] : t.size[1];
        const reach = (side % 2 === 0 ? t.size[1] : t.size[0]) / 2 + size[1] / 2 + uniform(rng, 0.05, 0.3);
        const slide = uniform(rng, -0.35, 0.35) * Math.max(0, along - size[0]);
        const yaw = t.pose.yaw + (side * Math.PI) / 2; // side 0: in front (+y), then counter-clockwise
        const x = t.pose.x - Math.sin(yaw) * reach + Math.cos(yaw) * slide;
        const y = t.pose.y + Math.cos(yaw) * reach + Math.sin(yaw) * slide;
        return { pose: { x, y, z: 0, yaw: yaw + Math.PI } };
      }
      case 'on': {
        const supports = objects.filter(
          (o) => mount.supports.includes(o.category) && o.support === undefined,
        );
        if (supports.length === 0) return null;
        const s = rng.pick(supports);
        const [sw, sd, sh] = s.size;
        const surface = SURFACES[s.category] ?? DEFAULT_SURFACE;
        const turn = s.category === 'table' && SPECS[s.spec].mount.kind === 'free' ? rng.int(4) : 0;
        const [fw, fd] = turn % 2 === 0 ? size : [size[1], size[0]];
        const xSpan = sw / 2 - surface.marginX - fw / 2;
        const y0 = -sd / 2 + sd * surface.zone[0] + fd / 2;
        const y1 = -sd / 2 + sd * surface.zone[1] - fd / 2;
        if (xSpan < 0 || y1 < y0) return null;
        const lx = uniform(rng, -xSpan, xSpan);
        const ly = uniform(rng, y0, y1);
        const c = Math.cos(s.pose.yaw);
        const sn = Math.sin(s.pose.yaw);
        const lift = surface.height ?? sh;
        const pose = {
          x: s.pose.x + c * lx - sn * ly,
          y: s.pose.y + sn * lx + c * ly,
          z: s.pose.z + lift,
          yaw: s.pose.yaw + (turn * Math.PI) / 2,
        };
        return { pose, support: s };
      }
    }
  };

  for (const [name, lo, hi] of ROOM_TYPES[room.type]) {
    const spec = SPECS[name];
    const count = lo + rng.int(hi - lo + 1);
    for (let k = 0; k < count; k++)
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const size = drawSize(spec, rng);
        const proposal = propose(name, size);
        if (!proposal) break;
        const { pose, support } = proposal;
        if (pose.z + size[2] > room.height - 0.05 || !insideFloor(pose, size, room.polygon)) continue;
        const box = toBox(orientedBox({ pose, size }));
        const others = boxes.filter((_, i) => objects[i] !== support);
        if (others.some((b) => boxDistance(b, box) < MIN_GAP)) continue;
        if (spec.mount.kind !== 'wall' && keepOut.some((b) => boxDistance(b, box) < MIN_GAP)) continue;
        if (cameraPoints.some((p) => pointBoxDistance(p, box) < CAMERA_CLEARANCE)) continue;
        const object = {
          id: objects.length + 1,
          spec: name,
          category: spec.category,
          pose,
          size,
          support: support?.id,
        };
        objects.push(object);
        boxes.push(box);
        if (name === 'door') {
          const swing: Size = [size[0] + 0.2, DOOR_SWING, 2];
          const c = Math.cos(pose.yaw);
          const s = Math.sin(pose.yaw);
          const off = DOOR_SWING / 2 - size[1] / 2;
          keepOut.push(
            toBox(orientedBox({ pose: { ...pose, x: pose.x - s * off, y: pose.y + c * off }, size: swing })),
          );
        }
        break;
      }
  }
  return objects;
}
