// Deterministic pseudo-random numbers for data generation. sfc32 (Chris Doty-Humphrey's Small Fast Counting
// generator) seeded from a string hash (cyrb128), so every (seed, scene, task) gets its own reproducible stream
// and results do not depend on the order scenes are processed in.
import { sfc32 } from '../random.ts';

/** cyrb128: a 128-bit string hash, used only to seed sfc32. */
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

export class Rng {
  private readonly next32: () => number;

  /** A stream identified by its parts, e.g. `new Rng(seed, 'scene0000_00', 'object_counting')`. */
  constructor(...parts: (string | number)[]) {
    this.next32 = sfc32(...cyrb128(parts.join('\u0000')));
    for (let i = 0; i < 15; i++) this.next32(); // warm-up, as sfc32's author recommends
  }

  nextUint32(): number {
    return this.next32();
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Fisher–Yates shuffle of a copy. */
  shuffled<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** `k` items without replacement, kept in their original order (all of them when k ≥ length). */
  sampleInOrder<T>(items: readonly T[], k: number): T[] {
    if (k >= items.length) return items.slice();
    const chosen = this.shuffled(items.map((_, i) => i))
      .slice(0, k)
      .sort((x, y) => x - y);
    return chosen.map((i) => items[i]);
  }
}
