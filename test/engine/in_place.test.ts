// When a graph output may be written into an input's buffer: every other reader (also through a Transpose that
// ONNX Runtime fuses into the MatMul reading it) must be an ancestor of the writer, directly or through a barrier
// the writer waits for; a writer that reads the input must be element-wise.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inPlaceSafe } from '../../src/engine/in_place.ts';
import * as E from '../../src/engine/index.ts';

/** p [4, 4] read by a matmul (through a Transpose) that feeds `loss`; the update p − x·s with s from `scale`. */
function build(scaleFromLoss: boolean) {
  const g = new E.Graph('update');
  const p = g.input('p', 'float32', [4, 4]);
  const x = g.input('x', 'float32', [4, 4]);
  const loss = E.sum(E.matmul(x, E.transpose(p, [1, 0])), []);
  const s = scaleFromLoss ? loss : g.input('s', 'float32', []);
  const writer = E.sub(p, E.mul(x, s));
  g.output('loss', loss);
  g.output('new:p', writer);
  return { g, p, loss, writer };
}

describe('in-place updates', () => {
  test('a reader the writer does not wait for (through a fused Transpose) forbids sharing', () => {
    const { g, p, writer } = build(false);
    assert.deepEqual(inPlaceSafe(g, [{ input: p, output: writer }]), [false]);
  });

  test('a writer that depends on a barrier after every reader may share; without the barrier it may not', () => {
    const { g, p, loss, writer } = build(true);
    assert.deepEqual(inPlaceSafe(g, [{ input: p, output: writer }], loss), [true]);
    const far = build(false);
    assert.deepEqual(inPlaceSafe(far.g, [{ input: far.p, output: far.writer }], far.loss), [false]);
  });

  test('a writer reading the input must be element-wise', () => {
    const g = new E.Graph('matmul-writer');
    const p = g.input('p', 'float32', [4, 4]);
    const q = g.input('q', 'float32', [4, 4]);
    const y = E.matmul(p, q);
    const z = E.add(p, q);
    assert.deepEqual(
      inPlaceSafe(g, [
        { input: p, output: y },
        { input: p, output: z },
      ]),
      [false, false],
      'p is read by the MatMul and the Add: neither writer runs after the other',
    );
    const h = new E.Graph('elementwise-writer');
    const a = h.input('a', 'float32', [4, 4]);
    const m = E.matmul(a, a);
    assert.deepEqual(
      inPlaceSafe(h, [
        { input: a, output: m },
        { input: a, output: E.add(a, m) },
      ]),
      [false, true],
    );
  });
});
