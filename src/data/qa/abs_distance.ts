// Absolute distance between two unique objects, closest points of their boxes, in metres Python-rounded to 0.1
// (VLM-3R `src/tasks/vsibench/get_obj_abs_distance_qa.py`): pairs are (later category, earlier category) in
// metadata order; answers under 0.2 m are dropped, and so are answers whose distractors in [0.25, 1.75]× cannot
// be drawn.
import { formatDecimal, pyRound } from '../../python_compat.ts';
import type { SceneContext } from './context.ts';
import { numericDistractorsExist } from './options.ts';
import { absDistanceQuestion } from './templates.ts';
import type { Draft } from './types.ts';

export const MIN_ABS_DISTANCE = 0.2;

export const absDistance = (ctx: SceneContext, a: string, b: string): number =>
  pyRound(ctx.distance(a, b), 1);

export function absDistanceDrafts(ctx: SceneContext): Draft[] {
  const out: Draft[] = [];
  ctx.unique.forEach((first, i) => {
    for (const second of ctx.unique.slice(0, i)) {
      const m = absDistance(ctx, first, second);
      if (m < MIN_ABS_DISTANCE || !numericDistractorsExist(m, 0.25, 1.75, 1)) continue;
      out.push({
        type: 'object_abs_distance',
        question: absDistanceQuestion(first, second),
        answer: m,
        text: formatDecimal(m, 1),
      });
    }
  });
  return out;
}
