// Paired difference of two VSI-Bench runs on the same questions: per task, the mean of per-question score
// differences (official metrics) with its standard error. Two models answered the same questions, so the pairing
// removes the questions' own difficulty from the noise; on a few dozen questions per task an unpaired gap of
// 5–10 points can be noise, which the README's comparisons (video vs blind, GRPO vs SFT) must show.
import { isQuestionType, REL_DIRECTION_TYPES, TASKS, type Task } from '../vsibench.ts';
import type { ResultRecord } from './results.ts';
import { scoreQuestion } from './vsibench_metrics.ts';

/** A difference in points (×100) and its standard error. */
export interface Diff {
  mean: number;
  se: number;
  n: number;
}

const meanSe = (d: readonly number[]): Diff => {
  const n = d.length;
  const mean = d.reduce((a, x) => a + x, 0) / n;
  const variance = n > 1 ? d.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, se: Math.sqrt(variance / n), n };
};

/** Mean of independent differences (disjoint question sets): means averaged, errors added in quadrature. */
const average = (parts: readonly Diff[]): Diff => ({
  mean: parts.reduce((a, p) => a + p.mean, 0) / parts.length,
  se: Math.sqrt(parts.reduce((a, p) => a + p.se ** 2, 0)) / parts.length,
  n: parts.reduce((a, p) => a + p.n, 0),
});

/**
 * A − B per task and for the macro overall, in points, over the questions both runs answered (matched by id).
 * Relative direction is the mean of its three difficulties, as the official task score; tasks without common
 * questions are left out.
 */
export function pairedDiff(
  a: readonly ResultRecord[],
  b: readonly ResultRecord[],
): { tasks: Partial<Record<Task, Diff>>; macro?: Diff } {
  const scoreOf = (r: ResultRecord) =>
    isQuestionType(r.question_type)
      ? scoreQuestion('official', r.question_type, r.prediction, r.ground_truth)
      : undefined;
  const byId = new Map(b.map((r) => [r.id, r]));
  const diffs = new Map<string, number[]>();
  for (const ra of a) {
    const rb = ra.id === undefined ? undefined : byId.get(ra.id);
    const [sa, sb] = [scoreOf(ra), rb && scoreOf(rb)];
    if (!sa || !sb || !('score' in sa) || !('score' in sb)) continue;
    const list = diffs.get(ra.question_type) ?? [];
    diffs.set(ra.question_type, list);
    list.push(100 * (sa.score - sb.score));
  }
  const tasks: Partial<Record<Task, Diff>> = {};
  for (const task of TASKS) {
    const types = task === 'object_rel_direction' ? REL_DIRECTION_TYPES.filter((t) => diffs.has(t)) : [task];
    const parts = types.filter((t) => diffs.get(t)?.length).map((t) => meanSe(diffs.get(t)!));
    if (parts.length) tasks[task] = average(parts);
  }
  const present = Object.values(tasks);
  return { tasks, macro: present.length ? average(present) : undefined };
}

/** "+37.0 ± 9.8": the mean and a 95% interval half-width (1.96 standard errors). */
export function diffText(d: Diff | undefined): string {
  if (d === undefined) return '–';
  const mean = d.mean.toFixed(1).replace(/^-(0\.0)$/, '$1'); // no "-0.0"
  return `${mean.startsWith('-') ? '' : '+'}${mean} ± ${(1.96 * d.se).toFixed(1)}`;
}
