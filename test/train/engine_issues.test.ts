// Regression tests for engine bugs found while building autodiff.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as E from '../../src/engine/index.ts';
import { Session } from '../../src/runtime/session.ts';
import { f32, tensor } from '../../src/tensor.ts';

test('lower(): fresh dims made while expanding composites do not collide with fresh dims of the source graph', async () => {
  // Source graph: a causal attention (its primitive lowering calls range → fresh 'range_0' in the lowered graph),
  // then a rotary on x of shape [1, 'range_0', 4] where 'range_0' is the source graph's own fresh dim. Expanding
  // the rotary reshapes x to [1, 'range_0', 1, 4]; dimsTensor resolves 'range_0' to the attention's range
  // (length seq = 3) instead of x's (length n = 5), so the Reshape fails at run time.
  const g = new E.Graph('fresh_dims');
  const n = g.input('n', 'int64', []);
  const q = g.input('q', 'float32', [1, 'seq', 4]);
  const att = E.attention(q, q, q, { numHeads: 1, causal: true }).out;
  const rows = (name: string) =>
    E.unsqueeze(E.gather(g.param(name, 'float32', [9, 4]), E.range(g, 0, n, 1), 0), [0]);
  g.output('y', E.rotary(rows('x'), rows('c'), rows('c'), 1));
  g.output('a', att);
  const ones = f32([9, 4], new Float32Array(36).fill(1));
  const bytes = E.toOnnx(g, {
    lowering: 'primitive',
    weights: new Map([
      ['x', ones],
      ['c', ones],
    ]),
  }).bytes;
  const s = await Session.create(bytes, { optimization: 'disabled' });
  try {
    const out = await s.run({ n: tensor('int64', [], [5]), q: f32([1, 3, 4], new Float32Array(12)) });
    assert.deepEqual(out.y.shape, [1, 5, 4]);
  } finally {
    await s.release();
  }
});
