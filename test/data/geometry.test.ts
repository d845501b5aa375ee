import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Box, boxDistance, ccwAngle } from '../../src/data/geometry.ts';
import { numericDistractorsExist } from '../../src/data/qa/options.ts';
import { Rng } from '../../src/data/rng.ts';
import { pyRound } from '../../src/python_compat.ts';

const axisBox = (center: [number, number, number], size: [number, number, number]): Box => ({
  center,
  axes: [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ],
  half: [size[0] / 2, size[1] / 2, size[2] / 2],
});

/** A box turned by `deg` about z. */
const turned = (center: [number, number, number], size: [number, number, number], deg: number): Box => {
  const r = (deg * Math.PI) / 180;
  return {
    center,
    axes: [
      [Math.cos(r), Math.sin(r), 0],
      [-Math.sin(r), Math.cos(r), 0],
      [0, 0, 1],
    ],
    half: [size[0] / 2, size[1] / 2, size[2] / 2],
  };
};

/** Independent reference: surface samples of `a` (spacing h), each measured to `b` in b's own frame. */
function sampledDistance(a: Box, b: Box, h: number): number {
  let best = Number.POSITIVE_INFINITY;
  const n = a.half.map((x) => Math.max(1, Math.ceil((2 * x) / h)));
  for (let i = 0; i <= n[0]; i++)
    for (let j = 0; j <= n[1]; j++)
      for (let k = 0; k <= n[2]; k++) {
        if (i > 0 && i < n[0] && j > 0 && j < n[1] && k > 0 && k < n[2]) continue; // interior
        const u = [
          -a.half[0] + (2 * a.half[0] * i) / n[0],
          -a.half[1] + (2 * a.half[1] * j) / n[1],
          -a.half[2] + (2 * a.half[2] * k) / n[2],
        ];
        const p = [0, 1, 2].map(
          (c) => a.center[c] + u[0] * a.axes[0][c] + u[1] * a.axes[1][c] + u[2] * a.axes[2][c],
        );
        let s = 0;
        for (let m = 0; m < 3; m++) {
          const local = [0, 1, 2].reduce((acc, c) => acc + (p[c] - b.center[c]) * b.axes[m][c], 0);
          const excess = Math.abs(local) - b.half[m];
          if (excess > 0) s += excess * excess;
        }
        best = Math.min(best, Math.sqrt(s));
      }
  return best;
}

describe('pyRound (Python round)', () => {
  it('rounds exact ties to even and everything else by the exact binary value', () => {
    // Values and results as CPython prints them.
    const cases: [number, number, number][] = [
      [0.5, 0, 0],
      [1.5, 0, 2],
      [2.5, 0, 2],
      [87.5, 0, 88],
      [12.25, 1, 12.2], // exact tie → even
      [0.35, 1, 0.3], // 0.34999999999999997…
      [0.45, 1, 0.5], // 0.45000000000000001…
      [1.05, 1, 1.1],
      [2.675, 2, 2.67],
      [-2.5, 0, -2],
    ];
    for (const [x, d, want] of cases) assert.equal(pyRound(x, d), want, `round(${x}, ${d})`);
  });
});

describe('Rng', () => {
  it('is reproducible per stream and differs across streams', () => {
    const a = new Rng(1, 'scene', 'type');
    const b = new Rng(1, 'scene', 'type');
    const c = new Rng(2, 'scene', 'type');
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    assert.deepEqual(
      xs,
      Array.from({ length: 5 }, () => b.nextUint32()),
    );
    assert.notDeepEqual(
      xs,
      Array.from({ length: 5 }, () => c.nextUint32()),
    );
  });
  it('samples without replacement in the original order', () => {
    const r = new Rng(3);
    const s = r.sampleInOrder([...Array(20).keys()], 7);
    assert.equal(new Set(s).size, 7);
    assert.deepEqual(
      s,
      s.slice().sort((x, y) => x - y),
    );
  });
});

describe('boxDistance', () => {
  it('matches hand-derived distances', () => {
    // Gap of 1.234 m along x between unit cubes.
    assert.ok(
      Math.abs(boxDistance(axisBox([0, 0, 0], [1, 1, 1]), axisBox([2.234, 0, 0], [1, 1, 1])) - 1.234) < 1e-12,
    );
    // Diagonal offset: corner (0.5,0.5,0.5) to corner (1.5,1.5,0.5) → √2.
    assert.ok(
      Math.abs(boxDistance(axisBox([0, 0, 0], [1, 1, 1]), axisBox([2, 2, 0], [1, 1, 1])) - Math.SQRT2) <
        1e-12,
    );
    // A unit square turned 45° points a corner at the other box: corner at x = 3 − √2/2, face at x = 0.5.
    const d = boxDistance(axisBox([0, 0, 0], [1, 1, 1]), turned([3, 0, 0], [1, 1, 1], 45));
    assert.ok(Math.abs(d - (2.5 - Math.SQRT1_2)) < 1e-12);
    // Overlap and containment → 0.
    assert.equal(boxDistance(axisBox([0, 0, 0], [1, 1, 1]), axisBox([0.9, 0, 0], [1, 1, 1])), 0);
    assert.equal(boxDistance(axisBox([0, 0, 0], [3, 3, 3]), turned([0.2, 0, 0], [1, 1, 1], 30)), 0);
    // Edge against edge: two bars crossing at right angles, 0.3 m apart vertically.
    const bar1 = axisBox([0, 0, 0], [4, 0.1, 0.1]);
    const bar2 = axisBox([0, 0, 0.4], [0.1, 4, 0.1]);
    assert.ok(Math.abs(boxDistance(bar1, bar2) - 0.3) < 1e-12);
  });

  it('agrees with dense surface sampling on random boxes', () => {
    const r = new Rng('boxes');
    const u = (lo: number, hi: number) => lo + (hi - lo) * r.next();
    for (let t = 0; t < 40; t++) {
      const randomBox = (): Box => {
        // A random rotation from three random angles.
        const [a, b, c] = [u(0, 6.3), u(0, 6.3), u(0, 6.3)];
        const rz = [
          [Math.cos(a), -Math.sin(a), 0],
          [Math.sin(a), Math.cos(a), 0],
          [0, 0, 1],
        ];
        const ry = [
          [Math.cos(b), 0, Math.sin(b)],
          [0, 1, 0],
          [-Math.sin(b), 0, Math.cos(b)],
        ];
        const rx = [
          [1, 0, 0],
          [0, Math.cos(c), -Math.sin(c)],
          [0, Math.sin(c), Math.cos(c)],
        ];
        const mul = (p: number[][], q: number[][]) =>
          p.map((row) => [0, 1, 2].map((j) => row.reduce((s, v, k) => s + v * q[k][j], 0)));
        const m = mul(mul(rz, ry), rx);
        return {
          center: [u(-2, 2), u(-2, 2), u(-1, 1)],
          axes: [m[0], m[1], m[2]] as Box['axes'],
          half: [u(0.05, 0.8), u(0.05, 0.8), u(0.05, 0.8)],
        };
      };
      const a = randomBox();
      const b = randomBox();
      const exact = boxDistance(a, b);
      const h = 0.02;
      const sampled = sampledDistance(a, b, h);
      // Samples lie on a's surface, so they never beat the true distance, and one lies within h·√3/2 of the
      // closest point (on overlap the sampled distance is 0 wherever the shell enters b).
      assert.ok(sampled >= exact - 1e-9, `sampled ${sampled} < exact ${exact}`);
      assert.ok(sampled - exact <= (h * Math.sqrt(3)) / 2 + 1e-9, `sampled ${sampled} vs exact ${exact}`);
    }
  });
});

describe('ccwAngle', () => {
  it('measures counter-clockwise from the first direction', () => {
    assert.ok(Math.abs(ccwAngle([0, 1], [-1, 0]) - 90) < 1e-9); // facing +y, −x is to the left
    assert.ok(Math.abs(ccwAngle([0, 1], [1, 0]) - 270) < 1e-9);
    assert.ok(Math.abs(ccwAngle([1, 0], [-1, -1e-9]) - 180) < 1e-6);
  });
});

describe('numericDistractorsExist (VSI-Bench numeric options)', () => {
  it('follows the sampler’s ranges and spacing', () => {
    // 0.2 m: EPS 0.1, values in [0.05, 0.35] round to {0.1, 0.2, 0.3} → only 0.1 and 0.3 are far enough from 0.2.
    assert.equal(numericDistractorsExist(0.2, 0.25, 1.75, 1), false);
    // 1.0 m: EPS 0.2, range [0.3, 1.8] (rounded to 0.1) → 0.3, 0.5, 0.7 exist.
    assert.equal(numericDistractorsExist(1.0, 0.25, 1.75, 1), true);
    // 1.5 m: EPS = ceil(1.5·0.2·10)/10 = 0.4 (float: 3.0000000000000004 → 4); range [0.4, 2.6]: 0.4, 0.8, 2.0 → yes.
    assert.equal(numericDistractorsExist(1.5, 0.25, 1.75, 1), true);
    // 3 cm object, integers: EPS 1, range [1, 5] → 1, 2, 4 (3 is the answer) → yes; 1 cm: range [0, 2] → 0, 2 only.
    assert.equal(numericDistractorsExist(3, 0.4, 1.8, 0), true);
    assert.equal(numericDistractorsExist(1, 0.4, 1.8, 0), false);
  });
});
