// One synthetic scene from (seed, index): the room, its furniture, the camera path, the triangle mesh with its
// materials, the lights, and the scene metadata in VSI-Bench's layout (src/data/scene.ts) with per-frame cameras
// and visibility. Each part draws from its own random stream, so changing e.g. a material leaves the layout alone.
import { Rng } from '../rng.ts';
import type { FrameInfo, SceneMeta, Vec2, VisibleInstance } from '../scene.ts';
import { type Camera, cameraCentre, cameraPath } from './camera.ts';
import { materialFor, SPECS } from './catalog.ts';
import type { Material, Pattern, Rgb } from './materials.ts';
import { type Mesh, MeshBuilder, type Vec3 } from './mesh.ts';
import { type Lighting, rasterize } from './render.ts';
import { generateRoom, orientedBox, placeObjects, polygonArea, type Room, type SynthObject } from './room.ts';

export interface SynthOptions {
  width: number;
  height: number;
  frames: number;
  fps: number;
}

export const DEFAULT_SYNTH: SynthOptions = { width: 320, height: 240, frames: 64, fps: 4 };

/** The dataset name in the metadata; videos live at `<dataset>/<scene>.mp4` as in VSI-Bench. */
export const SYNTH_DATASET = 'synthetic';

/** An instance counts as visible in a frame when it covers at least this share of the pixels. */
export const MIN_VISIBLE_FRACTION = 0.002;
/** Objects must cover at least this share of some frame to stay in the scene. */
export const MIN_SEEN_FRACTION = 0.005;

export interface SynthScene {
  name: string;
  room: Room;
  objects: SynthObject[];
  cameras: Camera[];
  mesh: Mesh;
  materials: Material[];
  lighting: Lighting;
  fps: number;
}

export const sceneName = (seed: number, index: number) => `synth_${seed}_${String(index).padStart(4, '0')}`;

export function buildScene(seed: number, index: number, o: SynthOptions): SynthScene {
  const stream = (part: string) => new Rng(seed, 'synth', index, part);
  const { room, narrowest } = generateRoom(stream('room'));
  const inset = Math.min(1.3, Math.max(0.75, 0.3 * narrowest));
  const cameras = cameraPath(room.polygon, inset, stream('camera'), o);
  const placed = placeObjects(room, cameras.map(cameraCentre), stream('objects'));
  const objects = keepSeen(placed, buildMesh(room, placed, stream('probe')).mesh, cameras);
  const { mesh, materials } = buildMesh(room, objects, stream('materials'));
  const light = stream('light');
  const elevation = ((35 + 25 * light.next()) * Math.PI) / 180;
  const azimuth = 2 * Math.PI * light.next();
  const [cx, cy] = floorCentre(room.polygon);
  return {
    name: sceneName(seed, index),
    room,
    objects,
    cameras,
    mesh,
    materials,
    lighting: {
      ambient: 0.45 + 0.1 * light.next(),
      sun: [
        Math.cos(elevation) * Math.cos(azimuth),
        Math.cos(elevation) * Math.sin(azimuth),
        Math.sin(elevation),
      ],
      sunPower: 0.25 + 0.1 * light.next(),
      lamp: [cx, cy, room.height - 0.25],
      lampPower: 0.5 + 0.2 * light.next(),
    },
    fps: o.fps,
  };
}

/**
 * The objects that the video shows: each must cover MIN_SEEN_FRACTION of some frame (a question about an object
 * the video never shows has no visual answer). What rests on a dropped object goes too; ids are renumbered 1…n.
 * Dropping objects only uncovers the others, so every kept object stays visible in the final render.
 */
function keepSeen(objects: readonly SynthObject[], mesh: Mesh, cameras: readonly Camera[]): SynthObject[] {
  const best = new Float64Array(objects.length + 1);
  for (const cam of cameras) {
    const { owner } = rasterize(mesh, cam);
    const count = new Float64Array(objects.length + 1);
    for (const t of owner) if (t >= 0) count[mesh.instance[t]]++;
    for (let id = 1; id <= objects.length; id++) best[id] = Math.max(best[id], count[id] / owner.length);
  }
  const kept = objects.filter(
    (o) =>
      best[o.id] >= MIN_SEEN_FRACTION && (o.support === undefined || best[o.support] >= MIN_SEEN_FRACTION),
  );
  const renumber = new Map(kept.map((o, i) => [o.id, i + 1]));
  return kept.map((o) => ({
    ...o,
    id: renumber.get(o.id)!,
    support: o.support === undefined ? undefined : renumber.get(o.support),
  }));
}

/** Centre of the floor's bounding rectangle. */
function floorCentre(poly: readonly Vec2[]): Vec2 {
  const xs = poly.map((p) => p[0]);
  const ys = poly.map((p) => p[1]);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}

const FLOORS: [Pattern, Rgb, Rgb, number][] = [
  ['planks', [0.72, 0.55, 0.38], [0.5, 0.35, 0.22], 0.16],
  ['planks', [0.55, 0.42, 0.33], [0.35, 0.25, 0.18], 0.2],
  ['tiles', [0.82, 0.8, 0.76], [0.45, 0.43, 0.4], 0.5],
  ['tiles', [0.55, 0.55, 0.58], [0.25, 0.25, 0.28], 0.4],
  ['carpet', [0.45, 0.42, 0.5], [0.3, 0.28, 0.33], 1],
];
const WALLS: [Pattern, Rgb, Rgb, number][] = [
  ['plaster', [0.88, 0.86, 0.8], [0.7, 0.68, 0.62], 1],
  ['plaster', [0.75, 0.82, 0.85], [0.55, 0.62, 0.68], 1],
  ['stripes', [0.9, 0.87, 0.78], [0.78, 0.72, 0.6], 0.12],
  ['stripes', [0.82, 0.86, 0.8], [0.65, 0.72, 0.62], 0.2],
  ['dots', [0.88, 0.84, 0.82], [0.6, 0.45, 0.4], 0.18],
];

/** Floor (ear-clipped polygon), walls and ceiling as instance 0, then every object's shape. */
function buildMesh(
  room: Room,
  objects: readonly SynthObject[],
  rng: Rng,
): { mesh: Mesh; materials: Material[] } {
  const b = new MeshBuilder();
  const materials: Material[] = [];
  const add = (m: Material) => materials.push(m) - 1;
  const surface = ([pattern, base, accent, scale]: [Pattern, Rgb, Rgb, number]): Material => ({
    pattern,
    base,
    accent,
    scale,
    seed: rng.nextUint32() | 0,
    origin: [0, 0, 0],
    yaw: 0,
  });
  const floor = add(surface(rng.pick(FLOORS)));
  const wall = add(surface(rng.pick(WALLS)));
  const ceiling = add(surface(['plaster', [0.93, 0.93, 0.92], [0.85, 0.85, 0.84], 1]));
  const H = room.height;
  const poly = room.polygon;
  for (const [i, j, k] of earClip(poly)) {
    const [p, q, r] = [poly[i], poly[j], poly[k]];
    b.triangle([p[0], p[1], 0], [q[0], q[1], 0], [r[0], r[1], 0], 0, floor);
    b.triangle([p[0], p[1], H], [r[0], r[1], H], [q[0], q[1], H], 0, ceiling);
  }
  poly.forEach((a, i) => {
    const c = poly[(i + 1) % poly.length];
    b.quad([a[0], a[1], 0], [a[0], a[1], H], [c[0], c[1], H], [c[0], c[1], 0], 0, wall); // faces into the room
  });
  for (const o of objects) {
    const spec = SPECS[o.spec];
    const mats = spec.looks.map((look) => add(materialFor(look, o.pose, rng)));
    spec.shape(b, o.pose, o.size, o.id, mats);
  }
  return { mesh: b.build(), materials };
}

/** Triangulates a simple counter-clockwise polygon by ear clipping (vertex index triples, counter-clockwise). */
export function earClip(poly: readonly Vec2[]): [number, number, number][] {
  const idx = poly.map((_, i) => i);
  const out: [number, number, number][] = [];
  const cross = (o: Vec2, a: Vec2, b: Vec2) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  while (idx.length > 3) {
    const n = idx.length;
    const ear = idx.findIndex((_, k) => {
      const [a, b, c] = [poly[idx[(k + n - 1) % n]], poly[idx[k]], poly[idx[(k + 1) % n]]];
      if (cross(a, b, c) <= 0) return false; // reflex corner
      return idx.every((v) => {
        const p = poly[v];
        if (p === a || p === b || p === c) return true;
        return cross(a, b, p) < 0 || cross(b, c, p) < 0 || cross(c, a, p) < 0;
      });
    });
    if (ear < 0) throw new Error('earClip: the polygon is not simple and counter-clockwise');
    out.push([idx[(ear + n - 1) % n], idx[ear], idx[(ear + 1) % n]]);
    idx.splice(ear, 1);
  }
  out.push([idx[0], idx[1], idx[2]]);
  return out;
}

/**
 * Instances covering at least MIN_VISIBLE_FRACTION of a frame, by id, with the bounding box of their pixels as
 * [x0, y0, x1, y1]: inclusive pixel indices, i.e. the extreme pixel centres in the intrinsics' coordinates.
 */
export function visibleInstances(instance: Uint16Array, width: number, height: number): VisibleInstance[] {
  const boxes = new Map<number, { n: number; x0: number; y0: number; x1: number; y1: number }>();
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const id = instance[y * width + x];
      if (id === 0) continue;
      const b = boxes.get(id);
      if (!b) boxes.set(id, { n: 1, x0: x, y0: y, x1: x, y1: y });
      else {
        b.n++;
        b.x0 = Math.min(b.x0, x);
        b.x1 = Math.max(b.x1, x);
        b.y0 = Math.min(b.y0, y);
        b.y1 = Math.max(b.y1, y);
      }
    }
  const min = MIN_VISIBLE_FRACTION * width * height;
  return [...boxes.entries()]
    .filter(([, b]) => b.n >= min)
    .sort(([a], [b]) => a - b)
    .map(([id, b]) => ({ instance_id: id, bbox_2d: [b.x0, b.y0, b.x1, b.y1] }));
}

/** Per-frame metadata: time, intrinsics, camera pose, visible instances. */
export function frameInfo(scene: SynthScene, index: number, visible: VisibleInstance[]): FrameInfo {
  const c = scene.cameras[index];
  return {
    timestamp: index / scene.fps,
    frame_index: index,
    intrinsics: { fx: c.fx, fy: c.fy, cx: c.cx, cy: c.cy, width: c.width, height: c.height },
    camera_to_world: c.cameraToWorld,
    instances: visible,
  };
}

/** The scene in VSI-Bench's meta_info layout plus floor, frames (cameras, visibility) and instance ids. */
export function sceneMeta(scene: SynthScene, frames: FrameInfo[]): SceneMeta {
  const counts: Record<string, number> = {};
  const boxes: SceneMeta['object_bbox'] = {};
  for (const o of scene.objects) {
    counts[o.category] = (counts[o.category] ?? 0) + 1;
    boxes[o.category] = [...(boxes[o.category] ?? []), { ...orientedBox(o), instance_id: o.id }];
  }
  const [cx, cy] = floorCentre(scene.room.polygon);
  const centre: Vec3 = [cx, cy, scene.room.height / 2];
  return {
    room_size: polygonArea(scene.room.polygon),
    room_center: centre,
    object_counts: counts,
    object_bbox: boxes,
    video_path: `${SYNTH_DATASET}/${scene.name}.mp4`,
    dataset: SYNTH_DATASET,
    frames,
    floor: { polygon: scene.room.polygon, z: 0 },
  };
}
