// Furniture of the synthetic world: categories named as in VSI-Bench's scene metadata (ScanNet / ScanNet++ labels),
// sizes in metres drawn from ranges around real furniture (cf. the median box sizes in thinking-in-space's
// meta_info), how each is mounted (on a wall, against a wall, free on the floor, on top of another object), its
// low-poly shape, and its materials. Every shape fills its box exactly, so the oriented box written to the scene
// file is the tight box of what is rendered.
import type { Rng } from '../rng.ts';
import type { Material, Pattern, Rgb } from './materials.ts';
import type { MeshBuilder, Pose } from './mesh.ts';

/** Width (along x, the object's left–right), depth (y, back to front) and height (z). */
export type Size = [number, number, number];
type Range = [number, number];

export type Mount =
  | { kind: 'wall'; elevation: Range } // hangs on a wall, back touching it
  | { kind: 'against' } // stands on the floor, back to a wall
  | { kind: 'free' } // stands on the floor anywhere
  | { kind: 'facing'; target: string } // stands on the floor, facing an object of `target` (chairs at tables)
  | { kind: 'on'; supports: string[] }; // lies on the top surface of one of these categories

/** Builds an object's triangles in its local frame (x ∈ ±w/2, y ∈ ±d/2 with the front at +y, z ∈ [0, h]). */
type Shape = (b: MeshBuilder, pose: Pose, size: Size, id: number, mats: number[]) => void;

export interface ObjectSpec {
  category: string;
  size: [Range, Range, Range];
  mount: Mount;
  shape: Shape;
  /** Material recipes, one per role the shape uses (mats[0], mats[1], …). */
  looks: Look[];
}

/** A material recipe: a pattern and colour pairs to pick from. */
interface Look {
  pattern: Pattern;
  colors: [Rgb, Rgb][];
  scale: Range;
}

// ---------------------------------------------------------------------------------------------------------------
// Looks

const WOODS: [Rgb, Rgb][] = [
  [
    [0.78, 0.62, 0.43],
    [0.6, 0.43, 0.27],
  ],
  [
    [0.5, 0.33, 0.21],
    [0.33, 0.2, 0.12],
  ],
  [
    [0.66, 0.4, 0.27],
    [0.47, 0.26, 0.16],
  ],
  [
    [0.86, 0.8, 0.68],
    [0.72, 0.64, 0.5],
  ],
];
const FABRICS: [Rgb, Rgb][] = [
  [
    [0.25, 0.33, 0.5],
    [0.8, 0.78, 0.7],
  ],
  [
    [0.55, 0.2, 0.18],
    [0.85, 0.75, 0.55],
  ],
  [
    [0.35, 0.45, 0.3],
    [0.15, 0.2, 0.15],
  ],
  [
    [0.6, 0.58, 0.55],
    [0.3, 0.3, 0.33],
  ],
  [
    [0.85, 0.65, 0.3],
    [0.45, 0.3, 0.2],
  ],
];
const PAINTS: [Rgb, Rgb][] = [
  [
    [0.92, 0.92, 0.9],
    [0.78, 0.79, 0.8],
  ],
  [
    [0.3, 0.31, 0.33],
    [0.18, 0.18, 0.2],
  ],
  [
    [0.7, 0.72, 0.74],
    [0.5, 0.52, 0.55],
  ],
];
const wood: Look = { pattern: 'wood', colors: WOODS, scale: [0.012, 0.03] };
const fabric: Look = { pattern: 'fabric', colors: FABRICS, scale: [0.08, 0.2] };
const paint: Look = { pattern: 'plain', colors: PAINTS, scale: [1, 1] };
const dark: Look = { pattern: 'plain', colors: [PAINTS[1]], scale: [1, 1] };
const screen: Look = { pattern: 'screen', colors: [PAINTS[1]], scale: [1, 1] };
const linen: Look = { pattern: 'checker', colors: FABRICS, scale: [0.04, 0.09] };

/** Turns a look into a concrete material anchored at `pose`. */
export function materialFor(look: Look, pose: Pose, rng: Rng): Material {
  const [base, accent] = rng.pick(look.colors);
  return {
    pattern: look.pattern,
    base,
    accent,
    scale: look.scale[0] + rng.next() * (look.scale[1] - look.scale[0]),
    seed: rng.nextUint32() | 0,
    origin: [pose.x, pose.y, pose.z],
    yaw: pose.yaw,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Shapes (local frame: front at +y)

const half = ([w, d]: Size) => [w / 2, d / 2];

/** Four square legs of side `t` under a rectangle, up to height `top`. */
function legs(b: MeshBuilder, pose: Pose, size: Size, t: number, top: number, id: number, m: number): void {
  const [hw, hd] = half(size);
  for (const sx of [-1, 1])
    for (const sy of [-1, 1]) {
      const x = sx * (hw - t / 2);
      const y = sy * (hd - t / 2);
      b.box(pose, [x - t / 2, y - t / 2, 0], [x + t / 2, y + t / 2, top], id, m);
    }
}

const block: Shape = (b, pose, [w, d, h], id, [m]) =>
  b.box(pose, [-w / 2, -d / 2, 0], [w / 2, d / 2, h], id, m);

const table: Shape = (b, pose, size, id, [m]) => {
  const [w, d, h] = size;
  b.box(pose, [-w / 2, -d / 2, h - 0.04], [w / 2, d / 2, h], id, m);
  legs(b, pose, size, 0.05, h - 0.04, id, m);
};

const chair: Shape = (b, pose, size, id, [frame, seat]) => {
  const [w, d, h] = size;
  const s = Math.min(0.46, h * 0.5);
  b.box(pose, [-w / 2, -d / 2, s - 0.05], [w / 2, d / 2, s], id, seat);
  b.box(pose, [-w / 2, -d / 2, s], [w / 2, -d / 2 + 0.05, h], id, frame);
  legs(b, pose, size, 0.04, s - 0.05, id, frame);
};

const stool: Shape = (b, pose, [w, d, h], id, [frame, seat]) => {
  b.prism(pose, 0, 0, w / 2, w / 2, h - 0.05, h, 12, id, seat);
  for (const [x, y] of [
    [-1, -1],
    [1, -1],
    [1, 1],
    [-1, 1],
  ])
    b.box(
      pose,
      [x * w * 0.25 - 0.015, y * d * 0.25 - 0.015, 0],
      [x * w * 0.25 + 0.015, y * d * 0.25 + 0.015, h - 0.05],
      id,
      frame,
    );
};

const sofa: Shape = (b, pose, [w, d, h], id, [cover]) => {
  const arm = 0.18;
  b.box(pose, [-w / 2 + arm, -d / 2, 0], [w / 2 - arm, d / 2, 0.44], id, cover);
  b.box(pose, [-w / 2 + arm, -d / 2, 0.44], [w / 2 - arm, -d / 2 + 0.22, h], id, cover);
  b.box(pose, [-w / 2, -d / 2, 0], [-w / 2 + arm, d / 2, 0.62], id, cover);
  b.box(pose, [w / 2 - arm, -d / 2, 0], [w / 2, d / 2, 0.62], id, cover);
};

const bed: Shape = (b, pose, [w, d, h], id, [frame, sheet, duvet]) => {
  b.box(pose, [-w / 2, -d / 2, 0], [w / 2, d / 2, 0.3], id, frame);
  b.box(pose, [-w / 2, -d / 2, 0.3], [w / 2, -d / 2 + 0.06, h], id, frame);
  b.box(pose, [-w / 2 + 0.03, -d / 2 + 0.06, 0.3], [w / 2 - 0.03, d / 2 - 0.03, 0.52], id, sheet);
  b.box(pose, [-w / 2 + 0.02, -d / 2 + 0.6, 0.52], [w / 2 - 0.02, d / 2 - 0.02, 0.55], id, duvet);
};

const cabinet: Shape = (b, pose, [w, d, h], id, [body, knob]) => {
  b.box(pose, [-w / 2, -d / 2, 0], [w / 2, d / 2 - 0.02, h], id, body);
  const doors = w > 0.7 ? 2 : 1;
  for (let k = 0; k < doors; k++) {
    const x0 = -w / 2 + (k * w) / doors + 0.01;
    const x1 = -w / 2 + ((k + 1) * w) / doors - 0.01;
    b.box(pose, [x0, d / 2 - 0.02, 0.05], [x1, d / 2 - 0.005, h - 0.03], id, body);
    const kx = doors === 2 ? (k === 0 ? x1 - 0.05 : x0 + 0.05) : x1 - 0.06;
    b.box(pose, [kx - 0.01, d / 2 - 0.005, h * 0.5 - 0.04], [kx + 0.01, d / 2, h * 0.5 + 0.04], id, knob);
  }
};

const bookshelf: Shape = (b, pose, [w, d, h], id, [frame, books]) => {
  const t = 0.025;
  b.box(pose, [-w / 2, -d / 2, 0], [-w / 2 + t, d / 2, h], id, frame);
  b.box(pose, [w / 2 - t, -d / 2, 0], [w / 2, d / 2, h], id, frame);
  b.box(pose, [-w / 2 + t, -d / 2, h - t], [w / 2 - t, d / 2, h], id, frame);
  b.box(pose, [-w / 2 + t, -d / 2, 0], [w / 2 - t, d / 2, 0.08], id, frame);
  b.box(pose, [-w / 2 + t, -d / 2, 0.08], [w / 2 - t, d / 2 - 0.05, h - t], id, books);
  const shelves = Math.max(2, Math.round(h / 0.38));
  for (let k = 1; k < shelves; k++) {
    const z = 0.08 + (k * (h - t - 0.08)) / shelves;
    b.box(pose, [-w / 2 + t, d / 2 - 0.05, z - 0.01], [w / 2 - t, d / 2, z + 0.01], id, frame);
  }
};

const fridge: Shape = (b, pose, [w, d, h], id, [body, handle]) => {
  const split = h * 0.62;
  b.box(pose, [-w / 2, -d / 2, 0], [w / 2, d / 2 - 0.03, split - 0.005], id, body);
  b.box(pose, [-w / 2, -d / 2, split + 0.005], [w / 2, d / 2 - 0.03, h], id, body);
  b.box(pose, [w / 2 - 0.08, d / 2 - 0.03, split - 0.45], [w / 2 - 0.05, d / 2, split - 0.1], id, handle);
  b.box(pose, [w / 2 - 0.08, d / 2 - 0.03, split + 0.08], [w / 2 - 0.05, d / 2, split + 0.35], id, handle);
};

const counter: Shape = (b, pose, [w, d, h], id, [body, top]) => {
  b.box(pose, [-w / 2, -d / 2, 0], [w / 2, d / 2 - 0.03, h - 0.04], id, body);
  b.box(pose, [-w / 2, -d / 2, h - 0.04], [w / 2, d / 2, h], id, top);
};

const bin: Shape = (b, pose, [w, , h], id, [m]) => b.prism(pose, 0, 0, w * 0.42, w / 2, 0, h, 12, id, m);

const plant: Shape = (b, pose, [w, , h], id, [pot, leaves]) => {
  b.prism(pose, 0, 0, w * 0.2, w * 0.28, 0, h * 0.3, 10, id, pot);
  b.prism(pose, 0, 0, w * 0.15, w / 2, h * 0.3, h * 0.65, 8, id, leaves);
  b.prism(pose, 0, 0, w / 2, 0, h * 0.65, h, 8, id, leaves);
};

const lamp: Shape = (b, pose, [w, , h], id, [stand, shade]) => {
  const shadeH = h * 0.3;
  b.prism(pose, 0, 0, w * 0.3, w * 0.3, 0, 0.03, 12, id, stand);
  b.box(pose, [-0.015, -0.015, 0.03], [0.015, 0.015, h - shadeH], id, stand);
  b.prism(pose, 0, 0, w / 2, w * 0.32, h - shadeH, h, 12, id, shade);
};

const monitor: Shape = (b, pose, [w, d, h], id, [casing, display]) => {
  b.box(pose, [-0.12, -d / 2, 0], [0.12, d / 2, 0.02], id, casing);
  b.box(pose, [-0.03, -0.04, 0.02], [0.03, 0, h * 0.35], id, casing);
  b.box(pose, [-w / 2, -0.02, h * 0.3], [w / 2, 0.02, h], id, display);
};

const door: Shape = (b, pose, [w, d, h], id, [leaf, handle]) => {
  b.box(pose, [-w / 2, -d / 2, 0], [w / 2, -d / 2 + 0.045, h], id, leaf);
  b.box(pose, [w / 2 - 0.16, -d / 2 + 0.045, 0.98], [w / 2 - 0.04, d / 2, 1.02], id, handle);
};

const radiator: Shape = (b, pose, [w, d, h], id, [m]) => {
  const fins = Math.max(3, Math.round(w / 0.08));
  for (let k = 0; k < fins; k++) {
    const x0 = -w / 2 + (k * w) / fins;
    b.box(pose, [x0, -d / 2, 0], [x0 + (w / fins) * 0.6, d / 2, h], id, m);
  }
  b.box(pose, [-w / 2, -d / 2, h * 0.45], [w / 2, 0, h * 0.55], id, m);
};

const framed: Shape = (b, pose, [w, d, h], id, [frame, face]) => {
  b.box(pose, [-w / 2, -d / 2, 0], [w / 2, d / 2 - 0.01, h], id, frame);
  b.box(pose, [-w / 2 + 0.03, d / 2 - 0.01, 0.03], [w / 2 - 0.03, d / 2, h - 0.03], id, face);
};

const pack: Shape = (b, pose, [w, d, h], id, [m]) => {
  b.box(pose, [-w / 2, -d / 2, 0], [w / 2, d / 2 - 0.07, h], id, m);
  b.box(pose, [-w / 2 + 0.04, d / 2 - 0.07, 0.05], [w / 2 - 0.04, d / 2, h * 0.55], id, m);
};

// ---------------------------------------------------------------------------------------------------------------
// Categories

const wall = (lo: number, hi: number): Mount => ({ kind: 'wall', elevation: [lo, hi] });
const against: Mount = { kind: 'against' };
const free: Mount = { kind: 'free' };
const on = (...supports: string[]): Mount => ({ kind: 'on', supports });

const spec = (
  category: string,
  w: Range,
  d: Range,
  h: Range,
  mount: Mount,
  shape: Shape,
  ...looks: Look[]
): ObjectSpec => ({ category, size: [w, d, h], mount, shape, looks });

export const SPECS = {
  door: spec('door', [0.8, 0.95], [0.09, 0.09], [2.0, 2.1], wall(0, 0), door, wood, paint),
  window: spec('window', [0.8, 1.6], [0.06, 0.06], [1.0, 1.3], wall(0.8, 1.0), block, {
    pattern: 'window',
    colors: [[PAINTS[0][0], PAINTS[0][0]]],
    scale: [0.4, 0.6],
  }),
  tv: spec('tv', [0.9, 1.3], [0.06, 0.09], [0.52, 0.75], wall(0.9, 1.15), block, screen),
  mirror: spec('mirror', [0.4, 0.7], [0.04, 0.04], [0.6, 1.0], wall(0.95, 1.2), framed, wood, {
    pattern: 'plaster',
    colors: [
      [
        [0.75, 0.8, 0.85],
        [0.45, 0.5, 0.55],
      ],
    ],
    scale: [1, 1],
  }),
  clock: spec('clock', [0.28, 0.4], [0.05, 0.05], [0.28, 0.4], wall(1.8, 1.95), framed, dark, {
    pattern: 'dots',
    colors: [[PAINTS[0][0], PAINTS[1][0]]],
    scale: [0.05, 0.07],
  }),
  picture: spec('picture', [0.35, 1.0], [0.03, 0.03], [0.3, 0.8], wall(1.1, 1.5), framed, wood, {
    pattern: 'painting',
    colors: [[PAINTS[0][0], PAINTS[0][0]]],
    scale: [1, 1],
  }),
  radiator: spec('radiator', [0.6, 1.2], [0.08, 0.12], [0.5, 0.65], wall(0.08, 0.15), radiator, paint),
  whiteboard: spec('whiteboard', [1.2, 1.9], [0.03, 0.03], [0.9, 1.15], wall(0.9, 1.0), framed, paint, {
    pattern: 'plaster',
    colors: [
      [
        [0.95, 0.95, 0.95],
        [0.75, 0.78, 0.85],
      ],
    ],
    scale: [1, 1],
  }),
  bed: spec('bed', [1.4, 1.8], [1.95, 2.1], [0.9, 1.15], against, bed, wood, linen, fabric),
  nightstand: spec('nightstand', [0.4, 0.55], [0.35, 0.45], [0.45, 0.6], against, cabinet, wood, dark),
  closet: spec('closet', [0.9, 1.8], [0.55, 0.65], [1.9, 2.2], against, cabinet, wood, dark),
  bookshelf: spec('bookshelf', [0.7, 1.2], [0.28, 0.38], [1.2, 1.95], against, bookshelf, wood, {
    pattern: 'books',
    colors: WOODS,
    scale: [0.3, 0.38],
  }),
  sofa: spec('sofa', [1.6, 2.3], [0.8, 0.95], [0.75, 0.9], against, sofa, fabric),
  refrigerator: spec('refrigerator', [0.6, 0.8], [0.6, 0.7], [1.7, 1.9], against, fridge, paint, dark),
  counter: spec('counter', [1.5, 2.6], [0.6, 0.65], [0.88, 0.92], against, counter, wood, {
    pattern: 'tiles',
    colors: [
      [
        [0.85, 0.85, 0.82],
        [0.4, 0.4, 0.42],
      ],
    ],
    scale: [0.3, 0.6],
  }),
  desk: spec('table', [1.0, 1.5], [0.6, 0.75], [0.72, 0.76], against, table, wood),
  diningTable: spec('table', [1.2, 1.7], [0.8, 1.0], [0.72, 0.76], free, table, wood),
  coffeeTable: spec('table', [0.9, 1.2], [0.5, 0.6], [0.4, 0.46], free, table, wood),
  chair: spec(
    'chair',
    [0.42, 0.5],
    [0.45, 0.55],
    [0.8, 0.95],
    { kind: 'facing', target: 'table' },
    chair,
    wood,
    fabric,
  ),
  armchair: spec('chair', [0.7, 0.85], [0.7, 0.85], [0.75, 0.9], free, sofa, fabric),
  stool: spec('stool', [0.32, 0.4], [0.32, 0.4], [0.45, 0.7], free, stool, paint, wood),
  trashBin: spec('trash bin', [0.25, 0.4], [0.25, 0.4], [0.3, 0.6], against, bin, paint),
  floorPlant: spec('plant', [0.35, 0.6], [0.35, 0.6], [0.6, 1.2], against, plant, paint, {
    pattern: 'leaves',
    colors: [
      [
        [0.1, 0.3, 0.08],
        [0.35, 0.6, 0.2],
      ],
    ],
    scale: [1, 1],
  }),
  floorLamp: spec('lamp', [0.3, 0.45], [0.3, 0.45], [1.4, 1.7], against, lamp, dark, linen),
  tableLamp: spec('lamp', [0.2, 0.3], [0.2, 0.3], [0.35, 0.55], on('nightstand', 'table'), lamp, dark, linen),
  pillow: spec('pillow', [0.45, 0.6], [0.3, 0.4], [0.12, 0.18], on('bed', 'sofa'), block, linen),
  monitor: spec('monitor', [0.5, 0.65], [0.18, 0.22], [0.4, 0.5], on('table'), monitor, dark, screen),
  keyboard: spec('keyboard', [0.42, 0.46], [0.13, 0.16], [0.03, 0.03], on('table'), block, {
    pattern: 'checker',
    colors: [[PAINTS[1][0], PAINTS[2][1]]],
    scale: [0.018, 0.018],
  }),
  printer: spec('printer', [0.4, 0.5], [0.35, 0.45], [0.2, 0.3], on('table', 'counter'), block, paint),
  microwave: spec(
    'microwave',
    [0.45, 0.55],
    [0.33, 0.4],
    [0.26, 0.32],
    on('counter', 'table'),
    framed,
    paint,
    screen,
  ),
  backpack: spec('backpack', [0.3, 0.35], [0.18, 0.25], [0.4, 0.5], against, pack, fabric),
} satisfies Record<string, ObjectSpec>;

export type SpecName = keyof typeof SPECS;

/** Where objects may rest on a support: the surface height, a margin at the sides, and the span of depth
 * (fractions from the back) they may use. Pillows go to the head of a bed or against a sofa's back, between its arms. */
export interface Surface {
  height?: number;
  marginX: number;
  zone: Range;
}
export const SURFACES: Record<string, Surface> = {
  bed: { height: 0.52, marginX: 0.05, zone: [0.03, 0.28] },
  sofa: { height: 0.44, marginX: 0.2, zone: [0.28, 0.6] },
};
export const DEFAULT_SURFACE: Surface = { marginX: 0.02, zone: [0.02, 0.98] };

/**
 * What a room type holds: [spec, min count, max count], placed in this order (walls and big pieces first). Counts
 * of the repeatable things reach 3–8 so that a counting answer needs the video (with at most 2 of anything, "2" was
 * right four times in five); the floor space left limits what is placed, so small rooms hold fewer.
 */
export const ROOM_TYPES: Record<string, [SpecName, number, number][]> = {
  bedroom: [
    ['door', 1, 1],
    ['window', 1, 3],
    ['bed', 1, 1],
    ['closet', 0, 1],
    ['nightstand', 1, 2],
    ['desk', 0, 1],
    ['chair', 0, 2],
    ['tv', 0, 1],
    ['mirror', 0, 1],
    ['picture', 0, 4],
    ['clock', 0, 1],
    ['radiator', 0, 1],
    ['trashBin', 0, 1],
    ['floorPlant', 0, 1],
    ['backpack', 0, 1],
    ['pillow', 1, 4],
    ['tableLamp', 0, 2],
  ],
  living: [
    ['door', 1, 1],
    ['window', 1, 4],
    ['tv', 1, 1],
    ['picture', 1, 5],
    ['sofa', 1, 1],
    ['bookshelf', 0, 3],
    ['coffeeTable', 1, 1],
    ['armchair', 0, 3],
    ['floorLamp', 0, 1],
    ['floorPlant', 1, 4],
    ['clock', 0, 1],
    ['radiator', 0, 1],
    ['trashBin', 0, 1],
    ['stool', 0, 3],
    ['pillow', 0, 5],
  ],
  office: [
    ['door', 1, 1],
    ['window', 1, 4],
    ['whiteboard', 0, 1],
    ['picture', 0, 3],
    ['bookshelf', 1, 3],
    ['desk', 2, 5],
    ['chair', 2, 8],
    ['trashBin', 1, 3],
    ['floorPlant', 0, 3],
    ['clock', 0, 1],
    ['backpack', 0, 3],
    ['monitor', 1, 5],
    ['keyboard', 0, 4],
    ['printer', 0, 1],
  ],
  kitchen: [
    ['door', 1, 1],
    ['window', 1, 3],
    ['refrigerator', 1, 1],
    ['picture', 0, 3],
    ['counter', 1, 2],
    ['diningTable', 1, 1],
    ['chair', 2, 8],
    ['trashBin', 1, 2],
    ['stool', 0, 4],
    ['clock', 0, 1],
    ['floorPlant', 0, 1],
    ['microwave', 0, 1],
  ],
};

export type RoomType = keyof typeof ROOM_TYPES;

/** A size drawn from a spec's ranges (square footprints for round objects keep w = d). */
export function drawSize(s: ObjectSpec, rng: Rng): Size {
  const r = ([lo, hi]: Range) => lo + rng.next() * (hi - lo);
  const w = r(s.size[0]);
  const d = s.size[0][0] === s.size[1][0] && s.size[0][1] === s.size[1][1] ? w : r(s.size[1]);
  const h = s.category === 'clock' ? w : r(s.size[2]);
  return [w, d, h];
}
