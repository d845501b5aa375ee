// Procedural solid textures: every surface point gets a colour from its 3-D position (no UV maps), so wood grain,
// fabric weave, floor planks and wallpaper stay glued to the geometry from every viewpoint. Patterns mix large
// and fine detail on purpose: feature matchers and VGGT need texture at several scales to find correspondences.
import { fbm, hash3, valueNoise } from './noise.ts';

export type Rgb = [number, number, number];

export type Pattern =
  | 'plaster'
  | 'stripes'
  | 'dots'
  | 'planks'
  | 'tiles'
  | 'carpet'
  | 'wood'
  | 'fabric'
  | 'checker'
  | 'plain'
  | 'screen'
  | 'painting'
  | 'window'
  | 'leaves'
  | 'books';

export interface Material {
  pattern: Pattern;
  /** Main and secondary colours, sRGB in [0, 1]. */
  base: Rgb;
  accent: Rgb;
  /** Size of the pattern's repeat (plank width, tile size, stripe width, …), metres. */
  scale: number;
  seed: number;
  /** Texture frame: local = Rz(−yaw)·(p − origin), so patterns follow an object's axes. */
  origin: [number, number, number];
  yaw: number;
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const fract = (x: number) => x - Math.floor(x);

function mix(out: Rgb, a: Rgb, b: Rgb, t: number): void {
  const s = clamp01(t);
  out[0] = a[0] + (b[0] - a[0]) * s;
  out[1] = a[1] + (b[1] - a[1]) * s;
  out[2] = a[2] + (b[2] - a[2]) * s;
}

function shade(out: Rgb, k: number): void {
  out[0] *= k;
  out[1] *= k;
  out[2] *= k;
}

/** A colour from a fixed palette of book-spine / poster colours. */
const SPINES: Rgb[] = [
  [0.62, 0.12, 0.1],
  [0.1, 0.25, 0.5],
  [0.12, 0.4, 0.22],
  [0.85, 0.7, 0.3],
  [0.9, 0.88, 0.82],
  [0.2, 0.18, 0.2],
  [0.5, 0.3, 0.55],
  [0.85, 0.45, 0.15],
];

/** An abstract picture in the (x, z) plane: noise fields blending three palette colours picked by the seed. */
function painting(x: number, z: number, seed: number, out: Rgb): void {
  const n = SPINES.length;
  mix(out, SPINES[(seed >>> 0) % n], SPINES[(seed >>> 3) % n], 0.5 + 2.5 * fbm(x * 3, z * 3, 0, seed, 3));
  mix(out, out, SPINES[(seed >>> 6) % n], 2.5 * fbm(x * 5, z * 5, 1, seed + 11, 3));
}

/** Albedo of `m` at world point p (with unit normal n) written into `out`. */
export function albedo(m: Material, px: number, py: number, pz: number, n: Rgb, out: Rgb): void {
  const c = Math.cos(m.yaw);
  const s = Math.sin(m.yaw);
  const dx = px - m.origin[0];
  const dy = py - m.origin[1];
  const x = c * dx + s * dy;
  const y = -s * dx + c * dy;
  const z = pz - m.origin[2];
  const k = m.scale;
  const seed = m.seed;
  switch (m.pattern) {
    case 'plaster': {
      // Large blotches plus fine speckle.
      mix(out, m.base, m.accent, 0.5 + 2.2 * fbm(x * 1.3, y * 1.3, z * 1.3, seed, 4));
      shade(out, 1 + 0.12 * fbm(x * 30, y * 30, z * 30, seed + 7, 2));
      return;
    }
    case 'stripes': {
      // Wallpaper: vertical bands along the wall (rooms are rectilinear, so x + y runs along every wall).
      const u = (x + y) / k;
      const band = fract(u);
      mix(out, m.base, m.accent, band < 0.5 ? 0 : 1);
      if (band > 0.47 && band < 0.53) shade(out, 0.8);
      shade(out, 1 + 0.15 * fbm(x * 6, y * 6, z * 6, seed, 3));
      return;
    }
    case 'dots': {
      const u = (x + y) / k;
      const v = z / k + (Math.floor(u) % 2) * 0.5;
      const du = fract(u) - 0.5;
      const dv = fract(v) - 0.5;
      mix(out, m.base, m.accent, du * du + dv * dv < 0.06 ? 1 : 0);
      shade(out, 1 + 0.15 * fbm(x * 5, y * 5, z * 5, seed, 3));
      return;
    }
    case 'planks': {
      const row = Math.floor(y / k);
      const len = 1.2;
      const along = x + hash3(row, 0, 0, seed) * len;
      const col = Math.floor(along / len);
      const tone = hash3(row, col, 1, seed);
      const grain = 0.5 + 0.5 * Math.sin(y * 90 + 10 * fbm(x * 1.5, y * 12, 0, seed + 3, 3));
      mix(out, m.base, m.accent, 0.25 + 0.5 * tone + 0.25 * grain);
      if (fract(y / k) < 0.05 || fract(along / len) < 0.008) shade(out, 0.45);
      return;
    }
    case 'tiles': {
      const tx = Math.floor(x / k);
      const ty = Math.floor(y / k);
      const vein = Math.abs(Math.sin(x * 4 + y * 2 + 9 * fbm(x * 1.5, y * 1.5, 0, seed, 4)));
      mix(out, m.base, m.accent, 0.3 * hash3(tx, ty, 2, seed) + 0.7 * (1 - vein) ** 6);
      const gx = fract(x / k);
      const gy = fract(y / k);
      if (gx < 0.025 || gy < 0.025) mix(out, out, [0.35, 0.35, 0.35], 0.8);
      return;
    }
    case 'carpet': {
      mix(out, m.base, m.accent, 0.5 + 1.5 * fbm(x * 2.5, y * 2.5, z, seed, 3));
      shade(out, 1 + 0.35 * (valueNoise(x * 180, y * 180, z * 180, seed + 1) - 0.5));
      return;
    }
    case 'wood': {
      // Growth rings around the object's x axis, warped by noise, plus fine streaks along the grain.
      const r = Math.hypot(y, z + 0.37) / k + 1.5 * fbm(x * 0.8, y * 3, z * 3, seed, 3);
      const ring = fract(r);
      mix(out, m.base, m.accent, ring < 0.7 ? ring / 0.7 : (1 - ring) / 0.3);
      shade(out, 1 + 0.2 * fbm(x * 3, y * 70, z * 70, seed + 5, 2));
      return;
    }
    case 'fabric': {
      // Coarse weave, mottled colour and a plaid of accent bands.
      const weave = Math.sin((x + z) * 600) * Math.sin((y - z) * 600);
      const plaid = (fract((x + z) / k) < 0.2 ? 0.5 : 0) + (fract((y - z) / k) < 0.2 ? 0.5 : 0);
      mix(out, m.base, m.accent, plaid + 0.4 * fbm(x * 4, y * 4, z * 4, seed, 3));
      shade(out, 1 + 0.1 * weave);
      return;
    }
    case 'checker': {
      const parity = (Math.floor(x / k) + Math.floor(y / k) + Math.floor(z / k)) & 1;
      mix(out, m.base, m.accent, parity);
      shade(out, 1 + 0.15 * fbm(x * 8, y * 8, z * 8, seed, 2));
      return;
    }
    case 'plain': {
      mix(out, m.base, m.accent, 0.5 + fbm(x * 5, y * 5, z * 5, seed, 3));
      shade(out, 1 + 0.06 * fbm(x * 60, y * 60, z * 60, seed + 2, 2));
      return;
    }
    case 'screen': {
      // The front (+y) shows a still picture; the rest of the casing stays dark.
      if (n[0] * -s + n[1] * c > 0.9) painting(x, z, seed, out);
      else mix(out, m.base, m.accent, 0.5 + fbm(x * 20, y * 20, z * 20, seed, 2));
      return;
    }
    case 'painting': {
      painting(x, z, seed, out);
      return;
    }
    case 'window': {
      // Panes showing a bright sky over distant greenery, split by mullions every `scale` metres.
      const u = fract(x / k + 0.5);
      const frame = u < 0.06 || u > 0.94 || fract(z / k) < 0.06;
      if (frame) {
        mix(out, m.base, m.accent, 0.5);
        return;
      }
      const horizon = z / k + 0.6 * fbm(x * 2, 0, 0, seed, 3);
      if (horizon > 0.55) mix(out, [0.78, 0.86, 0.95], [0.55, 0.7, 0.92], (z / k - 0.5) * 1.2);
      else mix(out, [0.2, 0.38, 0.15], [0.45, 0.55, 0.25], 0.5 + 2 * fbm(x * 9, z * 9, 0, seed + 1, 3));
      return;
    }
    case 'leaves': {
      mix(out, m.base, m.accent, 0.5 + 2.5 * fbm(x * 14, y * 14, z * 14, seed, 3));
      return;
    }
    case 'books': {
      // Rows of spines on shelves `scale` apart; each book a palette colour, height and width from the hash.
      const row = Math.floor(z / k);
      const bx = x / 0.035 + hash3(row, 0, 3, seed) * 10;
      const book = Math.floor(bx + 0.6 * Math.floor(bx / 3));
      const h = hash3(book, row, 4, seed);
      if (fract(z / k) > 0.55 + 0.35 * h) mix(out, m.base, m.accent, 0.3);
      else {
        const p = SPINES[Math.floor(h * 997) % SPINES.length];
        out[0] = p[0];
        out[1] = p[1];
        out[2] = p[2];
        if (fract(bx) < 0.08) shade(out, 0.6);
      }
      return;
    }
  }
}
