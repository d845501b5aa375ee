// Activation checkpointing in autodiff (engine/recompute.ts): gradients with each segment between boundaries
// recomputed in the backward pass equal those that keep every activation; each segment's forward is in the graph
// twice; a segment's weight gradients are computed before the backward pass moves to the segment before it (ONNX
// Runtime orders nodes depth-first from the outputs: a weight gradient that nothing but the optimizer reads would
// run last, every layer's activation-sized gradients kept until then); a segment tensor read past the next boundary
// is refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backward } from '../../src/engine/autodiff.ts';
import * as E from '../../src/engine/index.ts';
import { toOnnx } from '../../src/engine/onnx.ts';
import { Session } from '../../src/runtime/session.ts';
import type { HostTensor } from '../../src/tensor.ts';
import { uniform } from './helpers.ts';

const LAYERS = 3;

/** h ← h + tanh(h·W_k) for k < LAYERS with a boundary before each layer and after the last; loss Σ h². */
function residualStack(leak = false): E.Graph {
  const g = new E.Graph('stack');
  let h = g.input('x', 'float32', ['n', 4]);
  let early: E.Tensor | undefined;
  for (let k = 0; k < LAYERS; k++) {
    h = E.recomputeBoundary(h);
    const inner = E.tanh(E.matmul(h, g.input(`w${k}`, 'float32', [4, 4])));
    early ??= inner;
    h = E.add(h, inner);
  }
  h = E.recomputeBoundary(h);
  // A leak: layer 0's activation read after the last boundary.
  g.output('loss', E.sum(E.mul(h, leak ? E.add(h, early!) : h), []));
  return g;
}

/** Ids of the tensors `t` is computed from (itself included). */
function ancestorIds(t: E.Tensor): Set<number> {
  const seen = new Set<number>();
  const stack = [t];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x.id)) continue;
    seen.add(x.id);
    const src = x.graph.sources.get(x.id);
    if (src?.kind === 'node') for (const i of src.node.inputs) if (i) stack.push(i);
  }
  return seen;
}

const wrt = ['x', ...Array.from({ length: LAYERS }, (_, k) => `w${k}`)];

async function grads(recompute: boolean, feeds: Record<string, HostTensor>) {
  const bw = backward(residualStack(), 'loss', wrt, { recompute });
  for (const n of wrt) bw.graph.output(`d${n}`, bw.grads.get(n)!);
  const s = await Session.create(toOnnx(bw.graph, { lowering: 'primitive' }).bytes);
  try {
    return { out: await s.run(feeds), matmuls: bw.graph.nodes.filter((n) => n.op === 'MatMul').length };
  } finally {
    await s.release();
  }
}

describe('activation checkpointing', () => {
  test('recomputed segments give bit-identical gradients; each forward runs twice', async () => {
    let seed = 3;
    const random = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 4294967296;
    };
    const feeds: Record<string, HostTensor> = { x: uniform(-1, 1)([5, 4], 'float32', random) };
    for (const n of wrt.slice(1)) feeds[n] = uniform(-1, 1)([4, 4], 'float32', random);
    const kept = await grads(false, feeds);
    const recomputed = await grads(true, feeds);
    for (const n of wrt)
      assert.deepEqual(
        [...(recomputed.out[`d${n}`].data as Float32Array)],
        [...(kept.out[`d${n}`].data as Float32Array)],
        `d${n}`,
      );
    assert.equal(recomputed.matmuls, kept.matmuls + LAYERS, 'one recomputed forward MatMul per layer');
    assert.ok(kept.out.dw0.data.some((v) => v !== 0));
  });

  test("each segment's weight gradient is an ancestor of the earlier segments' gradients", () => {
    const bw = backward(residualStack(), 'loss', wrt, { recompute: true });
    for (let k = 1; k < LAYERS; k++)
      assert.ok(
        ancestorIds(bw.grads.get(`w${k - 1}`)!).has(bw.grads.get(`w${k}`)!.id),
        `dw${k} is computed before the backward pass of layer ${k - 1}`,
      );
    // Without recomputation nothing orders them (so the check above sees the added dependency).
    const plain = backward(residualStack(), 'loss', wrt);
    assert.ok(!ancestorIds(plain.grads.get('w0')!).has(plain.grads.get('w1')!.id));
  });

  test('a segment tensor read past the next boundary is an error', () => {
    assert.throws(() => backward(residualStack(true), 'loss', wrt, { recompute: true }), /read outside it/);
    assert.doesNotThrow(() => backward(residualStack(true), 'loss', wrt));
  });
});
