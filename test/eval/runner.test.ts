// The harness without a model: baselines answer a synthetic VSI-Bench. An interrupted-then-resumed run, a run
// whose last line was torn by a kill, and merged shards must all give the same report, byte for byte, as one
// uninterrupted run; malformed prediction lines are reported and skipped.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ModelAdapter } from '../../src/eval/adapter.ts';
import { createAdapter } from '../../src/eval/adapters.ts';
import { loadVsiBench } from '../../src/eval/datasets.ts';
import { buildReport } from '../../src/eval/report.ts';
import { readResults } from '../../src/eval/results.ts';
import { mergeRuns, parseShard, type RunSettings, runEval, selectQuestions } from '../../src/eval/runner.ts';
import { syntheticVsiBench } from './synthetic.ts';

const data = syntheticVsiBench(90);
const tmp = () => mkdtempSync(join(tmpdir(), 'evalrun-'));
const files = (dir: string) =>
  Object.fromEntries(
    ['report.json', 'report.md', 'chart.svg'].map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  );

async function run(
  out: string,
  o: { adapter?: ModelAdapter; signal?: AbortSignal; shard?: string; limit?: number } = {},
) {
  const all = await loadVsiBench(data);
  const questions = selectQuestions(all, o.limit, o.shard ? parseShard(o.shard) : undefined);
  const adapter = o.adapter ?? (await createAdapter('baseline:chance', { questions: all }));
  const settings: RunSettings = {
    benchmark: 'vsibench',
    model: adapter.name,
    data,
    subset: 'full',
    frames: 16,
    sampling: 'uniform',
    prompt: 'official',
    limit: o.limit ?? null,
    shard: o.shard ?? null,
    questions: questions.length,
  };
  return runEval({
    settings,
    questions,
    adapter,
    videos: data,
    out,
    convention: 'official',
    signal: o.signal,
  });
}

/** The chance baseline, aborting the run after `n` answers. */
async function abortingAfter(n: number, controller: AbortController): Promise<ModelAdapter> {
  const inner = await createAdapter('baseline:chance', { questions: await loadVsiBench(data) });
  let count = 0;
  return {
    name: inner.name,
    async answer(q, signal) {
      if (count++ === n) controller.abort();
      if (signal?.aborted) throw new Error('aborted');
      return inner.answer(q, signal);
    },
  };
}

test('a run stopped after 37 answers and resumed equals an uninterrupted run', async () => {
  const single = tmp();
  const full = await run(single);
  assert.equal(full.complete, true);
  assert.equal(full.answered, 90);

  const resumed = tmp();
  const controller = new AbortController();
  const first = await run(resumed, {
    adapter: await abortingAfter(37, controller),
    signal: controller.signal,
  });
  assert.equal(first.complete, false);
  assert.equal(first.answered, 37);
  assert.equal(readResults(join(resumed, 'results.jsonl'), 'vsibench').records.length, 37);
  const second = await run(resumed);
  assert.equal(second.answered, 53);
  assert.equal(second.complete, true);
  const ids = readResults(join(resumed, 'results.jsonl'), 'vsibench').records.map((r) => r.id);
  assert.equal(new Set(ids).size, 90, 'no question lost or duplicated');
  assert.deepEqual(files(resumed), files(single));
  assert.equal(
    readFileSync(join(resumed, 'results.jsonl'), 'utf8'),
    readFileSync(join(single, 'results.jsonl'), 'utf8'),
  );
});

test('a torn last line (kill during a write) is cut and its question answered again', async () => {
  const single = tmp();
  await run(single);
  const torn = tmp();
  const controller = new AbortController();
  await run(torn, { adapter: await abortingAfter(20, controller), signal: controller.signal });
  appendFileSync(join(torn, 'results.jsonl'), '{"index":20,"id":"20","dataset":"sc');
  const before = readResults(join(torn, 'results.jsonl'), 'vsibench');
  assert.equal(before.invalid.length, 1);
  const after = await run(torn);
  assert.equal(after.answered, 70);
  assert.deepEqual(files(torn), files(single));
});

test('resuming with other settings is refused', async () => {
  const out = tmp();
  await run(out, { limit: 10 });
  await assert.rejects(run(out, { limit: 12 }), /different settings \(limit: 10 → 12/);
});

test('three shards merged equal one run', async () => {
  const single = tmp();
  await run(single);
  const shards = ['1/3', '2/3', '3/3'].map((s) => ({ s, dir: tmp() }));
  for (const { s, dir } of shards.reverse()) await run(dir, { shard: s });
  const sizes = shards.map(({ dir }) => readResults(join(dir, 'results.jsonl'), 'vsibench').records.length);
  assert.equal(
    sizes.reduce((a, b) => a + b),
    90,
  );
  const merged = tmp();
  const report = mergeRuns(
    shards.map(({ dir }) => dir),
    merged,
  );
  assert.equal(report.questions.missing, 0);
  assert.deepEqual(files(merged), files(single));
  assert.equal(
    readFileSync(join(merged, 'results.jsonl'), 'utf8'),
    readFileSync(join(single, 'results.jsonl'), 'utf8'),
  );
  assert.throws(() => mergeRuns([shards[0].dir, shards[0].dir], tmp()), /each shard of one split once/);
});

test('parseShard and selectQuestions', () => {
  assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  for (const bad of ['0/4', '5/4', '1', 'a/b']) assert.throws(() => parseShard(bad), /--shard/);
  const qs = Array.from({ length: 10 }, (_, i) => ({ id: String(i) }) as never);
  const parts = [1, 2, 3].map((i) =>
    selectQuestions(qs, undefined, { index: i, count: 3 }).map((q: any) => q.id),
  );
  assert.deepEqual(
    parts.flat(),
    qs.map((q: any) => q.id),
  );
  assert.deepEqual(
    selectQuestions(qs, 4, { index: 2, count: 2 }).map((q: any) => q.id),
    ['2', '3'],
  );
});

test('malformed prediction lines are reported, not fatal', () => {
  const dir = tmp();
  const good = [
    { question_type: 'object_counting', prediction: '3', ground_truth: '3' },
    { question_type: 'route_planning', prediction: 'B', ground_truth: 'A', options: ['A. x', 'B. y'] },
    { question_type: 'object_rel_direction_easy', prediction: 'a', ground_truth: 'A' },
  ];
  const clean = join(dir, 'clean.jsonl');
  writeFileSync(clean, good.map((g) => `${JSON.stringify(g)}\n`).join(''));
  const messy = join(dir, 'messy.jsonl');
  writeFileSync(
    messy,
    [
      JSON.stringify(good[0]),
      '{not json',
      JSON.stringify({ question_type: 'object_counting', ground_truth: '3' }),
      JSON.stringify(good[1]),
      JSON.stringify({ question_type: 'telepathy', prediction: 'A', ground_truth: 'A' }),
      '[1, 2]',
      '',
      JSON.stringify({ question_type: 'object_counting', prediction: '1', ground_truth: '0' }),
      JSON.stringify(good[2]),
    ].join('\n'),
  );
  const score = (path: string) => {
    const r = readResults(path, 'vsibench');
    return buildReport({
      benchmark: 'vsibench',
      model: 'm',
      convention: 'official',
      records: r.records,
      invalid: r.invalid,
    });
  };
  const a = score(clean);
  const b = score(messy);
  assert.deepEqual(
    b.problems.map((p) => p.where),
    ['line 2', 'line 3', 'line 5', 'line 6', 'id ?'],
  );
  assert.match(b.problems[4].reason, /ground truth 0/);
  assert.deepEqual(b.vsibench, a.vsibench);
  assert.equal(a.vsibench!.overall.micro, ((1 + 0 + 1) / 3) * 100);
});
