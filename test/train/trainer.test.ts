// The step runner's buffer handling: onnxruntime-node takes input typed arrays and preallocated outputs in place,
// so a training step moves parameter and optimizer-state bytes only inside ONNX Runtime, and updates them in their
// own buffers when the graph allows (the same values as with two buffers); the byte accounting; checkpoint
// validation.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import * as E from '../../src/engine/index.ts';
import { Rng } from '../../src/train/rng.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { buildLm, copyFeeds, initLm, TOY, toyOptions } from './tiny_lm.ts';

describe('trainer buffers', () => {
  test('onnxruntime-node reads feeds in place and writes preallocated outputs in place', async () => {
    // y = reverse(x) with y's buffer = x's buffer: a copied input gives the reversal, an in-place one a corrupted
    // second half (the first half overwrote what the second half reads).
    const g = new E.Graph('alias');
    const x = g.input('x', 'float32', [8]);
    g.output('y', E.slice(x, [0], [-1], [-100], [-1]));
    const s = await ort.InferenceSession.create(E.toOnnx(g).bytes);
    const data = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    await s.run({ x: new ort.Tensor('float32', data, [8]) }, { y: new ort.Tensor('float32', data, [8]) });
    await s.release();
    assert.deepEqual([...data], [7, 6, 5, 4, 4, 5, 6, 7]);
  });

  test('with clipping, parameters and state are updated in their own buffers; bytes per step', async () => {
    const g = buildLm(TOY);
    const trainer = Trainer.create(g, initLm(g, new Rng(1)), toyOptions(10));
    const rng = new Rng(2);
    try {
      const name = 'model.layers.0.mlp.up_proj.weight';
      const before = trainer.parameters().get(name)!;
      const values = before.data.slice();
      const r1 = await trainer.step([copyFeeds(TOY, 4, rng)]);
      await trainer.step([copyFeeds(TOY, 4, rng)]); // the first warmup step runs at lr 0
      const after2 = trainer.parameters().get(name)!;
      assert.equal(after2, before, 'written into the buffer it was read from');
      assert.notDeepEqual(after2.data, values);

      const paramBytes = [...trainer.parameters().values()].reduce((n, t) => n + t.data.byteLength, 0);
      const batchBytes = 2 * 4 * TOY.seq * 8 + 4;
      const scalarBytes = 3 * 4; // AdamW: decay, step_size, bias_correction2_sqrt of one group
      assert.equal(r1.bytes.fed, 3 * paramBytes + batchBytes + scalarBytes); // params + exp_avg + exp_avg_sq
      assert.equal(r1.bytes.fetched, 3 * paramBytes + 4 + 4 + 1); // updated params and state, loss, grad_norm, finite flag
    } finally {
      await trainer.release();
    }
  });

  test('without clipping parameters alternate between two buffers (a reader may follow the update); same values', async () => {
    const g = buildLm(TOY);
    const w = initLm(g, new Rng(1));
    // A clip threshold no norm reaches multiplies by exactly 1: the same arithmetic, with the in-place barrier.
    const clipped = Trainer.create(g, w, { ...toyOptions(10), maxGradNorm: 1e30 });
    const free = Trainer.create(g, w, { ...toyOptions(10), maxGradNorm: undefined });
    const name = 'model.layers.0.mlp.up_proj.weight';
    try {
      const before = free.parameters().get(name)!;
      for (let step = 0; step < 3; step++) {
        const feeds = copyFeeds(TOY, 4, new Rng(10 + step));
        // Two micro-batches: the accumulate graph too.
        const second = copyFeeds(TOY, 4, new Rng(20 + step));
        await clipped.step([feeds, second]);
        await free.step([feeds, second]);
        if (step === 0) assert.notEqual(free.parameters().get(name), before, 'a second buffer');
      }
      for (const [n, t] of clipped.parameters()) assert.deepEqual(t.data, free.parameters().get(n)!.data, n);
      for (const [k, t] of clipped.optimizerState())
        assert.deepEqual(t.data, free.optimizerState().get(k)!.data, k);
    } finally {
      await clipped.release();
      await free.release();
    }
  });

  test('checkpoints: a different optimizer or graph is refused', async () => {
    const g = buildLm(TOY);
    const w = initLm(g, new Rng(1));
    const a = Trainer.create(g, w, toyOptions(10));
    const path = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'a.safetensors');
    a.save(path, { note: 'x' });
    const sgd = Trainer.create(g, w, { ...toyOptions(10), optimizer: { kind: 'sgd', momentum: 0.9 } });
    assert.throws(() => sgd.load(path), /written with optimizer/);
    const bigger = buildLm({ ...TOY, layers: 3 });
    const b = Trainer.create(bigger, initLm(bigger, new Rng(1)), toyOptions(10));
    assert.throws(() => b.load(path), /has no tensor model\.layers\.2/);
    assert.deepEqual(a.load(path), { note: 'x' });
    // A refused checkpoint leaves no open file behind (a long-lived server or a retry loop would leak them).
    if (existsSync('/proc/self/fd')) {
      const open = () =>
        readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`) === path;
          } catch {
            return false;
          }
        }).length;
      assert.throws(() => sgd.load(path));
      assert.throws(() => b.load(path));
      assert.equal(open(), 0);
    }
  });
});
