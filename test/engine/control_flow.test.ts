// ONNX If built with E.ifElse: only the chosen branch runs, branches read outer values (inputs, parameters,
// constants, nodes) by name, composites inside a branch are lowered with the graph, a branch may return an outer
// value, Ifs nest, and a graph holding an If survives a replay (LoRA / training rewrites replay graphs).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { branchesOf } from '../../src/engine/control_flow.ts';
import * as E from '../../src/engine/index.ts';
import { replay } from '../../src/engine/lower.ts';
import { Session } from '../../src/runtime/session.ts';
import { f32, type HostTensor } from '../../src/tensor.ts';

const W = Float32Array.from([0.5, -1, 2]);
const SCALE = Float32Array.from([1.5, 0.25, -2]);
const EPS = 1e-6;

/** x [N, 3]: N = 1 → x · w + 1 (an outer node read by the branch); N = 2 → x itself; else RMSNorm(x) · scale. */
function build(): E.Graph {
  const g = new E.Graph('if');
  const x = g.input('x', 'float32', ['n', 3]);
  const w = g.param('w', 'float32', [3]);
  const scale = g.param('scale', 'float32', [3]);
  const shifted = E.add(E.mul(x, w), 1);
  const n = E.shape(x, 0, 1);
  const [y] = E.ifElse(
    E.equal(n, 1),
    () => [shifted],
    () =>
      E.ifElse(
        E.equal(n, 2),
        () => [x],
        () => [E.rmsNorm(x, scale, EPS)],
      ),
  );
  g.output('y', y);
  return g;
}

function expected(x: Float32Array, n: number): Float32Array {
  if (n === 2) return x;
  const out = new Float32Array(x.length);
  for (let r = 0; r < n; r++) {
    const row = x.subarray(r * 3, r * 3 + 3);
    const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / 3 + EPS);
    for (let c = 0; c < 3; c++) out[r * 3 + c] = n === 1 ? row[c] * W[c] + 1 : (row[c] / rms) * SCALE[c];
  }
  return out;
}

const weights = new Map<string, HostTensor>([
  ['w', f32([3], W)],
  ['scale', f32([3], SCALE)],
]);

for (const lowering of ['primitive', 'fused'] as E.Lowering[])
  test(`If: the branch chosen at run time runs (${lowering}, replayed graph too)`, async () => {
    for (const g of [build(), replay(build())]) {
      const lowered = E.lower(g, lowering);
      const ifs = lowered.nodes.filter((n) => n.op === 'If');
      assert.equal(ifs.length, 1, 'one top-level If (the other nests in its else branch)');
      const inner = branchesOf(ifs[0])![1].nodes.find((n) => n.op === 'If');
      assert.ok(inner, 'nested If in the else branch');
      const ops = branchesOf(inner)![1].nodes.map((n) => n.op);
      assert.equal(ops.includes('SimplifiedLayerNormalization'), lowering === 'fused', ops.join(','));
      assert.ok(!lowered.nodes.some((n) => n.composite), 'composites lowered');
      const s = await Session.create(E.toOnnx(g, { lowering, weights }).bytes);
      try {
        for (const n of [1, 2, 3]) {
          const x = Float32Array.from({ length: n * 3 }, (_, i) => ((i * 7) % 5) - 2.25);
          const { y } = await s.run({ x: f32([n, 3], x) });
          assert.deepEqual(y.shape, [n, 3]);
          const want = expected(x, n);
          for (const [i, v] of (y.data as Float32Array).entries())
            assert.ok(
              Math.abs(v - want[i]) <= 1e-5 * (1 + Math.abs(want[i])),
              `n=${n} [${i}]: ${v} vs ${want[i]}`,
            );
        }
      } finally {
        await s.release();
      }
    }
  });

test('If: branches must agree on their outputs', () => {
  const g = new E.Graph();
  const x = g.input('x', 'float32', [2]);
  const c = E.equal(E.shape(x, 0, 1), 2);
  assert.throws(
    () =>
      E.ifElse(
        c,
        () => [x],
        () => [x, x],
      ),
    /1 and 2 outputs/,
  );
  assert.throws(
    () =>
      E.ifElse(
        c,
        () => [x],
        () => [E.cast(x, 'int64')],
      ),
    /float32.*int64/,
  );
  assert.throws(
    () =>
      E.ifElse(
        x,
        () => [x],
        () => [x],
      ),
    /condition must be bool/,
  );
});
