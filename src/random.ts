// The seeded pseudo-random generators of the project, in pure 32-bit integer arithmetic so that every machine
// draws the same numbers: sfc32 where a 128-bit state is affordable (data generation, token sampling), mulberry32
// where the whole state must be one number (training checkpoints store it; deterministic demo weights).

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, from PractRand) on the 128-bit state (a, b, c, d):
 * a function returning successive uint32 values. Callers warm it up by discarding the first outputs.
 */
export function sfc32(a: number, b: number, c: number, d: number): () => number {
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
}

/** mulberry32 (Tommy Ettinger): the state after `state`, and the uniform value in [0, 1) that step yields. */
export function mulberry32(state: number): [next: number, uniform: number] {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [next, ((t ^ (t >>> 14)) >>> 0) / 4294967296];
}
