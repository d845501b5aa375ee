// GRPO's verifiable rewards as the Spatial-MLLM paper (§3.4) describes them, with the open-r1 / VLM-R1 reward
// shapes the authors used: a format reward (1 when the completion is `<think>…</think><answer>…</answer>`) plus
// an accuracy reward by task type — exact match of the option for multiple choice, mean relative accuracy for
// numbers (Spatial-MLLM's own VSI-Bench scorer, src/eval/vsibench_metrics.ts), and the Levenshtein ratio for
// free-form answers (python-Levenshtein `ratio`: the normalised InDel similarity). The answer is the last
// `<answer>` block when there is one, else the whole completion.
import { spatialMllmClean, spatialMllmScore } from '../eval/vsibench_metrics.ts';
import { isChoiceType, isQuestionType } from '../vsibench.ts';

export type TaskKind = 'multiple_choice' | 'numeric' | 'free_form';

const FORMAT = /^<think>[\s\S]*?<\/think>\s*<answer>[\s\S]*?<\/answer>$/;

export const formatReward = (completion: string): number => (FORMAT.test(completion.trim()) ? 1 : 0);

/** The task kind of a sample: its VSI-Bench question type when known, else from the ground truth's shape. */
export function taskKind(truth: string, questionType?: unknown): TaskKind {
  if (isQuestionType(questionType)) return isChoiceType(questionType) ? 'multiple_choice' : 'numeric';
  const t = spatialMllmClean(truth);
  if (/^[a-z]$/.test(t)) return 'multiple_choice';
  if (t !== '' && Number.isFinite(Number(t.replaceAll(',', '')))) return 'numeric';
  return 'free_form';
}

/** 1 − InDel(a, b) / (|a| + |b|) over code points; 1 for two empty strings. */
export function levenshteinRatio(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  if (x.length + y.length === 0) return 1;
  // InDel distance = |a| + |b| − 2·LCS.
  let prev = new Array<number>(y.length + 1).fill(0);
  for (const cx of x) {
    const row = [0];
    for (let j = 1; j <= y.length; j++)
      row.push(cx === y[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], row[j - 1]));
    prev = row;
  }
  return (2 * prev[y.length]) / (x.length + y.length);
}

export function accuracyReward(completion: string, truth: string, kind: TaskKind): number {
  if (kind === 'free_form') return levenshteinRatio(spatialMllmClean(completion), spatialMllmClean(truth));
  const r = spatialMllmScore(
    kind === 'multiple_choice' ? 'object_rel_distance' : 'object_counting',
    completion,
    truth,
  );
  return 'score' in r ? r.score : 0;
}

export interface Reward {
  format: number;
  accuracy: number;
  total: number;
}

export function reward(completion: string, truth: string, kind: TaskKind): Reward {
  const format = formatReward(completion);
  const accuracy = accuracyReward(completion, truth, kind);
  return { format, accuracy, total: format + accuracy };
}
