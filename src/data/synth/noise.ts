// Deterministic 3-D value noise for the synthetic world's solid textures: an integer lattice hash, smoothstep
// interpolation, and fractal sums of octaves. Integer math (Math.imul) and plain arithmetic only, so every machine
// renders the same bytes.

/** A hash of three lattice coordinates and a seed, uniform in [0, 1). */
export function hash3(x: number, y: number, z: number, seed: number): number {
  let h = Math.imul(x | 0, 0x27d4eb2d) ^ Math.imul(y | 0, 0x165667b1) ^ Math.imul(z | 0, 0x1b873593) ^ seed;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

// Module-level helpers: closures created inside hot functions cost an allocation (and a name) per call.
function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}

/** Value noise in [0, 1): lattice values trilinearly blended with smoothstep weights. */
export function valueNoise(x: number, y: number, z: number, seed: number): number {
  const xi = Math.floor(x);
  const yi = Math.floor(y);
  const zi = Math.floor(z);
  const u = smooth(x - xi);
  const v = smooth(y - yi);
  const w = smooth(z - zi);
  const x1 = xi + 1;
  const y1 = yi + 1;
  const z1 = zi + 1;
  const near = lerp(
    lerp(hash3(xi, yi, zi, seed), hash3(x1, yi, zi, seed), u),
    lerp(hash3(xi, y1, zi, seed), hash3(x1, y1, zi, seed), u),
    v,
  );
  const far = lerp(
    lerp(hash3(xi, yi, z1, seed), hash3(x1, yi, z1, seed), u),
    lerp(hash3(xi, y1, z1, seed), hash3(x1, y1, z1, seed), u),
    v,
  );
  return lerp(near, far, w);
}

/** Fractal sum of `octaves` noise layers (each twice the frequency, half the amplitude), centred on 0, in ±0.5. */
export function fbm(x: number, y: number, z: number, seed: number, octaves = 4): number {
  let sum = 0;
  let amp = 0.5;
  let norm = 0;
  for (let o = 0; o < octaves; o++) {
    sum += amp * (valueNoise(x, y, z, seed + o * 1013) - 0.5);
    norm += amp;
    x *= 2.03;
    y *= 2.03;
    z *= 2.03;
    amp *= 0.5;
  }
  return sum / norm;
}
