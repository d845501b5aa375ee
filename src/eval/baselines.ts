// VSI-Bench's chance baselines ('Chance Level (Random)' and 'Chance Level (Frequency)' of the paper) as model
// adapters: no model, answers drawn from the question alone or from answer statistics of the evaluated set.

import { isChoiceType } from '../vsibench.ts';
import type { ModelAdapter } from './adapter.ts';
import type { EvalQuestion } from './questions.ts';

/** FNV-1a of a string: a per-question seed, so that a resumed run draws exactly what it would have drawn. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const letterOf = (option: string) => option.trim().charAt(0);

/**
 * 'Chance Level (Random)' of the VSI-Bench paper: a uniformly random option letter, drawn from a hash of the
 * question id. The paper gives no random level for numeric questions; they get an empty answer (score 0).
 */
export function chanceAdapter(): ModelAdapter {
  return {
    name: 'baseline:chance',
    async answer({ question }) {
      const options = question.options ?? [];
      return options.length ? letterOf(options[hash32(question.id) % options.length]) : '';
    },
  };
}

/** Most common value, ties going to the one nearest the median (continuous values are almost all ties). */
function mode(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const top = Math.max(...counts.values());
  const tied = [...counts.keys()].filter((v) => counts.get(v) === top);
  const nums = values.map(Number).sort((a, b) => a - b);
  const median = nums[Math.floor(nums.length / 2)];
  return tied.sort(
    (a, b) => Math.abs(Number(a) - median) - Math.abs(Number(b) - median) || a.localeCompare(b),
  )[0];
}

/**
 * 'Chance Level (Frequency)': the most frequent answer of each task over the evaluated questions (a test-set
 * prior, as in the paper). Multiple choice: the most frequent correct option text, answered with its letter
 * where the question offers it, else the most frequent correct letter. Numeric: the most frequent ground
 * truth. ScanQA/SQA3D: the most frequent first answer.
 */
export function frequencyAdapter(questions: readonly EvalQuestion[]): ModelAdapter {
  const byType = new Map<string, EvalQuestion[]>();
  for (const q of questions) {
    if (!byType.has(q.questionType)) byType.set(q.questionType, []);
    byType.get(q.questionType)!.push(q);
  }
  const optionText = (o: string) => o.replace(/^\s*[A-Z][.)]\s*/, '');
  const correctOption = (q: EvalQuestion) => q.options?.find((o) => letterOf(o) === q.answers[0]) ?? '';
  const guess = new Map<string, { text?: string; answer: string }>();
  for (const [type, qs] of byType) {
    if (qs[0].benchmark === 'vsibench' && isChoiceType(type))
      guess.set(type, {
        text: mode(qs.map((q) => optionText(correctOption(q)))),
        answer: mode(qs.map((q) => q.answers[0])),
      });
    else guess.set(type, { answer: mode(qs.map((q) => q.answers[0])) });
  }
  return {
    name: 'baseline:frequency',
    async answer({ question }) {
      const g = guess.get(question.questionType);
      if (!g) return '';
      const option =
        g.text === undefined ? undefined : question.options?.find((o) => optionText(o) === g.text);
      return option ? letterOf(option) : g.answer;
    },
  };
}
