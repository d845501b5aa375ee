// A run folder belongs to one process at a time: a second `train … --out DIR` while the first still runs would
// interleave their logs and overwrite each other's state.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors.ts';
import { lockRun } from '../../src/train/run_log.ts';

test('a run folder held by a live process is refused; a dead holder is taken over; its owner may reopen it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'run-lock-'));
  const lock = join(dir, 'run.lock');
  const other = spawn('sleep', ['30']);
  try {
    writeFileSync(lock, String(other.pid));
    assert.throws(
      () => lockRun(dir),
      (e) =>
        e instanceof InputError && e.message.includes(`process ${other.pid}`) && e.message.includes('--out'),
    );
  } finally {
    other.kill();
    await new Promise((r) => other.once('exit', r));
  }
  lockRun(dir);
  assert.equal(Number(readFileSync(lock, 'utf8')), process.pid);
  lockRun(dir);
  assert.ok(existsSync(lock));
});
