// GraphSessions: one session per graph key, in process or in a worker thread, with the same results.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as E from '../../src/engine/index.ts';
import { GraphSessions } from '../../src/models/sessions.ts';
import { f32 } from '../../src/tensor.ts';
import { randn, rng } from '../support/random.ts';

function linearGraph(n: number) {
  const g = new E.Graph('linear');
  const x = g.input('x', 'float32', ['batch', n]);
  g.output('y', E.linear(x, g.param('w', 'float32', [n, n]), g.param('b', 'float32', [n])));
  return g;
}

test('GraphSessions off the main thread: same outputs bit for bit, worker closed on release', async () => {
  const n = 32;
  const r = rng(11);
  const weights = new Map([
    ['w', f32([n, n], randn(r, n * n))],
    ['b', f32([n], randn(r, n))],
  ]);
  const source: E.WeightSource = { read: (name) => weights.get(name)! };
  const x = f32([3, n], randn(r, 3 * n));
  const here = new GraphSessions(source);
  const worker = new GraphSessions(source, { offMainThread: true });
  try {
    const want = await (await here.get('linear', () => linearGraph(n))).run({ x });
    const got = await (await worker.get('linear', () => linearGraph(n))).run({ x });
    assert.deepEqual(got.y.shape, want.y.shape);
    assert.deepEqual(got.y.data, want.y.data);
  } finally {
    await here.release();
    await worker.release();
  }
});
