// A real kill: the CLI runs in a child process against a slow local OpenAI-compatible endpoint, is killed with
// SIGKILL once some results are on disk, and resumed; its report must equal that of an uninterrupted run.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readResults } from '../../src/eval/results.ts';
import { cli } from '../support/cli.ts';
import { answersOnDisk, assertEachAnsweredOnce, fakeEvalArgs, reportFiles } from '../support/fake_eval.ts';
import { startFakeServer } from './openai_server.ts';
import { syntheticVsiBench } from './synthetic.ts';

test('SIGKILL mid-run, then resume: same report as an uninterrupted run', { timeout: 60_000 }, async () => {
  const data = syntheticVsiBench(24);
  const server = await startFakeServer({ delayMs: 25 });
  try {
    const args = (out: string) => fakeEvalArgs(server.url, data, out);
    const killed = mkdtempSync(join(tmpdir(), 'killed-'));
    const child = cli(args(killed));
    while (answersOnDisk(killed) < 8 && child.process.exitCode === null)
      await new Promise((r) => setTimeout(r, 5));
    child.process.kill('SIGKILL');
    await child.exit;
    const partial = readResults(join(killed, 'results.jsonl'), 'vsibench').records.length;
    assert.ok(partial >= 8 && partial < 24, `killed after ${partial} answers`);
    assert.ok(!existsSync(join(killed, 'report.json')));

    const resume = cli(args(killed));
    assert.equal(await resume.exit, 0, resume.stderr());
    assertEachAnsweredOnce(killed, 24);

    const whole = mkdtempSync(join(tmpdir(), 'whole-'));
    const once = cli(args(whole));
    assert.equal(await once.exit, 0, once.stderr());
    assert.deepEqual(reportFiles(killed), reportFiles(whole));
  } finally {
    await server.close();
  }
});

test('failed questions: exit 1 with a summary, the report of the rest; a rerun retries them and exits 0', {
  timeout: 60_000,
}, async () => {
  const data = syntheticVsiBench(6);
  // The endpoint refuses the first two requests (HTTP 400 is not retried): those two questions fail.
  const server = await startFakeServer({ failFirst: 2, status: 400 });
  try {
    const out = mkdtempSync(join(tmpdir(), 'failed-'));
    const args = fakeEvalArgs(server.url, data, out);
    const first = cli(args);
    assert.equal(await first.exit, 1, first.stderr());
    assert.match(first.stderr(), /^error: 2 questions failed .*rerun the same command/m);
    assert.doesNotMatch(first.stderr(), /\n\s+at /);
    assert.equal(readResults(join(out, 'results.jsonl'), 'vsibench').records.length, 4);
    assert.ok(existsSync(join(out, 'report.json')));
    const again = cli(args);
    assert.equal(await again.exit, 0, again.stderr());
    assert.equal(readResults(join(out, 'results.jsonl'), 'vsibench').records.length, 6);
  } finally {
    await server.close();
  }
});
