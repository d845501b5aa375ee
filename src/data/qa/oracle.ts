// The answer oracle: recomputes the ground truth of questions written with VSI-Bench's templates from a scene's
// metadata, so third-party datasets can be checked against it. Multiple-choice answers come back as the letter of
// the matching option. Ambiguity filters do not suppress an answer here; they are reported in `note`.

import { formatDecimal } from '../../python_compat.ts';
import { isNumericType } from '../../vsibench.ts';
import type { SceneMetaFile, Vec2 } from '../scene.ts';
import { absDistance } from './abs_distance.ts';
import { appearanceOrder, firstAppearances } from './appearance_order.ts';
import { SceneContext } from './context.ts';
import { objectSizeCm } from './object_size.ts';
import { type DirectionLevel, directionAmbiguous, directionLabel, queryAngles } from './rel_direction.ts';
import { argmin, relDistanceThreshold, unambiguous } from './rel_distance.ts';
import { roomSize } from './room_size.ts';
import { describedTurns, turnLabel } from './route_planning.ts';
import { type ParsedQuestion, parseQuestion } from './templates.ts';

/** A question to check: VSI-Bench's layout (ground_truth optional). */
export interface QuestionIn {
  id?: number | string;
  scene_name: string;
  question_type: string;
  question: string;
  options?: string[] | null;
  ground_truth?: string | number;
}

export interface OracleAnswer {
  id: number | string | null;
  scene_name: string;
  question_type: string;
  /** The letter (multiple choice) or number as text; null when the oracle cannot answer. */
  answer: string | null;
  /** The option text or number behind `answer`. */
  value: string | null;
  ground_truth: string | null;
  /** Whether `answer` equals the given ground truth (numbers compared as numbers); null if either is missing. */
  agrees: boolean | null;
  note?: string;
}

type Computed = { value: string; note?: string } | { error: string };

export function answerQuestions(scenes: SceneMetaFile, questions: readonly QuestionIn[]): OracleAnswer[] {
  const contexts = new Map<string, SceneContext>();
  return questions.map((q) => {
    const given = q.ground_truth === undefined || q.ground_truth === null ? null : String(q.ground_truth);
    const base = {
      id: q.id ?? null,
      scene_name: q.scene_name,
      question_type: q.question_type,
      ground_truth: given,
    };
    const fail = (note: string): OracleAnswer => ({ ...base, answer: null, value: null, agrees: null, note });
    const meta = scenes[q.scene_name];
    if (!meta) return fail('scene not in the metadata');
    let ctx = contexts.get(q.scene_name);
    if (!ctx) {
      ctx = new SceneContext(q.scene_name, meta);
      contexts.set(q.scene_name, ctx);
    }
    const parsed = parseQuestion(q.question_type, q.question);
    if (!parsed) return fail('question wording not recognised for its type');
    const computed = compute(ctx, parsed);
    if ('error' in computed) return fail(computed.error);
    let answer = computed.value;
    if (!isNumericType(q.question_type)) {
      const letter = optionLetter(q.options ?? [], computed.value);
      if (letter === null)
        return { ...fail(`"${computed.value}" is not among the options`), value: computed.value };
      answer = letter;
    }
    const agrees =
      given === null
        ? null
        : isNumericType(q.question_type)
          ? Number(given) === Number(answer)
          : given.trim().toUpperCase() === answer;
    return {
      ...base,
      answer,
      value: computed.value,
      agrees,
      ...(computed.note ? { note: computed.note } : {}),
    };
  });
}

/** The letter of the option whose text (after "X. ") equals `text`, case-insensitively. */
function optionLetter(options: readonly string[], text: string): string | null {
  for (const o of options) {
    const m = /^\s*([A-Za-z])[.)]\s*(.*)$/.exec(o);
    if (m && m[2].trim().toLowerCase() === text.toLowerCase()) return m[1].toUpperCase();
  }
  return null;
}

function compute(ctx: SceneContext, p: ParsedQuestion): Computed {
  const missing = (cats: string[]) => cats.find((c) => ctx.boxes(c).length === 0);
  switch (p.type) {
    case 'object_counting': {
      const n = ctx.meta.object_counts[p.category];
      return n === undefined ? { error: `no "${p.category}" in the scene` } : { value: String(n) };
    }
    case 'object_size_estimation': {
      const cm = objectSizeCm(ctx, p.category);
      return cm === null
        ? { error: `"${p.category}" is not a unique object with a box` }
        : { value: String(cm) };
    }
    case 'room_size_estimation':
      return { value: formatDecimal(roomSize(ctx), 1) };
    case 'object_abs_distance': {
      const m = missing([p.a, p.b]);
      return m ? { error: `no box for "${m}"` } : { value: formatDecimal(absDistance(ctx, p.a, p.b), 1) };
    }
    case 'object_rel_distance': {
      const m = missing([p.category, ...p.choices]);
      if (m) return { error: `no box for "${m}"` };
      const d = p.choices.map((c) => ctx.distance(c, p.category));
      const ambiguous = !unambiguous(d, relDistanceThreshold(ctx.meta.room_size));
      return {
        value: p.choices[argmin(d)],
        ...(ambiguous ? { note: 'ambiguous by the VSI-Bench filters' } : {}),
      };
    }
    case 'object_rel_direction_easy':
    case 'object_rel_direction_medium':
    case 'object_rel_direction_hard': {
      const m = missing([p.positioning, p.orienting, p.querying]);
      if (m) return { error: `no box for "${m}"` };
      const level = p.type.slice('object_rel_direction_'.length) as DirectionLevel;
      const angles = queryAngles(
        ctx.boxes(p.positioning)[0],
        ctx.boxes(p.orienting)[0],
        ctx.boxes(p.querying)[0],
      );
      const value = directionLabel(level, angles[0]);
      return {
        value,
        ...(directionAmbiguous(level, angles) ? { note: 'ambiguous by the VSI-Bench filters' } : {}),
      };
    }
    case 'obj_appearance_order': {
      const first = firstAppearances(ctx);
      if (first.size === 0) return { error: 'the metadata has no per-frame visibility' };
      const unseen = p.categories.find((c) => !first.has(c));
      if (unseen) return { error: `"${unseen}" never appears in the frames` };
      const order = appearanceOrder(first, p.categories);
      const byTime = p.categories.slice().sort((a, b) => first.get(a)! - first.get(b)!);
      return order
        ? { value: order.join(', ') }
        : { value: byTime.join(', '), note: 'first appearances within 1 s' };
    }
    case 'route_planning':
      return routeAnswer(ctx, p);
  }
}

/** Turns read from object centres along the described route (see route_planning.ts, rule 4). */
function routeAnswer(ctx: SceneContext, p: Extract<ParsedQuestion, { type: 'route_planning' }>): Computed {
  const forwards = p.steps.flatMap((s) => (s.kind === 'forward' ? [s.target] : []));
  const landmarks = forwards.slice(0, -1);
  if (forwards[forwards.length - 1] !== p.destination)
    return { error: 'the last step does not reach the destination' };
  const named = [p.start, p.facing, ...landmarks, p.destination];
  const notUnique = named.find((c) => !ctx.unique.includes(c));
  if (notUnique) return { error: `"${notUnique}" is not a unique object with a box` };
  const at = (c: string): Vec2 => [ctx.boxes(c)[0].centroid[0], ctx.boxes(c)[0].centroid[1]];
  const turns = describedTurns(at(p.start), at(p.facing), landmarks.map(at), at(p.destination));
  if (!turns) return { error: 'two consecutive route points coincide' };
  // Which turns the text asks for: an opening one if it starts with a fill-in, then one after each landmark.
  const asked: number[] = [];
  let leg = 0;
  for (const s of p.steps) {
    if (s.kind === 'forward') leg++;
    else asked.push(leg);
  }
  const expected = [...(p.steps[0]?.kind === 'turn' ? [0] : []), ...landmarks.map((_, i) => i + 1)];
  if (asked.join() !== expected.join()) return { error: 'the steps do not alternate legs and turns' };
  if (asked[0] !== 0 && turns[0] !== 'straight')
    return { error: 'the route starts straight but the facing object is off-axis' };
  const picked = asked.map((i) => turns[i]);
  if (picked.some((t) => t === null || t === 'straight')) return { error: 'a turn is ambiguous or straight' };
  return { value: picked.map((t) => turnLabel(t!)).join(', ') };
}
