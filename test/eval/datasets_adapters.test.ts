// Loaders (VSI-Bench full/debiased, ScanQA and SQA3D in their original and LLaVA-style layouts), prompts
// (against the official doc_to_text in the vsibench_metrics fixture), frames, baselines, the lazy model adapter,
// and LEO's answer cleaning on hand-derived cases.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { videoFrameSource } from '../../src/apps/eval_deps.ts';
import { InputError } from '../../src/errors.ts';
import { createAdapter } from '../../src/eval/adapters.ts';
import { type EvalCommandOptions, evaluateOptions } from '../../src/eval/commands.ts';
import { loadScanQA, loadSqa3d, loadVsiBench, videoPath } from '../../src/eval/datasets.ts';
import {
  leoAnswerMatch,
  leoCleanAnswer,
  scoreScanQA,
  scoreSqa3d,
  sqa3dQuestionType,
} from '../../src/eval/qa3d_metrics.ts';
import { buildPrompt, type EvalQuestion } from '../../src/eval/questions.ts';
import { findFixtures } from '../support/fixtures.ts';
import { syntheticVsiBench, tinyPng } from './synthetic.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'evaldata-'));
const jsonl = (rows: object[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

for (const fx of findFixtures('vsibench_metrics'))
  test(`${fx.name}: official prompts equal vsibench_doc_to_text`, () => {
    const cases = JSON.parse(readFileSync(join(fx.dir, 'expected.json'), 'utf8')).cases;
    for (const c of cases) {
      const q = {
        benchmark: 'vsibench',
        questionType: c.question_type,
        question: c.question,
        options: c.options ?? undefined,
      };
      assert.equal(buildPrompt(q as EvalQuestion, 'official'), c.official_doc_to_text_default_kwargs);
    }
  });

test('VSI-Bench: JSONL table, videos by dataset, debiased subset from a pruned column or its own file', async () => {
  const dir = tmp();
  const rows = [0, 1, 2].map((i) => ({
    id: i,
    dataset: 'scannet',
    scene_name: `s${i}`,
    question_type: 'object_counting',
    question: `q${i}`,
    options: null,
    ground_truth: String(i + 2),
    pruned: i === 1,
  }));
  writeFileSync(join(dir, 'test.jsonl'), jsonl(rows));
  const full = await loadVsiBench(dir, 'full');
  assert.deepEqual(
    full.map((q) => [q.index, q.id, q.scene, q.answers[0]]),
    [
      [0, '0', 's0', '2'],
      [1, '1', 's1', '3'],
      [2, '2', 's2', '4'],
    ],
  );
  assert.equal(videoPath(dir, full[0]), join(dir, 'scannet', 's0.mp4'));
  assert.deepEqual(
    (await loadVsiBench(dir, 'debiased')).map((q) => q.id),
    ['0', '2'],
  );
  writeFileSync(join(dir, 'test_debiased.jsonl'), jsonl([rows[2]]));
  assert.deepEqual(
    (await loadVsiBench(dir, 'debiased')).map((q) => q.id),
    ['2'],
  );
  const bad = tmp();
  writeFileSync(join(bad, 'test.jsonl'), jsonl([{ ...rows[0], question_type: 'weather' }]));
  await assert.rejects(loadVsiBench(bad), InputError);
  await assert.rejects(loadVsiBench(tmp()), /no VSI-Bench table/);
});

test('ScanQA: original and LLaVA-style files give the same questions and prompts', () => {
  const a = tmp();
  writeFileSync(
    join(a, 'ScanQA_v1.0_val.json'),
    JSON.stringify([
      {
        question_id: 'val-scene0011-0',
        scene_id: 'scene0011_00',
        question: 'What color is the chair?',
        answers: ['brown', 'dark brown'],
      },
    ]),
  );
  const b = tmp();
  writeFileSync(
    join(b, 'scanqa_val_llava_style.json'),
    JSON.stringify([
      {
        id: 'val-scene0011-0',
        video: 'scannet/scene0011_00',
        conversations: [
          { from: 'human', value: '<image> What color is the chair? Answer the question simply.' },
          { from: 'gpt', value: 'brown' },
        ],
        metadata: { answers: ['brown', 'dark brown'] },
      },
    ]),
  );
  const [qa] = loadScanQA(a);
  const [qb] = loadScanQA(b);
  assert.deepEqual(qa, qb);
  assert.equal(buildPrompt(qa, 'official'), 'What color is the chair? Answer the question simply.');
});

test('SQA3D: balanced question and annotation files, question types', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'balanced'));
  writeFileSync(
    join(dir, 'balanced', 'v1_balanced_questions_test_scannetv2.json'),
    JSON.stringify({
      questions: [
        {
          question_id: 7,
          scene_id: 'scene0000_00',
          situation: 'I sit on the bed.',
          question: 'Which way is the door?',
        },
        { question_id: 8, scene_id: 'scene0000_00', situation: 'I stand.', question: 'Is the lamp on?' },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'balanced', 'v1_balanced_sqa_annotations_test_scannetv2.json'),
    JSON.stringify({
      annotations: [
        { question_id: 8, answers: [{ answer: 'yes' }] },
        { question_id: 7, answers: [{ answer: 'left' }] },
      ],
    }),
  );
  const qs = loadSqa3d(dir);
  assert.deepEqual(
    qs.map((q) => [q.id, q.questionType, q.answers]),
    [
      ['7', 'which', ['left']],
      ['8', 'is', ['yes']],
    ],
  );
  assert.equal(
    buildPrompt(qs[0], 'official'),
    'I sit on the bed. Which way is the door? Answer the question using a single word or phrase.',
  );
  assert.equal(sqa3dQuestionType('  How many chairs?'), 'how');
  assert.equal(sqa3dQuestionType('Where is it?'), 'others');
});

test('LEO clean_answer and answer_match, by hand', () => {
  assert.equal(leoCleanAnswer('  The TV is on the LEFT.  '), 'TV is on left');
  assert.equal(leoCleanAnswer('2 chairs'), 'two chairs');
  assert.equal(leoCleanAnswer('None'), 'zero');
  assert.equal(leoCleanAnswer("it's rigth of the  table!"), "it's right of table");
  assert.equal(leoCleanAnswer('chair3 '), 'chair');
  assert.deepEqual(leoAnswerMatch('left', ['left']), [1, 1]);
  assert.deepEqual(leoAnswerMatch('left side', ['left']), [0, 1]);
  assert.deepEqual(leoAnswerMatch('right', ['left']), [0, 0]);
  const s = scoreSqa3d([
    { prediction: 'Left.', answers: ['left'], type: 'which' },
    { prediction: 'to the left', answers: ['left'], type: 'which' },
    { prediction: 'no', answers: ['yes'], type: 'is' },
  ]);
  assert.equal(s.em, (1 / 3) * 100);
  assert.equal(s.emRefined, (2 / 3) * 100);
  assert.deepEqual(s.byType.which, { em: 50, emRefined: 100, count: 2 });
  const l = scoreScanQA([{ id: 'a', prediction: 'The chair.', answers: ['chair', 'office chair'] }], 'leo');
  assert.equal(l.em, 100);
  assert.equal(l.emRefined, 100);
});

test('frames from a folder: numeric file order, uniform choice', async () => {
  const dir = tmp();
  for (const [name, shade] of [
    ['frame_10.png', 100],
    ['frame_2.png', 20],
    ['frame_1.png', 10],
  ] as const)
    writeFileSync(join(dir, name), tinyPng(shade));
  const frames = await videoFrameSource.frames(dir, 3);
  assert.deepEqual(
    frames.map((f) => f.data[0]),
    [10, 20, 100],
  );
  assert.deepEqual(
    (await videoFrameSource.frames(dir, 2)).map((f) => f.data[0]),
    [10, 100],
  );
  assert.deepEqual([frames[0].width, frames[0].height, frames[0].data.length], [4, 3, 36]);
});

test('baselines: chance is deterministic per question, frequency answers the commonest answer', async () => {
  const questions = await loadVsiBench(syntheticVsiBench(40));
  const query = (q: EvalQuestion) => ({
    question: q,
    prompt: '',
    video: '',
    frames: 1,
    sampling: 'uniform' as const,
  });
  const chance = await createAdapter('baseline:chance', { questions });
  const answers = await Promise.all(questions.map((q) => chance.answer(query(q))));
  assert.deepEqual(await Promise.all(questions.map((q) => chance.answer(query(q)))), answers);
  for (const [i, q] of questions.entries())
    if (q.options) assert.ok(q.options.some((o) => o.startsWith(answers[i])));
    else assert.equal(answers[i], '');
  const freq = await createAdapter('baseline:frequency', { questions });
  const counting = questions.filter((q) => q.questionType === 'object_counting');
  const tally = new Map<string, number>();
  for (const q of counting) tally.set(q.answers[0], (tally.get(q.answers[0]) ?? 0) + 1);
  const top = Math.max(...tally.values());
  assert.equal(tally.get(await freq.answer(query(counting[0]))), top);
});

test('runs of other --dtype / --spatial-res / --blind write to their own default folders (resume never mixes them)', () => {
  const base = {
    model: 'spatial-mllm:small',
    data: 'd',
    frames: 8,
    sampling: 'uniform',
    prompt: 'spatial-mllm',
    progress: false,
  } as const;
  const outs = [
    {},
    { dtype: 'float32', spatialRes: 'full' },
    { dtype: 'int4' },
    { spatialRes: 'half' },
    { dtype: 'int8', spatialRes: 'half', blind: true },
  ].map((o) => evaluateOptions('vsibench', { ...base, ...o } as EvalCommandOptions).out);
  assert.deepEqual(
    outs.map((o) => o.replace(/^.*\//, '')),
    [
      'vsibench-spatial-mllm_small',
      'vsibench-spatial-mllm_small',
      'vsibench-spatial-mllm_small-int4',
      'vsibench-spatial-mllm_small-spatial-half',
      'vsibench-spatial-mllm_small-int8-spatial-half-blind',
    ],
  );
});

test('our model adapter says clearly when the pipeline is not in the build', async () => {
  await assert.rejects(
    createAdapter('spatial-mllm:/nowhere', { questions: [] }),
    (e) =>
      e instanceof InputError && /model pipeline \(src\/pipeline\/ask\.ts\) is not available/.test(e.message),
  );
  const injected = await createAdapter('spatial-mllm:/some/dir', {
    questions: [],
    spatialMllm: async (checkpoint, o) => ({
      name: `fake:${checkpoint}:${o?.dtype}:${o?.spatialRes}`,
      answer: async () => 'A',
    }),
    spatialMllmOptions: { dtype: 'int4', spatialRes: 'half' },
  });
  assert.equal(injected.name, 'fake:/some/dir:int4:half');
  await assert.rejects(
    createAdapter('openai:x', { questions: [], endpoint: 'http://127.0.0.1:1/v1' }),
    (e) => e instanceof InputError && /no video decoder/.test(e.message),
  );
  await assert.rejects(createAdapter('gpt:x', { questions: [] }), /unknown --model/);
  await assert.rejects(createAdapter('openai:x', { questions: [] }), /needs --endpoint/);
});
