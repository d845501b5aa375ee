// Seeded random numbers for tests (mulberry32): the same seed gives the same values on every machine.
import { mulberry32 } from '../../src/random.ts';

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    const [next, u] = mulberry32(a);
    a = next;
    return u;
  };
}

/** Uniform values in [-scale, scale). */
export function randn(r: () => number, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}
