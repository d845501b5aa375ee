// Object counting: every category with more than one instance (VLM-3R `src/tasks/vsibench/get_obj_count_qa.py`;
// single objects are left to the other tasks). The answer is `object_counts[category]`.
import type { SceneContext } from './context.ts';
import { countingQuestion } from './templates.ts';
import type { Draft } from './types.ts';

export function countingDrafts(ctx: SceneContext): Draft[] {
  return ctx.categories
    .filter((c) => ctx.meta.object_counts[c] > 1)
    .map((c) => {
      const n = ctx.meta.object_counts[c];
      return { type: 'object_counting', question: countingQuestion(c), answer: n, text: String(n) };
    });
}
