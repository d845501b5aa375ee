// `eval … --queue` against a real Redis with several `spatial-mllm worker` processes: the report equals a
// single-process run's byte for byte; a worker SIGKILLed mid-job loses and duplicates nothing; a poison video
// fails its job at once, with its error kept in Redis, without blocking the others (and --idle-exit workers leave
// afterwards); a worker with another model is refused; Redis restarted mid-run (append-only file) does not stop
// the run, and a run Redis lost is reported with what to do.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { readResults } from '../../src/eval/results.ts';
import { QUEUE_NAME } from '../../src/queue/connection.ts';
import { startFakeServer } from '../eval/openai_server.ts';
import { syntheticVsiBench } from '../eval/synthetic.ts';
import { type Child, cli } from '../support/cli.ts';
import { answersOnDisk, assertEachAnsweredOnce, fakeEvalArgs, reportFiles } from '../support/fake_eval.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

const QUESTIONS = 24;

const until = async (cond: () => boolean, what: string, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

let redis: TestRedis;
let data: string;
let server: Awaited<ReturnType<typeof startFakeServer>>;
let single: string[];
let db = 0;
const workers: Child[] = [];

const evalArgs = (out: string, queue?: string) =>
  fakeEvalArgs(server.url, data, out, ...(queue ? ['--queue', queue] : []));

/** Every question answered once, and the report byte for byte that of the single-process run. */
function assertSameAsSingle(out: string): void {
  assertEachAnsweredOnce(out, QUESTIONS);
  assert.deepEqual(reportFiles(out), single);
}

function worker(queue: string, extra: string[] = []): Child {
  const w = cli(['worker', '--queue', queue, '--lock-seconds', '2', ...extra]);
  workers.push(w);
  return w;
}

async function stopWorkers(): Promise<void> {
  for (const w of workers.splice(0)) {
    w.process.kill('SIGTERM');
    await w.exit;
  }
}

// the fake endpoint answers from the prompt alone: every server gives the same answers
beforeEach(async () => {
  server = await startFakeServer({ delayMs: 40 });
});

afterEach(async () => {
  await stopWorkers();
  await server.close();
});

before(async () => {
  redis = await startRedis();
  data = syntheticVsiBench(QUESTIONS);
  server = await startFakeServer();
  const out = mkdtempSync(join(tmpdir(), 'single-'));
  const run = cli(evalArgs(out));
  assert.equal(await run.exit, 0, run.stderr());
  single = reportFiles(out);
  await server.close();
});

after(async () => {
  await redis?.stop();
});

test('two workers: the queued report equals the single-process one byte for byte', {
  timeout: 60_000,
}, async () => {
  const queue = redis.url(++db);
  const out = mkdtempSync(join(tmpdir(), 'queued-'));
  const ws = [worker(queue), worker(queue)];
  const run = cli(evalArgs(out, queue));
  assert.equal(await run.exit, 0, run.stderr());
  assertSameAsSingle(out);
  await stopWorkers();
  for (const w of ws) assert.match(w.stderr(), /eval \S+ done/, 'each worker answered jobs');
});

test('SIGKILL of a worker mid-job: its job is taken over, nothing lost or repeated', {
  timeout: 60_000,
}, async () => {
  const queue = redis.url(++db);
  const out = mkdtempSync(join(tmpdir(), 'killed-'));
  const doomed = worker(queue);
  const run = cli(evalArgs(out, queue));
  // the doomed worker is alone: once answers arrive it is inside a job
  await until(() => answersOnDisk(out) >= 2, 'the first answers');
  doomed.process.kill('SIGKILL');
  await doomed.exit;
  const before = answersOnDisk(out);
  assert.ok(before < QUESTIONS, `killed after ${before} answers`);
  worker(queue);
  worker(queue);
  assert.equal(await run.exit, 0, run.stderr());
  assertSameAsSingle(out);
  await stopWorkers();
});

test('a poison video fails its job with the error recorded; the other videos are answered', {
  timeout: 60_000,
}, async () => {
  const poisoned = syntheticVsiBench(QUESTIONS);
  const scene = join(poisoned, 'scannet', 'scene0');
  rmSync(scene, { recursive: true });
  writeFileSync(`${scene}.mp4`, 'not a video');
  const rows = readFileSync(join(poisoned, 'test.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const bad = rows
    .filter((r) => r.dataset === 'scannet' && r.scene_name === 'scene0')
    .map((r) => String(r.id));
  assert.ok(bad.length > 0 && bad.length < QUESTIONS);
  const queue = redis.url(++db);
  const out = mkdtempSync(join(tmpdir(), 'poison-'));
  const args = evalArgs(out, queue);
  args[args.indexOf('--data') + 1] = poisoned;
  const run = cli(args);
  await until(() => run.stderr().includes('queued on'), 'the jobs to be queued');
  // batch-style workers: they leave by themselves once the queue is empty
  const ws = [0, 1].map(() => cli(['worker', '--queue', queue, '--idle-exit', '2']));
  // as a single-process run: the report of the rest, the failed questions listed, exit 1
  assert.equal(await run.exit, 1, run.stderr());
  assert.match(
    run.stderr(),
    new RegExp(`${bad.length} questions failed .*rerun the same command to retry them`),
  );
  for (const w of ws) {
    assert.equal(await w.exit, 0, w.stderr());
    assert.match(w.stderr(), /the queue has been empty for 2 s: stopping/);
  }
  const failedJobs = new Queue(QUEUE_NAME, { connection: { url: queue } });
  const failed = await failedJobs.getFailed();
  await failedJobs.close();
  assert.equal(failed.length, 1, 'the poison job stays in Redis as failed');
  assert.equal(failed[0].data.video, 'scannet/scene0');
  assert.match(failed[0].failedReason, /^scannet\/scene0: /);
  assert.equal(failed[0].attemptsMade, 1, 'an unreadable video is not retried');
  for (const id of bad) assert.match(run.stderr(), new RegExp(`failed ${id}: scannet/scene0: .+`));
  const ids = readResults(join(out, 'results.jsonl'), 'vsibench').records.map((r) => r.id);
  assert.deepEqual(
    [...ids].sort(),
    rows
      .map((r) => String(r.id))
      .filter((id) => !bad.includes(id))
      .sort(),
  );
  const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  assert.equal(json.questions.missing, bad.length);
});

test('a worker with another model is refused and stops; the job waits for a matching worker', {
  timeout: 60_000,
}, async () => {
  const queue = redis.url(++db);
  const out = mkdtempSync(join(tmpdir(), 'mismatch-'));
  const wrong = cli(['worker', '--queue', queue, '--model', 'baseline:chance']);
  const run = cli(evalArgs(out, queue));
  assert.equal(await wrong.exit, 2, wrong.stderr());
  assert.match(wrong.stderr(), /refused eval job .*same checkpoint/);
  assert.doesNotMatch(wrong.stderr(), /\n\s+at /, 'no stack trace');
  assert.equal(answersOnDisk(out), 0);
  worker(queue);
  assert.equal(await run.exit, 0, run.stderr());
  assert.deepEqual(reportFiles(out), single);
  await stopWorkers();
});

test('Redis restarted mid-run (append-only file on): the run goes on to the same report', {
  timeout: 60_000,
}, async () => {
  const queue = redis.url(++db);
  const out = mkdtempSync(join(tmpdir(), 'restart-'));
  worker(queue);
  const run = cli(evalArgs(out, queue));
  await until(() => answersOnDisk(out) >= 4, 'the first answers');
  await redis.restart();
  worker(queue);
  assert.equal(await run.exit, 0, run.stderr());
  assertSameAsSingle(out);
  await stopWorkers();
});

test('no Redis at the --queue URL, or no URL at all: one clear line and exit code 2', async () => {
  const out = mkdtempSync(join(tmpdir(), 'noredis-'));
  const closed = cli(evalArgs(out, 'redis://127.0.0.1:1/0'));
  const bad = cli(['worker', '--queue', 'http://example.org']);
  assert.equal(await closed.exit, 2);
  assert.match(closed.stderr(), /^error: cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/0 .*start it there/);
  assert.equal(await bad.exit, 2);
  assert.match(bad.stderr(), /^error: --queue http:\/\/example\.org: give a Redis URL/);
});

test('Redis loses the run (restarted without persistence, flushed): the enqueuer says to rerun, exit code 2', {
  timeout: 60_000,
}, async () => {
  const queue = redis.url(++db);
  const out = mkdtempSync(join(tmpdir(), 'lost-'));
  const run = cli(evalArgs(out, queue));
  await until(() => run.stderr().includes('queued on'), 'the jobs to be queued');
  const client = new Redis(queue);
  await client.flushdb();
  client.disconnect();
  assert.equal(await run.exit, 2);
  assert.match(run.stderr(), /error: Redis no longer holds this evaluation run .*Rerun the same command/);
});
