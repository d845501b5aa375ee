// VSI-Bench scoring in two conventions, each reproducing its upstream code to the last digit:
// - 'official': vision-x-nyu/thinking-in-space@51e089c `lmms_eval/tasks/vsibench/utils.py` (first space-separated
//   token, exact letter match, float64 MRA over 10 thresholds with `<=`, per-task means, rel_direction = mean of its
//   three sub-tasks, overall = unweighted mean of the 8 tasks);
// - 'spatial-mllm': diankun-wu/Spatial-MLLM@9fc4738 `src/evaluation/vsibench/{dataset_utils,eval_vsibench}.py`
//   (last `<answer>` block, whole cleaned string compared, commas dropped from numbers, float32 MRA with `<` and
//   +1e-8 in the denominator, question-weighted "micro" means next to the macro one).

import {
  npLinspace,
  npMean,
  npSum,
  pyCollapseSpace,
  pyFloat,
  pyFormatFixed,
  pyRstripChars,
  pyStrip,
  pySum,
} from '../python_compat.ts';
import { isChoiceType, type QuestionType, REL_DIRECTION_TYPES, TASKS, type Task } from '../vsibench.ts';

export const CONVENTIONS = ['official', 'spatial-mllm'] as const;
export type Convention = (typeof CONVENTIONS)[number];

/** A per-question score, or why the convention cannot score it (kept out of every mean, and reported). */
export type QuestionScore = { score: number } | { error: string };

// ---- official -------------------------------------------------------------------------------------------

/** `pred.split(' ')[0].rstrip('.').strip()`: only an ASCII space separates, so ' B' gives ''. */
export function officialFuzzyMatch(pred: string): string {
  return pyStrip(pyRstripChars(pred.split(' ')[0], '.'));
}

/** `np.linspace(.5, .95, int((.95 - .5) / .05 + 2))`: 10.999… truncates to 10 thresholds. */
export const OFFICIAL_THRESHOLDS: readonly number[] = npLinspace(
  0.5,
  0.95,
  Math.trunc((0.95 - 0.5) / 0.05 + 2),
);

/** `mean_relative_accuracy`: |p−g|/g (float64, signed g) ≤ 1−θ, mean over the thresholds; g = 0 raises upstream. */
export function officialMra(pred: number, target: number): QuestionScore {
  if (target === 0)
    return { error: 'ground truth 0: the official MRA divides by it (ZeroDivisionError upstream)' };
  const rel = Math.abs(pred - target) / target;
  return {
    score: npSum(OFFICIAL_THRESHOLDS.map((t) => (rel <= 1 - t ? 1 : 0))) / OFFICIAL_THRESHOLDS.length,
  };
}

export function officialScore(type: QuestionType, prediction: string, groundTruth: string): QuestionScore {
  const answer = officialFuzzyMatch(prediction);
  if (isChoiceType(type)) return { score: answer.toLowerCase() === groundTruth.toLowerCase() ? 1 : 0 };
  const pred = pyFloat(answer);
  const gt = pyFloat(groundTruth);
  // upstream: a None operand raises TypeError inside abs(), which is caught and scored as the worst case, 0.
  if (pred === null || gt === null) return { score: 0 };
  return officialMra(pred, gt);
}

// ---- Spatial-MLLM ---------------------------------------------------------------------------------------

/** `clean_text`: last `<answer>…</answer>` content, newlines → spaces, whitespace runs collapsed, stripped,
 * trailing dots removed, lower-cased. */
export function spatialMllmClean(text: string): string {
  const blocks = [...text.matchAll(/<answer>([\s\S]*?)<\/answer>/g)];
  const inner = blocks.length ? blocks[blocks.length - 1][1] : text;
  return pyRstripChars(pyStrip(pyCollapseSpace(inner.replace(/[\n\r]/g, ' '))), '.').toLowerCase();
}

/** `normalize_number`: commas removed, then Python float(). */
export function spatialMllmNumber(s: string): number | null {
  return pyFloat(s.replaceAll(',', ''));
}

const f32 = Math.fround;
/** `torch.arange(.5, .95 + .05/2, .05, dtype=float32)`: CPU arange steps in double and rounds each value. */
const SM_THRESHOLDS = Array.from({ length: 10 }, (_, i) => f32(0.5 + 0.05 * i));

/** Spatial-MLLM's float32 MRA: |p−g| / (|g| + 1e-8) < 1−θ, mean as float32. Each float32 operation is a double
 * operation rounded once with Math.fround (exact, since 53 ≥ 2·24+2). */
export function spatialMllmMra(pred: number, target: number): number {
  const p = f32(pred);
  const g = f32(target);
  const rel = f32(Math.abs(f32(p - g)) / f32(Math.abs(g) + f32(1e-8)));
  const hits = SM_THRESHOLDS.filter((t) => rel < f32(1 - t)).length;
  return f32(hits / SM_THRESHOLDS.length);
}

/** `vsi_reward(clean_text(gt), clean_text(pred), type)`. */
export function spatialMllmScore(type: QuestionType, prediction: string, groundTruth: string): QuestionScore {
  const pred = spatialMllmClean(prediction);
  const gt = spatialMllmClean(groundTruth);
  if (isChoiceType(type)) return { score: pyStrip(pred) === pyStrip(gt) ? 1 : 0 };
  const p = spatialMllmNumber(pred);
  const g = spatialMllmNumber(gt);
  return { score: p === null || g === null ? 0 : spatialMllmMra(p, g) };
}

export function scoreQuestion(
  convention: Convention,
  type: QuestionType,
  prediction: string,
  groundTruth: string,
): QuestionScore {
  return convention === 'official'
    ? officialScore(type, prediction, groundTruth)
    : spatialMllmScore(type, prediction, groundTruth);
}

// ---- aggregates -----------------------------------------------------------------------------------------

export interface ScoredQuestion {
  type: QuestionType;
  score: number;
}

/** Scores grouped by question type, types in pandas' sorted groupby order, scores in row order. */
function groupByType(rows: readonly ScoredQuestion[]): Map<QuestionType, number[]> {
  const groups = new Map<QuestionType, number[]>();
  for (const type of [...new Set(rows.map((r) => r.type))].sort()) groups.set(type, []);
  for (const r of rows) groups.get(r.type)!.push(r.score);
  return groups;
}

const officialMetricKey = (t: string, mc: boolean) => `${t}_${mc ? 'accuracy' : 'MRA:.5:.95:.05'}`;

/** What `vsibench_aggregate_results` returns: overall and per-task scores ×100 in the official order, plus its
 * tabulated strings. `partial_rel_direction` is set when only some of the three sub-types were present (the
 * official code raises KeyError there; we average the ones present). */
export interface OfficialAggregate {
  [key: string]: number | string | boolean;
}

export function officialAggregate(rows: readonly ScoredQuestion[]): OfficialAggregate {
  const output = new Map<string, number>();
  for (const [type, scores] of groupByType(rows))
    output.set(officialMetricKey(type, isChoiceType(type)), npMean(scores));
  const directions = REL_DIRECTION_TYPES.map((t) => officialMetricKey(t, true)).filter((k) => output.has(k));
  if (directions.length) {
    const parts = directions.map((k) => output.get(k)!);
    for (const k of directions) output.delete(k);
    output.set('object_rel_direction_accuracy', pySum(parts) / parts.length);
  }
  const values = [...output.values()];
  const result: OfficialAggregate = { overall: (pySum(values) / values.length) * 100 };
  for (const task of TASKS)
    for (const metric of ['accuracy', 'MRA:.5:.95:.05']) {
      const key = `${task}_${metric}`;
      if (output.has(key)) result[key] = output.get(key)! * 100;
    }
  const keys = Object.keys(result);
  result.tabulated_keys = keys.join(', ');
  result.tabulated_results = keys.map((k) => pyFormatFixed(result[k] as number, 3)).join(', ');
  if (directions.length && directions.length < 3) result.partial_rel_direction = true;
  return result;
}

/** What Spatial-MLLM's `calculate_metrics` returns (fractions, not ×100). */
export interface SpatialMllmMetrics {
  per_question_type: Record<string, { score: number; count: number }>;
  acc: { micro: number; macro: number };
  mra: { micro: number; macro: number };
  all: { micro: number; macro: number };
}

export function spatialMllmAggregate(rows: readonly ScoredQuestion[]): SpatialMllmMetrics {
  if (rows.length === 0)
    return {
      per_question_type: {},
      acc: { micro: 0, macro: 0 },
      mra: { micro: 0, macro: 0 },
      all: { micro: 0, macro: 0 },
    };
  const safeMean = (xs: number[]) => (xs.length ? npMean(xs) : 0);
  const perType: SpatialMllmMetrics['per_question_type'] = {};
  for (const [type, scores] of groupByType(rows))
    perType[type] = { score: npMean(scores), count: scores.length };
  const present = Object.keys(perType) as QuestionType[];
  // upstream lists the sub-types in REL_DIRECTION_TYPES order (easy, medium, hard), not in sorted order.
  const direction = REL_DIRECTION_TYPES.filter((t) => perType[t]).map((t) => perType[t].score);
  const lead = direction.length ? [npMean(direction)] : [];
  const notDirection = present.filter((t) => !(REL_DIRECTION_TYPES as readonly string[]).includes(t));
  const scoresOf = (types: QuestionType[]) => types.map((t) => perType[t].score);
  return {
    per_question_type: perType,
    acc: {
      micro: safeMean(rows.filter((r) => isChoiceType(r.type)).map((r) => r.score)),
      macro: safeMean([...lead, ...scoresOf(notDirection.filter(isChoiceType))]),
    },
    mra: {
      micro: safeMean(rows.filter((r) => !isChoiceType(r.type)).map((r) => r.score)),
      macro: safeMean(scoresOf(notDirection.filter((t) => !isChoiceType(t)))),
    },
    all: { micro: safeMean(rows.map((r) => r.score)), macro: safeMean([...lead, ...scoresOf(notDirection)]) },
  };
}

/** The headline numbers of one convention over a set of scored questions, in percent. */
export interface VsiSummary {
  /** Per task (rel_direction merged), in the paper's order; tasks with no question are absent. */
  tasks: Partial<Record<Task, number>>;
  /** Unweighted mean of the task scores (the official "overall"). */
  macro: number;
  /** Mean over questions (what Spatial-MLLM v1.0 and several papers call the average). */
  micro: number;
  count: number;
}

export function summarize(convention: Convention, rows: readonly ScoredQuestion[]): VsiSummary {
  const tasks: VsiSummary['tasks'] = {};
  let macro: number;
  if (convention === 'official') {
    const agg = officialAggregate(rows);
    for (const task of TASKS) {
      const v = agg[`${task}_accuracy`] ?? agg[`${task}_MRA:.5:.95:.05`];
      if (typeof v === 'number') tasks[task] = v;
    }
    macro = agg.overall as number;
  } else {
    const m = spatialMllmAggregate(rows);
    for (const task of TASKS) {
      const types: readonly QuestionType[] =
        task === 'object_rel_direction' ? REL_DIRECTION_TYPES : [task as QuestionType];
      const scores = types.filter((t) => m.per_question_type[t]).map((t) => m.per_question_type[t].score);
      if (scores.length) tasks[task] = npMean(scores) * 100;
    }
    macro = m.all.macro * 100;
  }
  return { tasks, macro, micro: npMean(rows.map((r) => r.score)) * 100, count: rows.length };
}
