// End-to-end training of the tiny transformer LM (test/train/tiny_lm.ts) on the copy task: the loss falls below a
// threshold with a fixed seed, and a job killed after a checkpoint and resumed from it continues exactly as the
// uninterrupted job (bit-identical losses and parameters).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Rng } from '../../src/train/rng.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { buildLm, copyFeeds, initLm, TOY, toyOptions } from './tiny_lm.ts';

const BATCH = 16;

describe('tiny transformer LM', () => {
  test('learns the copy task: loss from ~ln 9 to below 0.05 in 120 steps (seed 1/7)', async (t) => {
    const steps = 120;
    const g = buildLm(TOY);
    const trainer = Trainer.create(g, initLm(g, new Rng(1)), { ...toyOptions(steps) });
    const rng = new Rng(7);
    const losses: number[] = [];
    try {
      for (let s = 0; s < steps; s++) losses.push((await trainer.step([copyFeeds(TOY, 32, rng)])).losses[0]);
    } finally {
      await trainer.release();
    }
    const at = (k: number) => losses[k].toFixed(4);
    t.diagnostic(`loss at steps 1, 30, 60, 90, 120: ${[0, 29, 59, 89, 119].map(at).join(', ')}`);
    assert.ok(losses[0] > 2 && losses[0] < 2.5, `initial loss ${losses[0]}`);
    const final = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    assert.ok(final < 0.05, `mean loss of the last 5 steps ${final}`);
  });

  test('kill -9 after a checkpoint, resume: the same losses and bit-identical parameters', async (t) => {
    const total = 8;
    const dir = mkdtempSync(join(tmpdir(), 'resume-'));
    const path = join(dir, 'checkpoint.safetensors');

    // The uninterrupted run.
    const g = buildLm(TOY);
    const straight = Trainer.create(g, initLm(g, new Rng(1)), toyOptions(total));
    const rng = new Rng(7);
    const losses: number[] = [];
    for (let s = 0; s < total; s++)
      losses.push((await straight.step([copyFeeds(TOY, BATCH, rng)])).losses[0]);

    // A job that is killed without warning once it has saved step 3 (or later: it keeps running meanwhile).
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'resume_child.ts'), path, String(total)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      child.on('exit', (code) => reject(new Error(`child exited (${code}) before it was killed`)));
      child.stdout.on('data', (chunk: Buffer) => {
        if (/saved [3-9]/.test(chunk.toString())) {
          child.removeAllListeners('exit');
          child.kill('SIGKILL');
          child.on('exit', () => resolve());
        }
      });
    });

    const resumed = Trainer.create(g, initLm(g, new Rng(1)), toyOptions(total));
    const extra = resumed.load(path);
    const from = resumed.stepsDone;
    assert.ok(from >= 3 && from <= total, `checkpoint at step ${from}`);
    const data = new Rng(extra.rng as number);
    try {
      for (let s = from; s < total; s++) {
        const loss = (await resumed.step([copyFeeds(TOY, BATCH, data)])).losses[0];
        assert.equal(loss, losses[s], `loss at step ${s + 1}`);
      }
      for (const [name, value] of straight.parameters())
        assert.deepEqual(resumed.parameters().get(name)!.data, value.data, `parameter ${name}`);
      for (const [name, value] of straight.optimizerState())
        assert.deepEqual(resumed.optimizerState().get(name)!.data, value.data, `optimizer state ${name}`);
      t.diagnostic(
        `killed after step ${from}; steps ${from + 1}..${total} equal, e.g. loss at step ${from + 1}: ${losses[from]}`,
      );
    } finally {
      await straight.release();
      await resumed.release();
    }
  });
});
