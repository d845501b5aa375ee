// Gradient checks of the composite ops (differentiated through their primitive lowering) and of the training
// losses, against central differences of float64 references (test/engine/nn_reference.ts and plain JS here).
// Tolerance as in autodiff.test.ts: max |analytic − numeric| ≤ 1e-5 · max |numeric| + 1e-5 per input.
import { describe, test } from 'node:test';
import * as E from '../../src/engine/index.ts';
import { grpoLoss, IGNORE_INDEX, maskedCrossEntropy, tokenLogProbs } from '../../src/train/losses.ts';
import { ints } from '../engine/helpers.ts';
import { attentionRef, rmsNormRef, rotaryRef } from '../engine/nn_reference.ts';
import { array, type NDArray } from '../engine/reference.ts';
import { formatGradStats, type GradCase, gradCheck, uniform } from './gradcheck.ts';

const S = 4;

/** cos/sin tables [1, S, D] from random angles (halves repeat, as rotary expects). */
const angleTables =
  (which: 'cos' | 'sin') => (shape: number[], dtype: 'float32' | string, random: () => number) => {
    const [, s, d] = shape;
    const data = new Float32Array(s * d);
    for (let i = 0; i < s; i++)
      for (let j = 0; j < d / 2; j++) {
        const a = random() * 6;
        data[i * d + j] = data[i * d + j + d / 2] = which === 'cos' ? Math.cos(a) : Math.sin(a);
      }
    return { dtype: dtype as 'float32', shape, data };
  };

/** Attention reference over a batch: q [B, S, Hq·D], k/v [B, T, Hkv·D]. */
function batchedAttention(
  q: NDArray,
  k: NDArray,
  v: NDArray,
  o: { hq: number; hkv: number; causal: boolean; bias?: NDArray },
): NDArray {
  const [b, s, hd] = q.shape;
  const t = k.shape[1];
  const d = hd / o.hq;
  const out = new Float64Array(q.data.length);
  for (let i = 0; i < b; i++) {
    const row = (a: NDArray, n: number) => a.data.subarray(i * n, (i + 1) * n);
    out.set(
      attentionRef(row(q, s * hd), row(k, t * o.hkv * d), row(v, t * o.hkv * d), {
        s,
        t,
        hq: o.hq,
        hkv: o.hkv,
        d,
        causal: o.causal,
        bias: o.bias?.data,
      }),
      i * s * hd,
    );
  }
  return array(q.shape, out);
}

/** Dequantized 4-bit weight [N, K] from packed bytes (low nibble first), per-block scales and zero points. */
function dequant4(q: NDArray, scales: NDArray, zp: NDArray, n: number, k: number, block: number): NDArray {
  const blocks = Math.ceil(k / block);
  const nibble = (bytes: Float64Array, i: number) => (i % 2 === 0 ? bytes[i >> 1] & 15 : bytes[i >> 1] >> 4);
  const zpRow = Math.ceil(blocks / 2);
  const w = new Float64Array(n * k);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < k; c++) {
      const b = Math.floor(c / block);
      const value = nibble(q.data, r * blocks * block + c);
      const zero = nibble(zp.data, r * zpRow * 2 + b);
      w[r * k + c] = (value - zero) * scales.data[r * blocks + b];
    }
  return array([n, k], w);
}

/**
 * y = x · dequant(W)ᵀ through the MatMulNBits composite, x [batch, 2, 40]. Autodiff keeps the composite (its own
 * gradient rule); 'primitive' lowers it and its gradient's dequantization to standard ops, 'fused' is what a
 * training graph runs: MatMulNBits forward, GatherBlockQuantized for dX.
 */
function nbitsCase(lowering: 'primitive' | 'fused'): GradCase {
  return {
    name: `matmulNBits 4-bit, ${lowering} (x and scales; quantized bytes frozen)`,
    lowering,
    inputs: {
      x: { dims: ['batch', 2, 40] },
      q: { dtype: 'uint8', dims: [3, 3, 8], gen: ints(0, 255) },
      scales: { dims: [9], gen: uniform(0.01, 0.1) },
      zp: { dtype: 'uint8', dims: [6], gen: ints(0, 255) },
    },
    build: ({ x, q, scales, zp }) => E.matmulNBits(x, q, scales, zp, { k: 40, n: 3, bits: 4, blockSize: 16 }),
    ref: (v) => {
      const w = dequant4(v.q, v.scales, v.zp, 3, 40, 16);
      const rows = v.x.shape[0] * v.x.shape[1];
      const y = new Float64Array(rows * 3);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < 3; c++)
          for (let i = 0; i < 40; i++) y[r * 3 + c] += v.x.data[r * 40 + i] * w.data[c * 40 + i];
      return array([v.x.shape[0], 2, 3], y);
    },
    bindings: [{ batch: 2 }],
  };
}

function logSoftmaxRows(x: NDArray): Float64Array {
  const v = x.shape[x.shape.length - 1];
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / v; r++) {
    const row = x.data.subarray(r * v, (r + 1) * v);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((p, q) => p + Math.exp(q - m), 0));
    for (let j = 0; j < v; j++) out[r * v + j] = row[j] - lse;
  }
  return out;
}

const cases: GradCase[] = [
  {
    name: 'rmsNorm (x and weight)',
    inputs: { x: { dims: ['batch', 3, 8], gen: uniform(-2, 2) }, w: { dims: [8] } },
    build: ({ x, w }) => E.rmsNorm(x, w, 1e-6),
    ref: (v) => array(v.x.shape, rmsNormRef(v.x.data, v.w.data, v.x.data.length / 8, 8, 1e-6)),
    bindings: [{ batch: 2 }],
  },
  {
    name: 'rotary (x, cos and sin)',
    inputs: {
      x: { dims: [1, S, 2 * 4] },
      cos: { dims: [1, S, 4], gen: angleTables('cos') },
      sin: { dims: [1, S, 4], gen: angleTables('sin') },
    },
    build: ({ x, cos, sin }) => E.rotary(x, cos, sin, 2),
    ref: (v) => array(v.x.shape, rotaryRef(v.x.data, v.cos.data, v.sin.data, S, 2, 4)),
  },
  {
    name: 'attention causal with grouped KV heads',
    inputs: {
      q: { dims: ['batch', S, 4 * 3] },
      k: { dims: ['batch', S, 2 * 3] },
      v: { dims: ['batch', S, 2 * 3] },
    },
    build: ({ q, k, v }) => E.attention(q, k, v, { numHeads: 4, kvHeads: 2, causal: true }).out,
    ref: (v) => batchedAttention(v.q, v.k, v.v, { hq: 4, hkv: 2, causal: true }),
    bindings: [{ batch: 2 }],
  },
  {
    name: 'attention with additive bias (non-causal)',
    inputs: {
      q: { dims: [1, S, 2 * 3] },
      k: { dims: [1, S, 2 * 3] },
      v: { dims: [1, S, 2 * 3] },
      bias: { dims: [1, 1, S, S], gen: uniform(-2, 0) },
    },
    build: ({ q, k, v, bias }) => E.attention(q, k, v, { numHeads: 2, bias }).out,
    ref: (v) => batchedAttention(v.q, v.k, v.v, { hq: 2, hkv: 2, causal: false, bias: v.bias }),
  },
  {
    name: 'attention with a KV cache (gradient into the past keys and values)',
    inputs: {
      q: { dims: [1, 2, 2 * 3] },
      k: { dims: [1, 2, 2 * 3] },
      v: { dims: [1, 2, 2 * 3] },
      pk: { dims: [1, 2, 'past', 3] },
      pv: { dims: [1, 2, 'past', 3] },
    },
    build: ({ q, k, v, pk, pv }) =>
      E.attention(q, k, v, { numHeads: 2, causal: true, past: { key: pk, value: pv } }).out,
    ref: (v) => {
      // Past [1, H, P, D] → [1, P, H·D] rows, prepended to the new keys and values.
      const p = v.pk.shape[2];
      const rows = (past: NDArray, now: NDArray) => {
        const out = new Float64Array((p + 2) * 6);
        for (let t = 0; t < p; t++)
          for (let h = 0; h < 2; h++)
            for (let d = 0; d < 3; d++) out[t * 6 + h * 3 + d] = past.data[(h * p + t) * 3 + d];
        out.set(now.data, p * 6);
        return array([1, p + 2, 6], out);
      };
      return batchedAttention(v.q, rows(v.pk, v.k), rows(v.pv, v.v), { hq: 2, hkv: 2, causal: true });
    },
    bindings: [{ past: 3 }],
  },
  nbitsCase('primitive'),
  nbitsCase('fused'),
  {
    name: 'tokenLogProbs',
    inputs: {
      logits: { dims: ['batch', 3, 7], gen: uniform(-3, 3) },
      t: { dtype: 'int64', dims: ['batch', 3], gen: ints(0, 6) },
    },
    build: ({ logits, t }) => tokenLogProbs(logits, t),
    ref: (v) => {
      const lp = logSoftmaxRows(v.logits);
      return array(
        v.t.shape,
        Array.from(v.t.data, (c, i) => lp[i * 7 + c]),
      );
    },
    bindings: [{ batch: 2 }],
  },
  {
    name: 'maskedCrossEntropy (ignored labels)',
    inputs: {
      logits: { dims: ['batch', 4, 5], gen: uniform(-3, 3) },
      labels: { dtype: 'int64', dims: ['batch', 4], gen: (s, d, r) => ints(-1, 4)(s, d, r) },
    },
    build: ({ logits, labels }) =>
      maskedCrossEntropy(logits, E.where(E.less(labels, 0), IGNORE_INDEX, labels)),
    ref: (v) => {
      const lp = logSoftmaxRows(v.logits);
      let total = 0;
      let count = 0;
      v.labels.data.forEach((c, i) => {
        if (c < 0) return;
        total -= lp[i * 5 + c];
        count++;
      });
      return array([], [total / Math.max(count, 1)]);
    },
    bindings: [{ batch: 3 }],
  },
  {
    name: 'grpoLoss with KL penalty (gradient wrt the policy log-probs)',
    inputs: {
      lp: { dims: [3, 4], gen: uniform(-2, -0.1) },
      old: { dims: [3, 4], gen: uniform(-2, -0.1), grad: false },
      ref: { dims: [3, 4], gen: uniform(-2, -0.1), grad: false },
      adv: { dims: [3], grad: false },
      mask: { dims: [3, 4], gen: ints(0, 1), grad: false },
    },
    build: ({ lp, old, ref, adv, mask }) =>
      grpoLoss({
        logprobs: lp,
        oldLogprobs: old,
        refLogprobs: ref,
        advantages: adv,
        mask,
        clip: 0.2,
        beta: 0.04,
      }),
    ref: (v) => {
      let loss = 0;
      for (let b = 0; b < 3; b++) {
        let sum = 0;
        let count = 0;
        for (let t = 0; t < 4; t++) {
          const i = b * 4 + t;
          const r = Math.exp(v.lp.data[i] - v.old.data[i]);
          const a = v.adv.data[b];
          const delta = v.ref.data[i] - v.lp.data[i];
          const term =
            -Math.min(r * a, Math.min(Math.max(r, 0.8), 1.2) * a) + 0.04 * (Math.exp(delta) - delta - 1);
          sum += term * v.mask.data[i];
          count += v.mask.data[i];
        }
        loss += sum / Math.max(count, 1);
      }
      return array([], [loss / 3]);
    },
  },
];

describe('gradient check: composites and losses', () => {
  for (const c of cases)
    test(c.name, async (t) => {
      t.diagnostic(formatGradStats(await gradCheck(c)));
    });
});
