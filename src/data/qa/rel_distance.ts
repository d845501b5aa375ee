// Relative distance: which of four other categories is closest to a unique object, closest points of the boxes,
// minimum over a category's instances (VLM-3R `src/tasks/vsibench/get_obj_rel_distance_v1_qa.py`). Ambiguity
// filters: the closest choice must be at least 0.15 m away, and every two choices must differ by more than
// 0.15 m (0.30 m in rooms over 40 m²). Upstream's 4-choice script computes that room-dependent threshold but then
// calls the filter with its 0.15 default; its 3-choice script applies it — we apply it, as intended.
import type { SceneContext } from './context.ts';
import { relDistanceQuestion } from './templates.ts';
import type { Draft } from './types.ts';

export const MIN_CLOSEST_DISTANCE = 0.15;

export const relDistanceThreshold = (roomSize: number) => (roomSize > 40 ? 0.3 : 0.15);

/** Whether the choices' distances pass the filters above. */
export function unambiguous(d: readonly number[], threshold: number): boolean {
  if (Math.min(...d) < MIN_CLOSEST_DISTANCE) return false;
  for (let i = 0; i < d.length; i++)
    for (let j = i + 1; j < d.length; j++) if (Math.abs(d[i] - d[j]) <= threshold) return false;
  return true;
}

/** Index of the smallest value (the first on ties). */
export function argmin(d: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < d.length; i++) if (d[i] < d[best]) best = i;
  return best;
}

export function relDistanceDrafts(ctx: SceneContext): Draft[] {
  const out: Draft[] = [];
  const withBoxes = ctx.categories.filter((c) => ctx.boxes(c).length > 0);
  const threshold = relDistanceThreshold(ctx.meta.room_size);
  for (const primary of ctx.unique) {
    const others = withBoxes.filter((c) => c !== primary);
    const d = others.map((c) => ctx.distance(c, primary));
    // Every 4-subset of the other categories, in itertools.combinations order.
    const n = others.length;
    for (let a = 0; a < n; a++)
      for (let b = a + 1; b < n; b++)
        for (let c = b + 1; c < n; c++)
          for (let e = c + 1; e < n; e++) {
            const dist = [d[a], d[b], d[c], d[e]];
            if (!unambiguous(dist, threshold)) continue;
            const choices = [others[a], others[b], others[c], others[e]];
            const answer = choices[argmin(dist)];
            out.push({
              type: 'object_rel_distance',
              question: (ordered) => relDistanceQuestion(ordered, primary),
              answer,
              distractors: choices.filter((x) => x !== answer),
            });
          }
  }
  return out;
}
