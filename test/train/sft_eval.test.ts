// `train sft --eval-data <benchmark> --eval-every N`: the evaluation harness scores the current weights on a
// VSI-Bench-layout question file during training; its metrics (overall + per task) and the held-out loss are logged
// per evaluated step and drawn; an evaluation interrupted mid-way resumes question by question on the rerun.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { evalDeps } from '../../src/apps/eval_deps.ts';
import { InputError } from '../../src/errors.ts';
import type { AdapterDeps } from '../../src/eval/adapter.ts';
import { UPSTREAM_SFT } from '../../src/train/sft.ts';
import { runSft, type SftRunOptions } from '../../src/train/sft_run.ts';
import { tinyModels, writeToyData } from './sft_toy.ts';

const VIDEO = { baseInterval: 2, minFrames: 4, maxFrames: 4, minPixels: 3136, maxPixels: 3136, frameFps: 4 };
const readLines = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

/** VSI-Bench rows about the toy rooms (scene = the room's frame folder): a choice and a counting question each. */
function writeQuestions(path: string, rooms: number): number {
  const rows = [];
  for (let i = 0; i < rooms; i++) {
    const side = i % 2 === 0 ? 'A' : 'B';
    const base = { dataset: 'toy', scene_name: `room${i}` };
    rows.push(
      {
        ...base,
        id: `${i}-dir`,
        question_type: 'object_rel_direction_easy',
        question: 'Is the red box on the left or on the right?',
        options: ['A. left', 'B. right'],
        ground_truth: side,
      },
      {
        ...base,
        id: `${i}-count`,
        question_type: 'object_counting',
        question: 'How many red boxes?',
        ground_truth: '1',
      },
    );
  }
  writeFileSync(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  return rows.length;
}

for (const { dir: model, name } of tinyModels().slice(0, 1))
  describe(`train sft with a held-out benchmark (${name})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'sft-eval-'));
    const { data, media } = writeToyData(dir, 2);
    const questions = join(dir, 'held.jsonl');
    writeQuestions(questions, 2);
    const options = (out: string): SftRunOptions => ({
      model,
      data,
      media,
      out,
      hyper: { ...UPSTREAM_SFT, lr: 1e-3, projectorLr: 1e-3, warmupRatio: 0, gradAccum: 1 },
      video: VIDEO,
      epochs: 1,
      maxSteps: 3,
      seed: 0,
      saveEvery: 1,
      evalData: questions,
      evalMedia: media,
      evalEvery: 2,
      evalLimit: 3,
      threads: 1,
      log: () => {},
    });

    test('metrics and held-out loss at steps 2 and 3 (the last), in train.jsonl and train.svg', {
      timeout: 300_000,
    }, async () => {
      const out = join(dir, 'whole');
      const s = await runSft(options(out), evalDeps);
      const log = readLines(join(out, 'train.jsonl'));
      assert.deepEqual(
        log.map((r) => r.step),
        [1, 2, 3],
      );
      assert.equal(log[0].eval, undefined);
      for (const r of log.slice(1)) {
        assert.ok(Number.isFinite(r.eval_loss), `step ${r.step} eval_loss`);
        assert.equal(r.eval.questions, 3, '--eval-limit 3');
        assert.equal(r.eval.failed, 0);
        for (const key of ['overall', 'object_rel_direction', 'object_counting'])
          assert.ok(r.eval[key] >= 0 && r.eval[key] <= 100, `step ${r.step} eval.${key} = ${r.eval[key]}`);
        const report = JSON.parse(readFileSync(join(out, 'eval', `step-${r.step}`, 'report.json'), 'utf8'));
        assert.equal(report.vsibench.overall.macro, r.eval.overall, 'the harness report is what is logged');
        assert.ok(!existsSync(join(out, 'eval', `step-${r.step}`, 'model')), 'the exported model is removed');
      }
      assert.deepEqual(s.evalScores, log[2].eval);
      const svg = readFileSync(join(out, 'train.svg'), 'utf8');
      assert.match(svg, /eval\.overall/);
      assert.match(svg, /eval\.object_counting/);
    });

    test('an evaluation killed after one answer resumes on the rerun: same log, same answers', {
      timeout: 300_000,
    }, async () => {
      const out = join(dir, 'killed');
      let answers = 0;
      const dying: AdapterDeps = {
        spatialMllm: async (checkpoint) => {
          const inner = await evalDeps.spatialMllm!(checkpoint);
          return {
            ...inner,
            answer: async (q, signal) => {
              if (answers++ === 1) throw new InputError('killed');
              return inner.answer(q, signal);
            },
          };
        },
      };
      await assert.rejects(runSft(options(out), dying), /killed/);
      assert.equal(readLines(join(out, 'eval', 'step-2', 'results.jsonl')).length, 1, 'one answer was kept');
      assert.equal(
        readLines(join(out, 'train.jsonl')).length,
        1,
        'step 2 is not logged before its evaluation',
      );
      await runSft(options(out), evalDeps);
      const strip = (r: Record<string, unknown>) => ({ ...r, seconds: 0, encoder_cache_hits: 0 });
      assert.deepEqual(
        readLines(join(out, 'train.jsonl')).map(strip),
        readLines(join(dir, 'whole', 'train.jsonl')).map(strip),
      );
      for (const step of [2, 3])
        assert.deepEqual(
          readLines(join(out, 'eval', `step-${step}`, 'results.jsonl')).map((r) => [r.id, r.prediction]),
          readLines(join(dir, 'whole', 'eval', `step-${step}`, 'results.jsonl')).map((r) => [
            r.id,
            r.prediction,
          ]),
        );
    });
  });
