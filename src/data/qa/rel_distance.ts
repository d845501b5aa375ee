// Relative distance: which of four other categories is closest to a unique object, closest points of the boxes,
// minimum over a category's instances (VLM-3R `src/tasks/vsibench/get_obj_rel_distance_v1_qa.py`). Ambiguity
// filters: the closest choice must be at least 0.15 m away, and every two choices must differ by more than
// 0.15 m (0.30 m in rooms over 40 m²). Upstream's 4-choice script computes that room-dependent threshold but then
// calls the filter with its 0.15 default; its 3-choice script applies it — we apply it, as intended.
import type { SceneContext } from './context.ts';
import { combinations } from './context.ts';
import { relDistanceQuestion } from './templates.ts';
import type { Draft } from './types.ts';

export const MIN_CLOSEST_DISTANCE = 0.15;

export const relDistanceThreshold = (roomSize: number) => (roomSize > 40 ? 0.3 : 0.15);

/** The closest of `choices` to `category`, or null when the question is ambiguous by the filters above. */
export function closestChoice(
  ctx: SceneContext,
  category: string,
  choices: readonly string[],
): string | null {
  const d = choices.map((c) => ctx.distance(c, category));
  const min = Math.min(...d);
  if (min < MIN_CLOSEST_DISTANCE) return null;
  const threshold = relDistanceThreshold(ctx.meta.room_size);
  for (let i = 0; i < d.length; i++)
    for (let j = i + 1; j < d.length; j++) if (Math.abs(d[i] - d[j]) <= threshold) return null;
  return choices[d.indexOf(min)];
}

export function relDistanceDrafts(ctx: SceneContext): Draft[] {
  const out: Draft[] = [];
  const withBoxes = ctx.categories.filter((c) => ctx.boxes(c).length > 0);
  for (const primary of ctx.unique) {
    const others = withBoxes.filter((c) => c !== primary);
    for (const choices of combinations(others, 4)) {
      const answer = closestChoice(ctx, primary, choices);
      if (answer === null) continue;
      out.push({
        type: 'object_rel_distance',
        question: (ordered) => relDistanceQuestion(ordered, primary),
        answer,
        distractors: choices.filter((c) => c !== answer),
      });
    }
  }
  return out;
}
