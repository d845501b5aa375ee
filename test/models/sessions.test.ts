// GraphSessions: one session per graph key, in process or in a worker thread, with the same results; a session
// store keeps prepared graphs across processes.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

test('a session store keeps a prepared graph for the next process: same outputs, weights not read again', async () => {
  const n = 32;
  const r = rng(12);
  const weights = new Map([
    ['w', f32([n, n], randn(r, n * n))],
    ['b', f32([n], randn(r, n))],
  ]);
  let reads = 0;
  const source: E.WeightSource = {
    read: (name) => {
      reads++;
      return weights.get(name)!;
    },
  };
  const dir = mkdtempSync(join(tmpdir(), 'store-'));
  const store = (identity: string): E.ModelStore => ({ dir: join(dir, 'store'), identity, minBytes: 0 });
  const x = f32([2, n], randn(r, 2 * n));
  const outputOf = async (s: GraphSessions) => {
    try {
      return (await (await s.get('linear', () => linearGraph(n))).run({ x })).y;
    } finally {
      await s.release();
    }
  };
  const plain = await outputOf(new GraphSessions(source));
  const first = await outputOf(new GraphSessions(source, { store: store('ckpt A') }));
  const stored = readdirSync(join(dir, 'store'));
  assert.equal(stored.length, 1);
  assert.ok(existsSync(join(dir, 'store', stored[0], 'weights.bin')));
  reads = 0;
  const second = await outputOf(new GraphSessions(source, { store: store('ckpt A') }));
  assert.equal(reads, 0);
  assert.deepEqual(first.data, plain.data);
  assert.deepEqual(second.data, plain.data);
  // Other weights (another identity) are another entry; an unwritable store falls back to no store.
  await outputOf(new GraphSessions(source, { store: store('ckpt B') }));
  assert.equal(readdirSync(join(dir, 'store')).length, 2);
  writeFileSync(join(dir, 'file'), '');
  const fallback = { dir: join(dir, 'file', 'store'), identity: 'A', minBytes: 0 };
  assert.deepEqual((await outputOf(new GraphSessions(source, { store: fallback }))).data, plain.data);
});
