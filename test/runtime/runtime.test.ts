import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as E from '../../src/engine/index.ts';
import { InputError } from '../../src/errors.ts';
import { SessionCache } from '../../src/runtime/cache.ts';
import { Session } from '../../src/runtime/session.ts';
import { WorkerExecutor } from '../../src/runtime/worker.ts';
import { f32 } from '../../src/tensor.ts';
import { randn, rng } from '../support/random.ts';

function linearGraph(n: number) {
  const g = new E.Graph('linear');
  const x = g.input('x', 'float32', ['batch', n]);
  g.output('y', E.linear(x, g.param('w', 'float32', [n, n]), g.param('b', 'float32', [n])));
  return g;
}

test('parameters bind as initializers, inline or in an external data file, or as graph inputs', async () => {
  const n = 64;
  const r = rng(5);
  const w = f32([n, n], randn(r, n * n));
  const b = f32([n], randn(r, n));
  const x = f32([2, n], randn(r, 2 * n));
  const weights = new Map([
    ['w', w],
    ['b', b],
  ]);
  const g = linearGraph(n);
  const inline = await Session.create(E.toOnnx(g, { weights }).bytes);
  const want = (await inline.run({ x })).y;

  const dir = mkdtempSync(join(tmpdir(), 'ext-'));
  const model = E.toOnnx(g, { weights, externalData: { path: join(dir, 'model.onnx.data') } });
  writeFileSync(join(dir, 'model.onnx'), model.bytes);
  assert.ok(model.bytes.byteLength < n * n * 4, 'weights left the protobuf');
  assert.ok(statSync(join(dir, 'model.onnx.data')).size >= n * n * 4);
  const external = await Session.create(join(dir, 'model.onnx'));
  assert.deepEqual((await external.run({ x })).y.data, want.data);

  const training = E.toOnnx(g, { params: 'inputs' });
  assert.deepEqual(training.paramInputs, ['b', 'w']);
  const asInputs = await Session.create(training.bytes);
  assert.deepEqual((await asInputs.run({ x, w, b })).y.data, want.data);
  for (const s of [inline, external, asInputs]) await s.release();
});

test('missing or mis-shaped weights are reported by name', () => {
  const g = linearGraph(4);
  assert.throws(() => E.toOnnx(g, { weights: new Map([['w', f32([4, 4])]]) }), /weight b is missing/);
  assert.throws(
    () =>
      E.toOnnx(g, {
        weights: new Map([
          ['w', f32([4, 3])],
          ['b', f32([4])],
        ]),
      }),
    /weight w: checkpoint shape \[4, 3\] but the graph expects \[4, 4\]/,
  );
});

test('graph hash: same structure → same key; weights do not matter; lowering does', () => {
  const a = E.graphHash(linearGraph(8));
  assert.equal(a, E.graphHash(linearGraph(8)));
  assert.notEqual(a, E.graphHash(linearGraph(16)));
  assert.notEqual(a, E.graphHash(linearGraph(8), { lowering: 'primitive' }));
});

test('session cache creates one session per graph hash and options', async () => {
  let created = 0;
  const cache = new SessionCache(async (m, o) => {
    created++;
    return Session.create(m, o);
  });
  const g = linearGraph(4);
  const weights = new Map([
    ['w', f32([4, 4])],
    ['b', f32([4])],
  ]);
  const hash = E.graphHash(g);
  const build = () => E.toOnnx(g, { weights }).bytes;
  const s1 = await cache.get(hash, {}, build);
  const s2 = await cache.get(hash, {}, build);
  const s3 = await cache.get(hash, { threads: 1 }, build);
  assert.equal(s1, s2);
  assert.notEqual(s1, s3);
  assert.equal(created, 2);
  await cache.clear();
  assert.equal(cache.size, 0);
});

test('worker executor runs sessions off the main thread without blocking the event loop', async () => {
  // A long-running graph: repeated 256×256 matmuls.
  const g = new E.Graph('busy');
  let x = g.input('x', 'float32', [256, 256]);
  const w = g.input('w', 'float32', [256, 256]);
  for (let i = 0; i < 200; i++) x = E.tanh(E.matmul(x, w));
  g.output('y', x);
  const r = rng(7);
  const feeds = { x: f32([256, 256], randn(r, 65536)), w: f32([256, 256], randn(r, 65536, 0.05)) };
  const ex = new WorkerExecutor();
  try {
    const s = await ex.createSession(E.toOnnx(g).bytes, { threads: 1 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = Date.now();
    const out = await s.run(feeds);
    const ms = Date.now() - t0;
    clearInterval(timer);
    assert.deepEqual(out.y.shape, [256, 256]);
    assert.ok(ticks >= Math.min(5, ms / 4), `event loop ticked ${ticks} times during a ${ms} ms run`);
    const direct = await Session.create(E.toOnnx(g).bytes, { threads: 1 });
    assert.deepEqual(out.y.data, (await direct.run(feeds)).y.data);
    await direct.release();
    await s.release();
  } finally {
    await ex.close();
  }
});

test('a device that cannot start gives an InputError naming the device and the fix', async () => {
  const g = new E.Graph();
  g.output('y', E.mul(g.input('x', 'float32', [1]), 2));
  const bytes = E.toOnnx(g).bytes;
  for (const device of ['webgpu', 'cuda'] as const) {
    try {
      await (await Session.create(bytes, { device })).release();
    } catch (e) {
      assert.ok(e instanceof InputError, `${device}: ${(e as Error).message}`);
      assert.match((e as Error).message, new RegExp(`${device}.*--device cpu`));
    }
  }
  await assert.rejects(Session.create(bytes, { device: 'tpu' as never }), /unknown device 'tpu'/);
  assert.ok(!existsSync('model.onnx.data'));
});
