// Blocked attention (engine/blocked_attention.ts): the output, the present cache and the gradients of q, k, v and
// the past equal those of the primitive attention differentiated by autodiff, for grouped KV heads, blocks of one
// and several heads, with and without a past; and the blocked graph never builds a [heads, S, T] tensor.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backward } from '../../src/engine/autodiff.ts';
import * as E from '../../src/engine/index.ts';
import { toOnnx } from '../../src/engine/onnx.ts';
import { Session } from '../../src/runtime/session.ts';
import type { HostTensor } from '../../src/tensor.ts';
import { rng } from '../support/random.ts';
import { uniform } from './helpers.ts';

const [H, KV, D] = [4, 2, 8];
const INPUTS = ['q', 'k', 'v', 'past_key', 'past_value'];

/** loss = Σ out ⊙ w (+ Σ present ⊙ w for both caches with a past) over attention of the given kind. */
function model(blocked: boolean, block: number, withPast: boolean): E.Graph {
  const g = new E.Graph('attention');
  const q = g.input('q', 'float32', [1, 'seq', H * D]);
  const k = g.input('k', 'float32', [1, 'seq', KV * D]);
  const v = g.input('v', 'float32', [1, 'seq', KV * D]);
  const past = withPast
    ? {
        key: g.input('past_key', 'float32', [1, KV, 'past', D]),
        value: g.input('past_value', 'float32', [1, KV, 'past', D]),
      }
    : undefined;
  const o = { numHeads: H, kvHeads: KV, causal: true, past };
  const att = blocked ? E.blockedAttention(q, k, v, { ...o, block }) : E.attention(q, k, v, o);
  let loss = E.sum(E.mul(att.out, g.input('w', 'float32', [1, 'seq', H * D])), []);
  if (att.present) {
    const wp = g.input('w_present', 'float32', [1, KV, 'total', D]);
    loss = E.add(loss, E.sum(E.mul(E.add(att.present.key, E.mul(att.present.value, 2)), wp), []));
  }
  g.output('loss', loss);
  g.output('out', att.out);
  return g;
}

async function run(blocked: boolean, block: number, feeds: Record<string, HostTensor>) {
  const withPast = 'past_key' in feeds;
  const wrt = INPUTS.filter((n) => n in feeds);
  const bw = backward(model(blocked, block, withPast), 'loss', wrt);
  for (const n of wrt) bw.graph.output(`d_${n}`, bw.grads.get(n)!);
  const s = await Session.create(toOnnx(bw.graph, { lowering: 'primitive' }).bytes);
  // Heads of the widest [B, heads, S, T] tensor (scores, probabilities and their gradients: T is not D).
  const scoreHeads = E.lower(bw.graph, 'primitive').nodes.flatMap((n) =>
    n.outputs.flatMap((t) =>
      t.shape.length === 4 && t.shape[3] !== D && typeof t.shape[1] === 'number' ? [t.shape[1]] : [],
    ),
  );
  try {
    return { out: await s.run(feeds), scoreHeads: Math.max(...scoreHeads) };
  } finally {
    await s.release();
  }
}

function feedsFor(seq: number, past: number): Record<string, HostTensor> {
  const random = rng(seq * 31 + past);
  const u = uniform(-1, 1);
  const f: Record<string, HostTensor> = {
    q: u([1, seq, H * D], 'float32', random),
    k: u([1, seq, KV * D], 'float32', random),
    v: u([1, seq, KV * D], 'float32', random),
    w: u([1, seq, H * D], 'float32', random),
  };
  if (past > 0) {
    f.past_key = u([1, KV, past, D], 'float32', random);
    f.past_value = u([1, KV, past, D], 'float32', random);
    f.w_present = u([1, KV, past + seq, D], 'float32', random);
  }
  return f;
}

const maxRel = (a: HostTensor, b: HostTensor) => {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < y.length; i++) {
    diff = Math.max(diff, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return diff / scale;
};

describe('blocked attention', () => {
  for (const [block, past] of [
    [1, 0],
    [2, 0],
    [1, 3],
  ])
    test(`block of ${block} head(s), past ${past}: output and gradients as the primitive attention`, async (t) => {
      const feeds = feedsFor(7, past);
      const ref = await run(false, 1, feeds);
      const got = await run(true, block, feeds);
      let worst = 0;
      for (const name of ['out', 'loss', ...INPUTS.filter((n) => n in feeds).map((n) => `d_${n}`)]) {
        assert.deepEqual(got.out[name].shape, ref.out[name].shape, name);
        const rel = maxRel(got.out[name], ref.out[name]);
        worst = Math.max(worst, rel);
        assert.ok(rel <= 1e-6, `${name}: rel ${rel.toExponential(2)}`);
      }
      t.diagnostic(`max |diff| / max |ref| over the output, loss and gradients: ${worst.toExponential(2)}`);
      assert.ok((ref.out.d_q.data as Float32Array).some((x) => x !== 0));
    });

  test('no score-sized tensor of the blocked graph spans more heads than a block', async () => {
    const feeds = feedsFor(5, 0);
    assert.equal((await run(true, 1, feeds)).scoreHeads, 1);
    assert.equal((await run(true, 2, feeds)).scoreHeads, 2);
    assert.equal((await run(false, 1, feeds)).scoreHeads, H);
  });

  test('a block that straddles two KV heads is refused', () => {
    assert.throws(() => model(true, 3, false), /must divide/);
  });
});
