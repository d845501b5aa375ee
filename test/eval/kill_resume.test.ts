// A real kill: the CLI runs in a child process against a slow local OpenAI-compatible endpoint, is killed with
// SIGKILL once some results are on disk, and resumed; its report must equal that of an uninterrupted run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readResults } from '../../src/eval/results.ts';
import { startFakeServer } from './openai_server.ts';
import { syntheticVsiBench } from './synthetic.ts';

const cli = (args: string[]) => [process.execPath, ['--import', 'tsx', 'src/apps/cli.ts', ...args]] as const;
const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').length - 1 : 0);
/** Runs the CLI to its end without blocking this process (the fake endpoint lives here). */
function runCli(args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(...cli(args), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  return new Promise((resolve) => child.on('exit', (status) => resolve({ status, stderr })));
}
const report = (dir: string) =>
  ['report.json', 'report.md', 'chart.svg'].map((f) => readFileSync(join(dir, f), 'utf8'));

test('SIGKILL mid-run, then resume: same report as an uninterrupted run', { timeout: 60_000 }, async () => {
  const data = syntheticVsiBench(24);
  const server = await startFakeServer({ delayMs: 25 });
  try {
    const args = (out: string) => [
      'eval',
      'vsibench',
      '--model',
      'openai:fake',
      '--endpoint',
      server.url,
      '--data',
      data,
      '--out',
      out,
      '--frames',
      '2',
      '--no-progress',
    ];
    const killed = mkdtempSync(join(tmpdir(), 'killed-'));
    const results = join(killed, 'results.jsonl');
    const child = spawn(...cli(args(killed)), { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    while (lines(results) < 8 && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await exited;
    const partial = readResults(results, 'vsibench').records.length;
    assert.ok(partial >= 8 && partial < 24, `killed after ${partial} answers`);
    assert.ok(!existsSync(join(killed, 'report.json')));

    const resume = await runCli(args(killed));
    assert.equal(resume.status, 0, resume.stderr);
    const ids = readResults(results, 'vsibench').records.map((r) => r.id);
    assert.equal(ids.length, 24);
    assert.equal(new Set(ids).size, 24);

    const whole = mkdtempSync(join(tmpdir(), 'whole-'));
    const once = await runCli(args(whole));
    assert.equal(once.status, 0, once.stderr);
    assert.deepEqual(report(killed), report(whole));
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
    const args = [
      'eval',
      'vsibench',
      '--model',
      'openai:fake',
      '--endpoint',
      server.url,
      '--data',
      data,
      '--out',
      out,
      '--frames',
      '2',
      '--no-progress',
    ];
    const first = await runCli(args);
    assert.equal(first.status, 1, first.stderr);
    assert.match(first.stderr, /^error: 2 questions failed .*rerun the same command/m);
    assert.doesNotMatch(first.stderr, /\n\s+at /);
    assert.equal(readResults(join(out, 'results.jsonl'), 'vsibench').records.length, 4);
    assert.ok(existsSync(join(out, 'report.json')));
    const again = await runCli(args);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(readResults(join(out, 'results.jsonl'), 'vsibench').records.length, 6);
  } finally {
    await server.close();
  }
});
