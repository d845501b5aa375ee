// Parity of both VSI-Bench conventions with the upstream scorers' outputs in every `vsibench_metrics` fixture:
// per-case intermediate values and scores exactly, aggregates exactly (the tolerance the README allows is not used).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  OFFICIAL_THRESHOLDS,
  officialAggregate,
  officialFuzzyMatch,
  officialScore,
  spatialMllmAggregate,
  spatialMllmClean,
  spatialMllmNumber,
  spatialMllmScore,
} from '../../src/eval/vsibench_metrics.ts';
import { pyFloat } from '../../src/python_compat.ts';
import { isChoiceType, isQuestionType, type QuestionType } from '../../src/vsibench.ts';
import { findFixtures } from '../support/fixtures.ts';

type Num = number | string | null; // the fixture writes non-finite numbers as strings
interface Case {
  question_type: string;
  ground_truth: string;
  prediction: string;
  official: Record<string, unknown>;
  spatial_mllm: Record<string, unknown>;
}
const decode = (v: Num | undefined): number | null | undefined =>
  typeof v === 'string' ? Number(v.replace(/^(-?)inf$/, '$1Infinity').replace('nan', 'NaN')) : v;
const same = (a: number | null | undefined, b: number | null | undefined) => Object.is(a, b) || a === b;

const fixtures = findFixtures('vsibench_metrics');

for (const fx of fixtures) {
  const expected = JSON.parse(readFileSync(join(fx.dir, 'expected.json'), 'utf8'));
  const cases: Case[] = expected.cases;

  test(`${fx.name}: official thresholds`, () => {
    const m = expected.official_mra_internals;
    assert.deepEqual(OFFICIAL_THRESHOLDS, m.conf_intervs);
    assert.deepEqual(
      OFFICIAL_THRESHOLDS.map((t) => 1 - t),
      m.one_minus_conf_intervs,
    );
  });

  const checkCase = (c: Case, where: string) => {
    assert.ok(isQuestionType(c.question_type), where);
    const type = c.question_type as QuestionType;
    const o = c.official;
    assert.equal(officialFuzzyMatch(c.prediction), o.fuzzy_matching, `${where} fuzzy_matching`);
    if (!isChoiceType(type)) {
      const fm = officialFuzzyMatch(c.prediction);
      assert.ok(same(pyFloat(fm), decode(o.to_float_pred as Num)), `${where} to_float(pred)`);
      assert.ok(same(pyFloat(c.ground_truth), decode(o.to_float_gt as Num)), `${where} to_float(gt)`);
    }
    const official = officialScore(type, c.prediction, c.ground_truth);
    if (o.raises) assert.ok('error' in official, `${where} official should refuse (${o.raises})`);
    else assert.deepEqual(official, { score: o.score }, `${where} official score`);

    const s = c.spatial_mllm;
    assert.equal(spatialMllmClean(c.prediction), s.clean_pred, `${where} clean_text(pred)`);
    assert.equal(spatialMllmClean(c.ground_truth), s.clean_gt, `${where} clean_text(gt)`);
    if (!isChoiceType(type)) {
      assert.ok(
        same(spatialMllmNumber(s.clean_pred as string), decode(s.normalize_number_pred as Num)),
        where,
      );
      assert.ok(same(spatialMllmNumber(s.clean_gt as string), decode(s.normalize_number_gt as Num)), where);
    }
    assert.deepEqual(
      spatialMllmScore(type, c.prediction, c.ground_truth),
      { score: s.reward },
      `${where} reward`,
    );
  };

  test(`${fx.name}: per-case scores, both conventions (${cases.length} cases)`, () => {
    for (const [i, c] of cases.entries())
      checkCase(c, `case ${i} ${JSON.stringify(c.prediction)} / ${c.ground_truth}`);
  });

  test(`${fx.name}: edge cases kept out of the aggregate`, () => {
    for (const [i, c] of (expected.edge_cases_not_aggregated as Case[]).entries()) checkCase(c, `edge ${i}`);
  });

  test(`${fx.name}: official aggregate (exact)`, () => {
    const rows = cases.map((c) => {
      const type = c.question_type as QuestionType;
      const s = officialScore(type, c.prediction, c.ground_truth);
      assert.ok('score' in s);
      return { type, score: s.score };
    });
    const ours = officialAggregate(rows);
    let maxErr = 0;
    for (const [k, v] of Object.entries(expected.official_aggregate)) {
      if (typeof v === 'number') maxErr = Math.max(maxErr, Math.abs((ours[k] as number) - v));
      assert.equal(ours[k], v, k);
    }
    assert.deepEqual(Object.keys(ours), Object.keys(expected.official_aggregate));
    console.log(`official aggregate max abs error ${maxErr}`);
  });

  test(`${fx.name}: Spatial-MLLM calculate_metrics (exact)`, () => {
    const rows = cases.map((c) => {
      const type = c.question_type as QuestionType;
      const s = spatialMllmScore(type, c.prediction, c.ground_truth);
      assert.ok('score' in s);
      return { type, score: s.score };
    });
    assert.deepEqual(spatialMllmAggregate(rows), expected.spatial_mllm_calculate_metrics);
  });
}
