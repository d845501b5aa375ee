// Relative direction: standing at one unique object's centre, facing another's, where is a third?
// VLM-3R `src/tasks/vsibench/get_obj_rel_direction_v{1,2,3}_qa.py` (v1 = hard: quadrants; v2 = medium: left, right,
// back; v3 = easy: left or right). Angles are measured in the floor plane, counter-clockwise from the facing
// direction. Filters, all upstream's:
// - the three objects must be 0.3–5 m apart pairwise (closest points);
// - at most 2 of the querying box's 8 corners may fall in another sector than its centre;
// - hard: the centre's angle must be ≥ 10° below the next multiple of 90° (upstream tests only that side of each
//   quadrant: `90 - angle % 90 < 10`); medium/easy: ≥ 10° from 0°, 135°, 225° and 360°; easy drops "back".
// Each unordered triple (a, b, c) is asked as (a, b, c), (a, c, b) and (b, a, c) (positioning, orienting, querying).
import { ccwAngle, corners, toBox } from '../geometry.ts';
import type { OrientedBox, Vec2 } from '../scene.ts';
import type { SceneContext } from './context.ts';
import { combinations } from './context.ts';
import { relDirectionQuestion } from './templates.ts';
import type { Draft } from './types.ts';

export type DirectionLevel = 'easy' | 'medium' | 'hard';

export const DIRECTION_OPTIONS: Record<DirectionLevel, readonly string[]> = {
  hard: ['front-left', 'front-right', 'back-left', 'back-right'],
  medium: ['left', 'right', 'back'],
  easy: ['left', 'right'],
};

export const TRIPLE_MIN_DISTANCE = 0.3;
export const TRIPLE_MAX_DISTANCE = 5.0;
export const ANGLE_MARGIN = 10;

/** Angles (degrees) of the querying centre and then its 8 corners, seen from the positioning centre. */
export function queryAngles(
  positioning: OrientedBox,
  orienting: OrientedBox,
  querying: OrientedBox,
): number[] {
  const origin = positioning.centroid;
  const facing: Vec2 = [orienting.centroid[0] - origin[0], orienting.centroid[1] - origin[1]];
  const points = [querying.centroid, ...corners(toBox(querying))];
  return points.map((p) => ccwAngle(facing, [p[0] - origin[0], p[1] - origin[1]]));
}

/** np.digitize(angle, [0, 135, 225, 360]): 1 = left, 2 = back, 3 = right. */
const sector3 = (angle: number) => (angle < 135 ? 1 : angle < 225 ? 2 : 3);

/** The label of the sector an angle falls in (medium and easy share left / back / right). */
export function directionLabel(level: DirectionLevel, angle: number): string {
  if (level === 'hard')
    return angle >= 270
      ? 'front-right'
      : angle >= 180
        ? 'back-right'
        : angle >= 90
          ? 'back-left'
          : 'front-left';
  const s = sector3(angle);
  return s === 1 ? 'left' : s === 2 ? 'back' : 'right';
}

/** Whether upstream's filters call the question ambiguous (angles: centre first, then the 8 corners). */
export function directionAmbiguous(level: DirectionLevel, angles: readonly number[]): boolean {
  const [centre, ...vertices] = angles;
  const sector = level === 'hard' ? (a: number) => Math.floor(a / 90) : sector3;
  if (vertices.filter((a) => sector(a) !== sector(centre)).length > 2) return true;
  if (level === 'hard') return 90 - (centre % 90) < ANGLE_MARGIN;
  if (Math.min(...[0, 135, 225, 360].map((b) => Math.abs(centre - b))) < ANGLE_MARGIN) return true;
  return level === 'easy' && sector3(centre) === 2;
}

/** The direction label, or null when a filter calls it ambiguous. */
export function directionAnswer(
  level: DirectionLevel,
  positioning: OrientedBox,
  orienting: OrientedBox,
  querying: OrientedBox,
): string | null {
  const angles = queryAngles(positioning, orienting, querying);
  return directionAmbiguous(level, angles) ? null : directionLabel(level, angles[0]);
}

/** Whether the triple's pairwise closest-point distances all lie in [0.3, 5] m. */
export function tripleSpacingOk(ctx: SceneContext, triple: readonly string[]): boolean {
  const pairs: [string, string][] = [
    [triple[0], triple[1]],
    [triple[0], triple[2]],
    [triple[1], triple[2]],
  ];
  return pairs.every(([a, b]) => {
    const d = ctx.distance(a, b);
    return d >= TRIPLE_MIN_DISTANCE && d <= TRIPLE_MAX_DISTANCE;
  });
}

export function relDirectionDrafts(ctx: SceneContext, level: DirectionLevel): Draft[] {
  const out: Draft[] = [];
  const type = `object_rel_direction_${level}` as const;
  for (const [a, b, c] of combinations(ctx.unique, 3)) {
    if (!tripleSpacingOk(ctx, [a, b, c])) continue;
    for (const [p, o, q] of [
      [a, b, c],
      [a, c, b],
      [b, a, c],
    ]) {
      const answer = directionAnswer(level, ctx.boxes(p)[0], ctx.boxes(o)[0], ctx.boxes(q)[0]);
      if (answer === null) continue;
      out.push({
        type,
        question: relDirectionQuestion[level](p, o, q),
        answer,
        distractors: DIRECTION_OPTIONS[level].filter((x) => x !== answer),
      });
    }
  }
  return out;
}
