// Our question templates, parsers and answer oracle on VSI-Bench's own 5130 released questions
// (test/data/vsibench/README.md): every question is read, the template types are written back word for word, and
// with the benchmark's scene metadata the recomputed answers agree with the released ones.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { answerQuestions, type OracleAnswer } from '../../src/data/qa/oracle.ts';
import {
  absDistanceQuestion,
  appearanceOrderQuestion,
  countingQuestion,
  type ParsedQuestion,
  parseQuestion,
  ROOM_SIZE_QUESTION,
  relDirectionQuestion,
  relDistanceQuestion,
  routeQuestion,
  sizeQuestion,
} from '../../src/data/qa/templates.ts';
import type { VsiQuestion } from '../../src/data/qa/types.ts';
import { readSceneMetaFile, type SceneMetaFile } from '../../src/data/scene.ts';
import { QUESTION_TYPES } from '../../src/vsibench.ts';

const QUESTIONS: VsiQuestion[] = gunzipSync(
  readFileSync(new URL('vsibench/questions.jsonl.gz', import.meta.url)),
)
  .toString('utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line));

const ofType = (t: string) => QUESTIONS.filter((q) => q.question_type === t);

/** The text our templates write for a parsed question. */
function render(p: ParsedQuestion): string {
  switch (p.type) {
    case 'object_counting':
      return countingQuestion(p.category);
    case 'object_size_estimation':
      return sizeQuestion(p.category);
    case 'room_size_estimation':
      return ROOM_SIZE_QUESTION;
    case 'object_abs_distance':
      return absDistanceQuestion(p.a, p.b);
    case 'object_rel_distance':
      return relDistanceQuestion(p.choices, p.category);
    case 'object_rel_direction_easy':
    case 'object_rel_direction_medium':
    case 'object_rel_direction_hard': {
      const level = p.type.slice('object_rel_direction_'.length) as 'easy' | 'medium' | 'hard';
      return relDirectionQuestion[level](p.positioning, p.orienting, p.querying);
    }
    case 'obj_appearance_order':
      return appearanceOrderQuestion(p.categories);
    case 'route_planning':
      return routeQuestion(p.start, p.facing, p.destination, p.steps);
  }
}

// Route questions were written by annotators; those in the template's own form (our regex, not the parser's):
// "beginning at the A and facing the B", steps only "[please fill in]" or "Go forward until the X".
const NAME = '[a-z]+(?: [a-z]+)*';
const STEP = `(?:\\[please fill in\\]|Go forward until the ${NAME})`;
const TEMPLATE_ROUTE = new RegExp(
  `^You are a robot beginning at the ${NAME} and facing the ${NAME}\\. You want to navigate to the ${NAME}\\. ` +
    "You will perform the following actions \\(Note: for each \\[please fill in\\], choose either 'turn back,' 'turn left,' or 'turn right\\.'\\): " +
    `(?:\\d+\\. ${STEP} )*\\d+\\. ${STEP}\\. You have reached the final destination\\.$`,
);

describe('VSI-Bench released questions', () => {
  it('holds the 10 task types, 5130 questions', () => {
    assert.equal(QUESTIONS.length, 5130);
    assert.deepEqual([...new Set(QUESTIONS.map((q) => q.question_type))].sort(), [...QUESTION_TYPES].sort());
  });

  it('every question parses (but one annotator-written route facing away from an object)', () => {
    const unparsed = QUESTIONS.filter((q) => parseQuestion(q.question_type, q.question) === null);
    assert.deepEqual(
      unparsed.map((q) => q.question_type),
      ['route_planning'],
    );
    assert.match(unparsed[0].question, /with your back to/);
  });

  for (const type of QUESTION_TYPES.filter((t) => t !== 'route_planning'))
    it(`${type}: our template writes each question word for word`, () => {
      const qs = ofType(type);
      assert.ok(qs.length > 0);
      for (const q of qs) assert.equal(render(parseQuestion(type, q.question)!), q.question);
    });

  it('route_planning: every route in the template form is written back word for word', () => {
    const templated = ofType('route_planning').filter((q) => TEMPLATE_ROUTE.test(q.question));
    assert.ok(templated.length > 50, `${templated.length}`);
    for (const q of templated) assert.equal(render(parseQuestion(q.question_type, q.question)!), q.question);
  });

  it('the absolute-distance parser reads both wordings', () => {
    for (const q of ofType('object_abs_distance')) {
      const p = parseQuestion(q.question_type, q.question) as { a: string; b: string };
      const older = q.question.replace('what is the distance', 'what is the direct distance');
      assert.notEqual(older, q.question);
      assert.deepEqual(parseQuestion(q.question_type, older), p);
    }
  });
});

const META = '../shared/data/vsibench/meta_info';
const META_FILES = ['scannet', 'arkitscenes', 'scannetpp'].map((d) => `${META}/${d}_meta_info_val.json`);
const haveMeta = META_FILES.every((f) => existsSync(f));

describe('the answer oracle on VSI-Bench released questions', {
  skip: !haveMeta && 'VSI-Bench meta_info not found',
}, () => {
  const scenes: SceneMetaFile = haveMeta ? Object.assign({}, ...META_FILES.map(readSceneMetaFile)) : {};
  const answers = haveMeta ? answerQuestions(scenes, QUESTIONS) : [];
  const answersOf = (t: string) => answers.filter((a) => a.question_type === t);
  const closeTo = (a: OracleAnswer, tol: number) =>
    a.answer !== null && Math.abs(Number(a.answer) - Number(a.ground_truth)) <= tol + 1e-9;

  it('reports per type: questions, parsed, answered, agreeing', (t) => {
    const rows = QUESTION_TYPES.map((type) => {
      const as = answersOf(type);
      const parsed = as.filter((a) => a.note !== 'question wording not recognised for its type').length;
      const answered = as.filter((a) => a.answer !== null).length;
      const agree = as.filter((a) => a.agrees === true).length;
      return `${type.padEnd(28)} ${String(as.length).padStart(4)} ${String(parsed).padStart(6)} ${String(answered).padStart(8)} ${String(agree).padStart(6)}`;
    });
    t.diagnostic(`type                         qs   parsed answered agree\n${rows.join('\n')}`);
  });

  it('every answered question of the exact types agrees with VSI-Bench', () => {
    for (const type of [
      'object_size_estimation',
      'room_size_estimation',
      'object_rel_distance',
      'object_rel_direction_easy',
      'object_rel_direction_medium',
      'object_rel_direction_hard',
    ]) {
      const as = answersOf(type);
      const answered = as.filter((a) => a.answer !== null);
      // The unanswered few name objects without a box in the metadata.
      assert.ok(answered.length >= 0.97 * as.length, `${type}: ${answered.length} of ${as.length}`);
      assert.deepEqual(
        answered.filter((a) => !a.agrees),
        [],
        type,
      );
    }
  });

  it('object counts agree on ≥ 99% (a few VSI-Bench counts differ from its own metadata)', () => {
    const as = answersOf('object_counting');
    assert.ok(as.filter((a) => a.agrees).length >= 0.99 * as.length);
  });

  it('absolute distances: every question answered from boxes, ≥ 97.5% within 0.1 m of VSI-Bench', (t) => {
    const as = answersOf('object_abs_distance');
    assert.equal(as.length, 834);
    // Four name a category with no box in the metadata.
    assert.ok(as.filter((a) => a.answer !== null).length >= as.length - 4);
    const within = as.filter((a) => closeTo(a, 0.1)).length;
    t.diagnostic(
      `exact ${as.filter((a) => a.agrees).length}, within 0.1 m ${within} of ${as.length} (${((100 * within) / as.length).toFixed(1)}%)`,
    );
    assert.ok(within >= 0.975 * as.length, `${within} of ${as.length}`);
  });

  it('appearance order parses but needs per-frame visibility, which the metadata lacks', () => {
    for (const a of answersOf('obj_appearance_order'))
      assert.equal(a.note, 'the metadata has no per-frame visibility');
  });

  it('route planning: an answered route agrees', () => {
    const answered = answersOf('route_planning').filter((a) => a.answer !== null);
    assert.ok(answered.length >= 1);
    for (const a of answered) assert.equal(a.agrees, true, JSON.stringify(a));
  });
});
