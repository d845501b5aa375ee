// W8A8 matmul (engine/matmul_int8.ts) on ONNX Runtime: per-column int8 weights from quantizeInt8Columns, activations
// scaled per token or per tensor, both lowerings. Each output must lie within the error bound of its two
// quantizations (each value off by at most half its scale) around the float product; a row with an outlier shows
// why per-token scales exist: the other rows keep their precision only then.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as E from '../../src/engine/index.ts';
import { Session } from '../../src/runtime/session.ts';
import { type HostTensor, tensor } from '../../src/tensor.ts';
import { quantizeInt8Columns } from '../../src/weights/quantize.ts';
import { randn, rng } from '../support/random.ts';

const [B, S, K, N] = [2, 3, 40, 7];
const OUTLIER = 50;

async function run(activations: E.ActivationScale, lowering: E.Lowering, x: Float32Array, w: Float32Array) {
  const q = quantizeInt8Columns(tensor('float32', [N, K], w));
  const g = new E.Graph('w8a8');
  const xi = g.input('x', 'float32', [B, 'seq', K]);
  g.output('y', E.matmulInt8(xi, g.param('w', 'int8', [K, N]), g.param('c', 'float32', [N]), activations));
  const weights = new Map<string, HostTensor>([
    ['w', q.B],
    ['c', q.scales],
  ]);
  const ops = E.lower(g, lowering).nodes.map((n) => n.op);
  const s = await Session.create(E.toOnnx(g, { lowering, weights }).bytes);
  try {
    const y = (await s.run({ x: tensor('float32', [B, S, K], x) })).y;
    assert.deepEqual(y.shape, [B, S, N]);
    return { y: y.data as Float32Array, c: q.scales.data as Float32Array, ops };
  } finally {
    await s.release();
  }
}

/** |x·w − y| per output bound: Σ_k s/2·|w| + (|x| + s/2)·c/2, s the activation scale of that row, c the column's. */
function check(
  x: Float32Array,
  w: Float32Array,
  y: Float32Array,
  c: Float32Array,
  rowScale: (row: number) => number,
) {
  let worst = 0;
  for (let r = 0; r < B * S; r++)
    for (let n = 0; n < N; n++) {
      const s = rowScale(r);
      let [exact, bound] = [0, 1e-5];
      for (let k = 0; k < K; k++) {
        const [xv, wv] = [x[r * K + k], w[n * K + k]];
        exact += xv * wv;
        bound += (s / 2) * Math.abs(wv) + ((Math.abs(xv) + s / 2) * c[n]) / 2;
      }
      const err = Math.abs(y[r * N + n] - exact);
      assert.ok(
        err <= bound,
        `y[${r}, ${n}] = ${y[r * N + n]}, float ${exact}: error ${err} > bound ${bound}`,
      );
      worst = Math.max(worst, err / bound);
    }
  return worst;
}

describe('W8A8 matmul: int8 weights per column, int8 activations', () => {
  const r = rng(8);
  const x = randn(r, B * S * K);
  x[K + 3] = OUTLIER; // row 1 holds an outlier
  const w = randn(r, N * K, 0.1);
  const rowMax = (row: number) => Math.max(...x.subarray(row * K, (row + 1) * K).map(Math.abs));
  const lo = Math.min(0, ...x);
  const hi = Math.max(0, ...x);

  for (const lowering of ['fused', 'primitive'] as const) {
    test(`per-token scales (${lowering}): within each row's own bound`, async () => {
      const { y, c, ops } = await run('token', lowering, x, w);
      assert.ok(ops.includes(lowering === 'fused' ? 'MatMulIntegerToFloat' : 'MatMulInteger'), ops.join(' '));
      check(x, w, y, c, (row) => rowMax(row) / 127);
    });
    test(`per-tensor scale (${lowering}): within the whole tensor's bound`, async () => {
      const { y, c, ops } = await run('tensor', lowering, x, w);
      assert.ok(
        ops.includes(lowering === 'fused' ? 'DynamicQuantizeMatMul' : 'MatMulInteger'),
        ops.join(' '),
      );
      check(x, w, y, c, () => (hi - lo) / 255);
    });
  }

  test('an outlier row coarsens the other rows only with a per-tensor scale', async () => {
    const token = await run('token', 'primitive', x, w);
    const whole = await run('tensor', 'primitive', x, w);
    const err = (y: Float32Array, row: number) => {
      let e = 0;
      for (let n = 0; n < N; n++) {
        let exact = 0;
        for (let k = 0; k < K; k++) exact += x[row * K + k] * w[n * K + k];
        e = Math.max(e, Math.abs(y[row * N + n] - exact));
      }
      return e;
    };
    for (const row of [0, 2, 3]) assert.ok(err(token.y, row) < err(whole.y, row), `row ${row}`);
  });

  test('shapes are checked', () => {
    const g = new E.Graph('bad');
    const xi = g.input('x', 'float32', [2, K]);
    assert.throws(
      () => E.matmulInt8(xi, g.param('w', 'int8', [K + 1, N]), g.param('c', 'float32', [N])),
      /MatMulInt8: needs/,
    );
  });
});
