// Block quantization in MatMulNBits layout: packing checked byte by byte on hand-built blocks, the scale/2 error
// bound on random weights, and ONNX Runtime's own MatMulNBits kernel multiplying with what we pack.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as E from '../../src/engine/index.ts';
import { InputError } from '../../src/errors.ts';
import { Session } from '../../src/runtime/session.ts';
import { type HostTensor, tensor, toFloat32 } from '../../src/tensor.ts';
import { castTensor } from '../../src/weights/convert.ts';
import {
  dequantizeMatMulNBits,
  type QuantizeOptions,
  quantizationErrorBound,
  quantizeMatMulNBits,
} from '../../src/weights/quantize.ts';
import { randn, rng } from '../support/random.ts';

const hex = (a: ArrayLike<number>) => Array.from(a, (x) => x.toString(16).padStart(2, '0')).join(' ');

describe('layout', () => {
  test('int4 asymmetric: codes packed low nibble first, per-row zero points, K padded', () => {
    // Row 0, block 0: 0..15 → range [0, 15], scale 1, zero point 0, code = value.
    // Row 0, block 1 (K = 20, so 4 values + 12 padding zeros): [-1, 0, 1, 2] → range [-1, 2], scale = 3/15 stored as
    //   float32(0.2) ≥ 0.2, zero point round(1/0.2) = 5, codes 0, 5, 10, 15; padding → 5.
    // Row 1, block 0: all 0 → scale 0, zero point 0, codes 0. Row 1, block 1: [4, 4, 4, 4] → range [0, 4], scale 4/15,
    //   zero point 0, codes 15.
    const w = new Float32Array(2 * 20);
    for (let k = 0; k < 16; k++) w[k] = k;
    w.set([-1, 0, 1, 2], 16);
    w.set([4, 4, 4, 4], 36);
    const q = quantizeMatMulNBits(tensor('float32', [2, 20], w), { bits: 4, blockSize: 16 });
    assert.deepEqual([q.N, q.K, q.bits, q.blockSize], [2, 20, 4, 16]);
    assert.deepEqual(q.B.shape, [2, 2, 8]);
    assert.equal(hex(q.B.data.subarray(0, 8)), '10 32 54 76 98 ba dc fe');
    assert.equal(hex(q.B.data.subarray(8, 16)), '50 fa 55 55 55 55 55 55');
    assert.equal(hex(q.B.data.subarray(16, 24)), '00 00 00 00 00 00 00 00');
    assert.equal(hex(q.B.data.subarray(24, 32)), 'ff ff 00 00 00 00 00 00');
    assert.deepEqual(q.scales.shape, [4]);
    assert.deepEqual([...q.scales.data], [1, Math.fround(0.2), 0, Math.fround(4 / 15)]);
    assert.deepEqual(q.zeroPoints.shape, [2]);
    assert.equal(hex(q.zeroPoints.data), '50 00');
  });

  test('int4 zero points: an odd block count pads each row to a whole byte', () => {
    // K = 40, block 16 → 3 blocks, zero points ceil(3·4/8) = 2 bytes per row. Blocks [-3..] give zero points 3, 6, 9.
    const w = new Float32Array(2 * 40);
    for (let n = 0; n < 2; n++)
      for (let b = 0; b < 3; b++) {
        const zp = 3 * (b + 1) + n;
        for (let j = 0; j < 16 && b * 16 + j < 40; j++) w[n * 40 + b * 16 + j] = j === 0 ? -zp : 15 - zp;
      }
    const q = quantizeMatMulNBits(tensor('float32', [2, 40], w), { bits: 4, blockSize: 16 });
    assert.deepEqual(q.B.shape, [2, 3, 8]);
    assert.deepEqual([...q.scales.data], [1, 1, 1, 1, 1, 1]);
    assert.deepEqual(q.zeroPoints.shape, [4]);
    assert.equal(hex(q.zeroPoints.data), '63 09 74 0a');
  });

  test('int8 symmetric: scale = max|w|/127, implicit zero point 128', () => {
    const w = Float32Array.from({ length: 16 }, (_, j) => j * 2 - 15);
    w[0] = -127; // max |w| = 127 → scale 1, code = w + 128
    const q = quantizeMatMulNBits(tensor('float32', [1, 16], w), { bits: 8, blockSize: 16, symmetric: true });
    assert.deepEqual(q.B.shape, [1, 1, 16]);
    assert.deepEqual([...q.scales.data], [1]);
    assert.deepEqual(
      [...q.B.data],
      Array.from(w, (v) => v + 128),
    );
    assert.deepEqual([...q.zeroPoints.data], [128]);
  });

  test('int4 symmetric: codes 1..15 around 8', () => {
    const w = Float32Array.from([7, -7, 3.5, 0, -0.49, 0.51, ...new Array(10).fill(0)]);
    const q = quantizeMatMulNBits(tensor('float32', [1, 16], w), { bits: 4, blockSize: 16, symmetric: true });
    assert.deepEqual([...q.scales.data], [1]);
    // codes: 15, 1, 8 + round-even(3.5) = 12, 8, 8, 9, then 8s.
    assert.equal(hex(q.B.data), '1f 8c 98 88 88 88 88 88');
    assert.equal(hex(q.zeroPoints.data), '08');
  });

  test('bad options are InputErrors', () => {
    const w = tensor('float32', [2, 32]);
    for (const o of [
      { bits: 3, blockSize: 32 },
      { bits: 4, blockSize: 24 },
      { bits: 4, blockSize: 8 },
    ] as QuantizeOptions[])
      assert.throws(() => quantizeMatMulNBits(w, o), InputError);
    assert.throws(() => quantizeMatMulNBits(tensor('float32', [64]), { bits: 4, blockSize: 32 }), InputError);
    assert.throws(
      () => quantizeMatMulNBits(tensor('int32', [2, 32]), { bits: 4, blockSize: 32 }),
      InputError,
    );
  });
});

describe('error bound', () => {
  const variants: QuantizeOptions[] = [];
  for (const bits of [4, 8] as const)
    for (const symmetric of [false, true])
      for (const scaleDType of ['float32', 'float16', 'bfloat16'] as const)
        variants.push({ bits, blockSize: 32, symmetric, scaleDType });

  for (const o of variants)
    test(`int${o.bits} ${o.symmetric ? 'sym' : 'asym'}, ${o.scaleDType} scales, K = 100 (not a multiple of 32)`, () => {
      const r = rng(o.bits * 10 + (o.symmetric ? 1 : 0));
      const [N, K] = [7, 100];
      // Mixed magnitudes and offsets per row, one all-positive and one all-zero row.
      const w = randn(r, N * K);
      for (let i = 0; i < N * K; i++) w[i] = w[i] * 10 ** ((i % 5) - 2) + (Math.floor(i / K) === 3 ? 5 : 0);
      w.fill(0, 5 * K, 6 * K);
      const q = quantizeMatMulNBits(tensor('float32', [N, K], w), o);
      const deq = dequantizeMatMulNBits(q);
      const bound = quantizationErrorBound(q);
      assert.deepEqual(deq.shape, [N, K]);
      let worst = 0;
      for (let i = 0; i < N * K; i++) {
        const err = Math.abs(w[i] - deq.data[i]);
        // + the float32 rounding of the dequantized value itself.
        assert.ok(
          err <= bound.data[i] + Math.abs(deq.data[i]) * 2 ** -24,
          `element ${i}: ${err} > ${bound.data[i]}`,
        );
        if (bound.data[i] > 0) worst = Math.max(worst, err / bound.data[i]);
      }
      assert.ok(worst > 0.5, `the bound is tight enough to mean something (worst ratio ${worst})`);
      for (let i = 5 * K; i < 6 * K; i++) assert.equal(deq.data[i], 0, 'zero rows stay exactly zero');
      // The stored scale is the smallest value of its type not below the ideal one (so no code is wasted).
      const scales = toFloat32(q.scales);
      const levels = o.symmetric ? (1 << (o.bits - 1)) - 1 : (1 << o.bits) - 1;
      for (let n = 0; n < N; n++)
        for (let b = 0; b < 4; b++) {
          const block = w.subarray(n * K + b * 32, n * K + Math.min(K, (b + 1) * 32));
          const lo = Math.min(0, ...block);
          const hi = Math.max(0, ...block);
          const ideal = o.symmetric ? Math.max(-lo, hi) / levels : (hi - lo) / levels;
          const s = scales[n * 4 + b];
          assert.ok(s >= ideal, `scale ${s} < ${ideal}`);
          const ulp = o.scaleDType === 'float32' ? 2 ** -23 : o.scaleDType === 'float16' ? 2 ** -10 : 2 ** -7;
          assert.ok(
            s <= ideal * (1 + 2 * ulp) || (o.scaleDType === 'float16' && s <= 2 ** -14),
            `scale ${s} ≫ ${ideal}`,
          );
        }
    });

  test('float16 and bfloat16 weights quantize like their float32 values', () => {
    const w = tensor('float32', [3, 64], randn(rng(5), 3 * 64));
    const o: QuantizeOptions = { bits: 4, blockSize: 64 };
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const half = castTensor(w, dtype);
      const a = quantizeMatMulNBits(half, o);
      const b = quantizeMatMulNBits(castTensor(half, 'float32'), o);
      assert.deepEqual(
        [a.B.data, a.scales.data, a.zeroPoints.data],
        [b.B.data, b.scales.data, b.zeroPoints.data],
      );
    }
  });
});

describe('ONNX Runtime MatMulNBits multiplies with our layout', () => {
  /** x [M, K] · Wᵀ in float64, W the dequantized weight. */
  function reference(x: Float32Array, w: Float32Array, M: number, K: number, N: number): Float64Array {
    const y = new Float64Array(M * N);
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
        y[m * N + n] = s;
      }
    return y;
  }

  for (const lowering of ['fused', 'primitive'] as const)
    for (const bits of [4, 8] as const)
      for (const symmetric of [false, true])
        test(`int${bits} ${symmetric ? 'sym' : 'asym'} (${lowering})`, async () => {
          const [M, K, N, blockSize] = [3, 72, 5, 32];
          const r = rng(bits + (symmetric ? 100 : 0));
          const q = quantizeMatMulNBits(tensor('float32', [N, K], randn(r, N * K)), {
            bits,
            blockSize,
            symmetric,
          });
          const g = new E.Graph('q');
          const x = g.input('x', 'float32', [M, K]);
          const zp = symmetric ? null : g.param('zp', 'uint8', q.zeroPoints.shape);
          const y = E.matmulNBits(
            x,
            g.param('B', 'uint8', q.B.shape),
            g.param('scales', 'float32', q.scales.shape),
            zp,
            {
              k: K,
              n: N,
              bits,
              blockSize,
            },
          );
          g.output('y', y);
          const weights = new Map<string, HostTensor>([
            ['B', q.B],
            ['scales', q.scales],
            ['zp', q.zeroPoints],
          ]);
          const model = E.toOnnx(g, { lowering, weights });
          if (lowering === 'fused') assert.ok(E.lower(g, 'fused').nodes.some((n) => n.op === 'MatMulNBits'));
          const xs = randn(r, M * K);
          const s = await Session.create(model.bytes);
          try {
            const got = (await s.run({ x: tensor('float32', [M, K], xs) })).y.data as Float32Array;
            const want = reference(xs, dequantizeMatMulNBits(q).data, M, K, N);
            const scale = Math.max(...want.map(Math.abs));
            for (let i = 0; i < want.length; i++)
              assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * scale, `y[${i}] = ${got[i]}, want ${want[i]}`);
          } finally {
            await s.release();
          }
        });
});

describe('ONNX Runtime GatherBlockQuantized looks up rows of the same tensors', () => {
  // K = 96 = 3 blocks of 32: an odd block count, so each row's int4 zero points end in a half-used byte.
  for (const lowering of ['fused', 'primitive'] as const)
    for (const bits of [4, 8] as const)
      for (const symmetric of [false, true])
        test(`int${bits} ${symmetric ? 'sym' : 'asym'} (${lowering})`, async () => {
          const [N, K, blockSize] = [11, 96, 32];
          const r = rng(bits + (symmetric ? 200 : 300));
          const q = quantizeMatMulNBits(tensor('float32', [N, K], randn(r, N * K)), {
            bits,
            blockSize,
            symmetric,
          });
          const g = new E.Graph('q');
          const ids = g.input('ids', 'int64', [2, 'seq']);
          const zp = symmetric ? null : g.param('zp', 'uint8', q.zeroPoints.shape);
          const rows = E.gatherNBits(
            g.param('B', 'uint8', q.B.shape),
            g.param('scales', 'float32', q.scales.shape),
            zp,
            ids,
            { k: K, n: N, bits, blockSize },
          );
          assert.deepEqual(rows.shape, [2, 'seq', K]);
          g.output('rows', rows);
          const weights = new Map<string, HostTensor>([
            ['B', q.B],
            ['scales', q.scales],
            ['zp', q.zeroPoints],
          ]);
          const model = E.toOnnx(g, { lowering, weights });
          if (lowering === 'fused')
            assert.ok(E.lower(g, 'fused').nodes.some((n) => n.op === 'GatherBlockQuantized'));
          const table = dequantizeMatMulNBits(q).data;
          const idx = [3, 0, 10, 3, 7, 1];
          const s = await Session.create(model.bytes);
          try {
            const got = (await s.run({ ids: tensor('int64', [2, 3], idx) })).rows;
            assert.deepEqual(got.shape, [2, 3, K]);
            const want = idx.flatMap((i) => [...table.subarray(i * K, (i + 1) * K)]);
            assert.deepEqual([...(got.data as Float32Array)], want, 'the dequantized rows, exactly');
          } finally {
            await s.release();
          }
        });
});
