// Composite ops: both lowerings (primitive ONNX ops, fused ONNX Runtime contrib ops) against float64 references.
// Tolerance: fp32, max |error| / max |reference| ≤ 1e-5.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { branchesOf } from '../../src/engine/control_flow.ts';
import * as E from '../../src/engine/index.ts';
import { Session } from '../../src/runtime/session.ts';
import { f32, type HostTensor, tensor } from '../../src/tensor.ts';
import { randn, rng } from '../support/random.ts';
import { attentionRef, maxErrors, rmsNormRef, rotaryRef } from './nn_reference.ts';

const LOWERINGS: E.Lowering[] = ['primitive', 'fused'];

/**
 * A step of `s` new tokens against a cache buffer of M = 12 positions whose first 4 are valid (4 query heads over
 * 2 KV heads of 8): random data, the graph's inputs, the attention result and the feeds.
 */
function bufferStep(seed: number, s: number, readOnly: boolean) {
  const r = rng(seed);
  const [hq, hkv, d, m, past] = [4, 2, 8, 12, 4];
  const q = randn(r, s * hq * d);
  const kNew = randn(r, s * hkv * d);
  const vNew = randn(r, s * hkv * d);
  const [bk, bv] = [randn(r, hkv * m * d), randn(r, hkv * m * d)];
  const g = new E.Graph();
  const qi = g.input('q', 'float32', [1, 'seq', hq * d]);
  const ki = g.input('k', 'float32', [1, 'seq', hkv * d]);
  const vi = g.input('v', 'float32', [1, 'seq', hkv * d]);
  const key = g.input('pk', 'float32', [1, hkv, 'cache', d]);
  const value = g.input('pv', 'float32', [1, hkv, 'cache', d]);
  const length = g.input('len', 'int64', [1]);
  const res = E.attention(qi, ki, vi, {
    numHeads: hq,
    kvHeads: hkv,
    causal: true,
    past: { key, value, length, ...(readOnly ? { readOnly } : {}) },
  });
  const feeds = {
    q: f32([1, s, hq * d], q),
    k: f32([1, s, hkv * d], kNew),
    v: f32([1, s, hkv * d], vNew),
    pk: f32([1, hkv, m, d], bk),
    pv: f32([1, hkv, m, d], bv),
    len: tensor('int64', [1], [past]),
  };
  return { g, res, feeds, q, kNew, vNew, bk, bv, hq, hkv, d, m, past };
}

/** The fused lowering must really use the contrib op (not fall back to primitives). */
const FUSED_OP: Record<string, string> = {
  RmsNorm: 'SimplifiedLayerNormalization',
  Rotary: 'RotaryEmbedding',
  Attention: 'GroupQueryAttention|MultiHeadAttention',
};

async function run(
  g: E.Graph,
  lowering: E.Lowering,
  feeds: Record<string, HostTensor>,
  weights?: Map<string, HostTensor>,
) {
  const composites = g.nodes.filter((n) => n.composite).map((n) => n.composite!.kind);
  const ops = E.lower(g, lowering).nodes.map((n) => n.op);
  for (const kind of composites)
    assert.equal(
      ops.some((op) => new RegExp(`^(${FUSED_OP[kind]})$`).test(op)),
      lowering === 'fused',
      `${kind} lowered ${lowering} uses ${ops.join(',')}`,
    );
  const model = E.toOnnx(g, { lowering, weights });
  const s = await Session.create(model.bytes);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

function check(name: string, got: HostTensor, want: ArrayLike<number>, tol = 1e-5) {
  const e = maxErrors(got.data as Float32Array, want);
  assert.ok(
    e.rel <= tol,
    `${name}: max abs ${e.abs.toExponential(2)}, rel ${e.rel.toExponential(2)} > ${tol}`,
  );
}

function ropeTables(r: () => number, s: number, d: number) {
  const cos = new Float32Array(s * d);
  const sin = new Float32Array(s * d);
  for (let i = 0; i < s; i++)
    for (let j = 0; j < d / 2; j++) {
      const a = r() * 20;
      cos[i * d + j] = cos[i * d + j + d / 2] = Math.cos(a);
      sin[i * d + j] = sin[i * d + j + d / 2] = Math.sin(a);
    }
  return { cos, sin };
}

describe('composite ops', () => {
  for (const lowering of LOWERINGS) {
    test(`rmsNorm (${lowering})`, async () => {
      const r = rng(1);
      const [rows, d] = [6, 32];
      const x = randn(r, rows * d, 3);
      const w = randn(r, d);
      const g = new E.Graph();
      const xi = g.input('x', 'float32', [1, 'seq', d]);
      g.output('y', E.rmsNorm(xi, g.param('norm.weight', 'float32', [d]), 1e-6));
      const out = await run(
        g,
        lowering,
        { x: f32([1, rows, d], x) },
        new Map([['norm.weight', f32([d], w)]]),
      );
      check('rmsNorm', out.y, rmsNormRef(x, w, rows, d, 1e-6));
    });

    test(`rotary (${lowering})`, async () => {
      const r = rng(2);
      const [s, h, d] = [7, 3, 16];
      const x = randn(r, s * h * d);
      const { cos, sin } = ropeTables(r, s, d);
      const g = new E.Graph();
      const xi = g.input('x', 'float32', [1, 'seq', h * d]);
      const c = g.input('cos', 'float32', [1, 'seq', d]);
      const sn = g.input('sin', 'float32', [1, 'seq', d]);
      g.output('y', E.rotary(xi, c, sn, h));
      const out = await run(g, lowering, {
        x: f32([1, s, h * d], x),
        cos: f32([1, s, d], cos),
        sin: f32([1, s, d], sin),
      });
      check('rotary', out.y, rotaryRef(x, cos, sin, s, h, d));
    });

    for (const past of [0, 4])
      test(`causal grouped-KV attention, past ${past} (${lowering})`, async () => {
        const r = rng(3 + past);
        const [s, hq, hkv, d] = [5, 4, 2, 8];
        const t = s + past;
        const q = randn(r, s * hq * d);
        const kNew = randn(r, s * hkv * d);
        const vNew = randn(r, s * hkv * d);
        const pk = randn(r, hkv * past * d);
        const pv = randn(r, hkv * past * d);
        const g = new E.Graph();
        const qi = g.input('q', 'float32', [1, 'seq', hq * d]);
        const ki = g.input('k', 'float32', [1, 'seq', hkv * d]);
        const vi = g.input('v', 'float32', [1, 'seq', hkv * d]);
        const feeds: Record<string, HostTensor> = {
          q: f32([1, s, hq * d], q),
          k: f32([1, s, hkv * d], kNew),
          v: f32([1, s, hkv * d], vNew),
        };
        let pastIn: { key: E.Tensor; value: E.Tensor } | undefined;
        if (past) {
          pastIn = {
            key: g.input('pk', 'float32', [1, hkv, 'past', d]),
            value: g.input('pv', 'float32', [1, hkv, 'past', d]),
          };
          feeds.pk = f32([1, hkv, past, d], pk);
          feeds.pv = f32([1, hkv, past, d], pv);
        }
        const res = E.attention(qi, ki, vi, { numHeads: hq, kvHeads: hkv, causal: true, past: pastIn });
        g.output('out', res.out);
        if (res.present) g.output('present_key', res.present.key);
        const out = await run(g, lowering, feeds);
        // Reference works on [T, Hkv·D] rows: past (stored [Hkv, P, D]) first, then the new keys.
        const rows = (pastBnsh: Float32Array, fresh: Float32Array) => {
          const all = new Float64Array(t * hkv * d);
          for (let h = 0; h < hkv; h++)
            for (let j = 0; j < past; j++)
              for (let c = 0; c < d; c++) all[j * hkv * d + h * d + c] = pastBnsh[h * past * d + j * d + c];
          all.set(fresh, past * hkv * d);
          return all;
        };
        const kAll = rows(pk, kNew);
        check(
          'attention',
          out.out,
          attentionRef(q, kAll, rows(pv, vNew), { s, t, hq, hkv, d, causal: true }),
        );
        if (past) {
          assert.deepEqual(out.present_key.shape, [1, hkv, t, d]);
          const want = new Float64Array(hkv * t * d);
          for (let h = 0; h < hkv; h++)
            for (let j = 0; j < t; j++)
              for (let c = 0; c < d; c++) want[h * t * d + j * d + c] = kAll[j * hkv * d + h * d + c];
          check('present key', out.present_key, want, 0);
        }
      });

    test(`causal grouped-KV attention over a fixed-size cache buffer (${lowering})`, async () => {
      // Buffer of M = 12 positions, the first 4 valid; 5 new tokens go to [4, 9); [9, 12) hold stale values that
      // must neither be attended to nor change.
      const s = 5;
      const { g, res, feeds, q, kNew, vNew, bk, bv, hq, hkv, d, m, past } = bufferStep(21, s, false);
      assert.deepEqual(res.present!.key.shape, [1, hkv, 'cache', d]);
      g.output('out', res.out);
      g.output('present_key', res.present!.key);
      g.output('present_value', res.present!.value);
      const out = await run(g, lowering, feeds);
      // The buffer after the step: valid past, then the new rows, then the stale tail unchanged.
      const written = (buf: Float32Array, fresh: Float32Array) => {
        const want = Float64Array.from(buf);
        for (let h = 0; h < hkv; h++)
          for (let j = 0; j < s; j++)
            for (let c = 0; c < d; c++) want[h * m * d + (past + j) * d + c] = fresh[j * hkv * d + h * d + c];
        return want;
      };
      const [wk, wv] = [written(bk, kNew), written(bv, vNew)];
      // Rows [T, Hkv·D] of the valid positions only: present beyond them is unspecified unless present is bound to
      // the past buffer itself (then it keeps the stale values: ONNX Runtime writes only the new rows).
      const t = past + s;
      const rows = (bnsh: ArrayLike<number>) => {
        const all = new Float64Array(t * hkv * d);
        for (let h = 0; h < hkv; h++)
          for (let j = 0; j < t; j++)
            for (let c = 0; c < d; c++) all[j * hkv * d + h * d + c] = bnsh[h * m * d + j * d + c];
        return all;
      };
      const valid = (x: HostTensor) => f32([t * hkv * d], Float32Array.from(rows(x.data as Float32Array)));
      check('present key', valid(out.present_key), rows(wk), 0);
      check('present value', valid(out.present_value), rows(wv), 0);
      check('attention', out.out, attentionRef(q, rows(wk), rows(wv), { s, t, hq, hkv, d, causal: true }));
    });

    for (const s of [1, 3])
      test(`causal grouped-KV attention over a read-only cache buffer, ${s} new (${lowering})`, async () => {
        // The caller writes the new rows after the step: the op reads the first 4 of M = 12 positions in place
        // and the new keys from its inputs. Fused: an If picks grouped MatMuls for one token, else GQA.
        const { g, res, feeds, q, kNew, vNew, bk, bv, hq, hkv, d, m, past } = bufferStep(30 + s, s, true);
        const t = past + s;
        assert.equal(res.present, undefined);
        g.output('out', res.out);
        const top = E.lower(g, lowering).nodes;
        const ifNode = top.find((n) => n.op === 'If');
        assert.equal(!!ifNode, lowering === 'fused');
        if (ifNode)
          assert.ok(
            branchesOf(ifNode)![1].nodes.some((n) => n.op === 'GroupQueryAttention'),
            'GQA when S > 1',
          );
        const s0 = await Session.create(E.toOnnx(g, { lowering }).bytes);
        const out = await s0.run(feeds);
        await s0.release();
        // Rows [T, Hkv·D]: the valid buffer positions, then the new rows.
        const rows = (bnsh: Float32Array, fresh: Float32Array) => {
          const all = new Float64Array(t * hkv * d);
          for (let h = 0; h < hkv; h++)
            for (let j = 0; j < past; j++)
              for (let c = 0; c < d; c++) all[j * hkv * d + h * d + c] = bnsh[h * m * d + j * d + c];
          all.set(fresh, past * hkv * d);
          return all;
        };
        assert.deepEqual(out.out.shape, [1, s, hq * d]);
        check(
          'attention',
          out.out,
          attentionRef(q, rows(bk, kNew), rows(bv, vNew), { s, t, hq, hkv, d, causal: true }),
        );
      });

    test(`block-diagonal (segment) attention (${lowering})`, async () => {
      const r = rng(9);
      const [s, h, d] = [6, 2, 8];
      const seg = [0, 0, 0, 1, 1, 2];
      const [q, k, v] = [randn(r, s * h * d), randn(r, s * h * d), randn(r, s * h * d)];
      const g = new E.Graph();
      const qi = g.input('q', 'float32', [1, 'seq', h * d]);
      const ki = g.input('k', 'float32', [1, 'seq', h * d]);
      const vi = g.input('v', 'float32', [1, 'seq', h * d]);
      const segIn = g.input('seg', 'int64', ['seq']);
      g.output('out', E.attention(qi, ki, vi, { numHeads: h, bias: E.segmentBias(g, segIn) }).out);
      const feeds = {
        q: f32([1, s, h * d], q),
        k: f32([1, s, h * d], k),
        v: f32([1, s, h * d], v),
        seg: tensor('int64', [s], seg),
      };
      const out = await run(g, lowering, feeds);
      const bias = new Float64Array(s * s).map((_, i) =>
        seg[Math.floor(i / s)] === seg[i % s] ? 0 : -Infinity,
      );
      check(
        'segment attention',
        out.out,
        attentionRef(q, k, v, { s, t: s, hq: h, hkv: h, d, causal: false, bias }),
      );
    });
  }
});
