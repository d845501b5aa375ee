// A seeded random stream whose whole state is one 32-bit number (mulberry32), so training checkpoints can store it
// and a resumed run draws exactly what the uninterrupted run would have drawn.
import { mulberry32 } from '../random.ts';

export class Rng {
  private s: number;

  constructor(seedOrState: number) {
    this.s = seedOrState >>> 0;
  }

  /** The state to store; `new Rng(state)` continues the stream. */
  get state(): number {
    return this.s;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    const [next, u] = mulberry32(this.s);
    this.s = next;
    return u;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
}
