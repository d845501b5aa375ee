// Object size: the longest side of a unique object's box in centimetres, Python-rounded to an integer
// (VLM-3R `src/tasks/vsibench/get_obj_size_qa.py`: `round(max(axesLengths) * 100)`, first box of the category;
// kept only when its distractors in [0.4, 1.8]× the answer can be drawn).
import { pyRound } from '../../python_compat.ts';
import type { SceneContext } from './context.ts';
import { numericDistractorsExist } from './options.ts';
import { sizeQuestion } from './templates.ts';
import type { Draft } from './types.ts';

/** Longest side in cm of the category's first box, or null when it is not a unique category. */
export function objectSizeCm(ctx: SceneContext, category: string): number | null {
  if (ctx.meta.object_counts[category] !== 1 || ctx.boxes(category).length === 0) return null;
  return pyRound(Math.max(...ctx.boxes(category)[0].axesLengths) * 100);
}

export function objectSizeDrafts(ctx: SceneContext): Draft[] {
  const out: Draft[] = [];
  for (const c of ctx.unique) {
    const cm = objectSizeCm(ctx, c)!;
    if (!numericDistractorsExist(cm, 0.4, 1.8, 0)) continue;
    out.push({ type: 'object_size_estimation', question: sizeQuestion(c), answer: cm, text: String(cm) });
  }
  return out;
}
