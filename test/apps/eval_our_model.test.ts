// The evaluation runner with our own model: a rendered synthetic room (VSI-Bench layout questions and video),
// the tiny generated checkpoint, `eval vsibench --model spatial-mllm:DIR` end to end.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeTinySpatialMllm } from '../../src/apps/demo/tiny_model.ts';
import { synthesize } from '../../src/data/synth/cli.ts';

test('eval vsibench runs the Spatial-MLLM pipeline on every question and writes results and reports', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eval-ours-'));
  const data = join(dir, 'data');
  const { questions } = await synthesize({
    scenes: 1,
    out: data,
    seed: 3,
    frames: 8,
    fps: 4,
    width: 112,
    height: 84,
    log: () => {},
  });
  const types = ['object_counting', 'object_rel_distance', 'object_abs_distance'];
  const picked = types
    .map((t) => questions.find((q) => q.question_type === t))
    .filter((q) => q !== undefined);
  assert.ok(picked.length >= 2, 'the synthetic room yields questions of these types');
  writeFileSync(join(data, 'test.jsonl'), picked.map((q) => JSON.stringify(q)).join('\n'));
  writeTinySpatialMllm(join(dir, 'model'));
  const out = join(dir, 'out');
  const args = [
    '--import',
    'tsx',
    'src/apps/cli.ts',
    'eval',
    'vsibench',
    '--model',
    `spatial-mllm:${join(dir, 'model')}`,
    '--data',
    data,
    '--out',
    out,
    '--frames',
    '4',
    '--no-progress',
  ];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const results = readFileSync(join(out, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(results.map((x) => String(x.id)).sort(), picked.map((q) => String(q.id)).sort());
  for (const x of results) assert.equal(typeof x.prediction, 'string');
  for (const f of ['report.json', 'report.md', 'chart.svg']) assert.ok(existsSync(join(out, f)), f);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  assert.equal(typeof report, 'object');
  // Resuming that run with an option that changes answers is refused (exit 2, one line), not mixed in.
  const again = spawnSync(process.execPath, [...args, '--spatial-res', 'half'], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(again.status, 2, again.stderr);
  assert.match(
    again.stderr,
    /different settings \(model: "spatial-mllm:[^"]*" → "spatial-mllm:[^"]* --spatial-res half"\)/,
  );
  assert.doesNotMatch(again.stderr, /\n\s+at /);
});
