// The queue with real work: `data synth --queue` (scene ranges rendered by two workers into their own folders,
// as on machines without shared storage) gives the same dataset files as a single-process run; `eval --queue`
// with the Spatial-MLLM adapter on the tiny checkpoint gives the single-process report; `geometry precompute
// --queue` caches the same geometry files as a local precompute.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeTinySpatialMllm } from '../../src/apps/demo/tiny_model.ts';
import { synthesize } from '../../src/data/synth/cli.ts';
import { SYNTH_DATASET } from '../../src/data/synth/world.ts';
import { type Child, cli } from '../support/cli.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

const SYNTH = { scenes: 2, seed: 3, frames: 8, fps: 4, width: 112, height: 84 };
const synthArgs = (out: string) =>
  Object.entries({ ...SYNTH, out }).flatMap(([k, v]) => [`--${k}`, String(v)]);

let redis: TestRedis;
let db = 0;
let root: string;
/** The single-process dataset. */
let local: string;
const workers: Child[] = [];

function worker(queue: string, args: string[] = [], env?: NodeJS.ProcessEnv): Child {
  // no worker is killed here: a long lock keeps a loaded machine's slow renewals from handing jobs on twice
  const w = cli(['worker', '--queue', queue, '--lock-seconds', '60', ...args], env);
  workers.push(w);
  return w;
}

async function stopWorkers(): Promise<string[]> {
  const logs: string[] = [];
  for (const w of workers.splice(0)) {
    w.process.kill('SIGTERM');
    assert.equal(await w.exit, 0, w.stderr());
    logs.push(w.stderr());
  }
  return logs;
}

const files = (dir: string) => readdirSync(dir).sort();
const bytes = (path: string) => readFileSync(path).toString('base64');

before(async () => {
  redis = await startRedis();
  root = mkdtempSync(join(tmpdir(), 'queue-real-'));
  local = join(root, 'local');
  await synthesize({ ...SYNTH, out: local, log: () => {} });
  writeTinySpatialMllm(join(root, 'model'));
});

after(async () => {
  await stopWorkers();
  await redis?.stop();
});

test('data synth --queue: two workers render scene ranges; the same dataset files as one process', {
  timeout: 120_000,
}, async () => {
  const queue = redis.url(++db);
  const outs = [join(root, 'worker1'), join(root, 'worker2')];
  for (const out of outs) worker(queue, ['--out', out]);
  const gathered = join(root, 'gathered');
  const run = cli(['data', 'synth', ...synthArgs(gathered), '--queue', queue, '--scenes-per-job', '1']);
  assert.equal(await run.exit, 0, run.stderr());
  for (const f of ['meta_info.json', 'qa.json'])
    assert.equal(readFileSync(join(gathered, f), 'utf8'), readFileSync(join(local, f), 'utf8'), f);
  // every scene rendered by one worker or the other (at least once), byte-identical to the single-process files
  const rendered = outs.flatMap((o) => {
    try {
      return files(join(o, SYNTH_DATASET)).map((f) => [f, join(o, SYNTH_DATASET, f)] as const);
    } catch {
      return [];
    }
  });
  assert.deepEqual([...new Set(rendered.map(([f]) => f))].sort(), files(join(local, SYNTH_DATASET)));
  for (const [f, path] of rendered) assert.equal(bytes(path), bytes(join(local, SYNTH_DATASET, f)), f);
  const logs = await stopWorkers();
  assert.ok(
    logs.every((l) => /synth \S+ done/.test(l)),
    'both workers rendered scenes',
  );
});

test('eval --queue with the Spatial-MLLM adapter (tiny checkpoint): the single-process report', {
  timeout: 240_000,
}, async () => {
  const questions = JSON.parse(readFileSync(join(local, 'qa.json'), 'utf8')) as { scene_name: string }[];
  // one question from each scene: two jobs
  const scenes = [...new Set(questions.map((q) => q.scene_name))];
  const picked = scenes.map((s) => questions.find((q) => q.scene_name === s)!);
  writeFileSync(join(local, 'test.jsonl'), picked.map((q) => JSON.stringify(q)).join('\n'));
  const args = (out: string) => [
    'eval',
    'vsibench',
    '--model',
    `spatial-mllm:${join(root, 'model')}`,
    '--data',
    local,
    '--out',
    out,
    '--frames',
    '4',
    '--no-progress',
  ];
  const single = cli(args(join(root, 'eval-single')));
  assert.equal(await single.exit, 0, single.stderr());
  const queue = redis.url(++db);
  worker(queue);
  worker(queue);
  const queued = cli([...args(join(root, 'eval-queued')), '--queue', queue]);
  assert.equal(await queued.exit, 0, queued.stderr());
  for (const f of ['results.jsonl', 'report.json', 'report.md', 'chart.svg']) {
    const read = (dir: string) => readFileSync(join(root, dir, f), 'utf8');
    // results arrive in any order; the lines are the same
    const norm = (s: string) => (f === 'results.jsonl' ? s.trim().split('\n').sort().join('\n') : s);
    assert.equal(norm(read('eval-queued')), norm(read('eval-single')), f);
  }
  await stopWorkers();
});

test('geometry precompute --queue caches the same files as a local precompute', {
  timeout: 240_000,
}, async () => {
  const args = ['geometry', 'precompute', '--model', join(root, 'model'), '--videos', local, '--no-progress'];
  const localCache = join(root, 'cache-local');
  const here = cli(args, { XDG_CACHE_HOME: localCache });
  assert.equal(await here.exit, 0, here.stderr());
  const queue = redis.url(++db);
  const sharedCache = join(root, 'cache-shared');
  worker(queue, [], { XDG_CACHE_HOME: sharedCache });
  worker(queue, [], { XDG_CACHE_HOME: sharedCache });
  const queued = cli([...args, '--queue', queue]);
  assert.equal(await queued.exit, 0, queued.stderr());
  const cached = files(join(localCache, 'spatial-mllm', 'geometry'));
  assert.equal(cached.length, SYNTH.scenes, 'one geometry file per video');
  assert.deepEqual(files(join(sharedCache, 'spatial-mllm', 'geometry')), cached);
  await stopWorkers();
});
