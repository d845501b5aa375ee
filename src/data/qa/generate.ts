// Runs the generators of the 8 VSI-Bench task types over scenes and letters the multiple-choice options.
// Deterministic by seed: every (seed, type, scene) draws from its own random stream, and every type letters its
// questions from its own stream, so the same seed gives byte-identical output whatever else is selected.

import { QUESTION_TYPES, type QuestionType } from '../../vsibench.ts';
import { Rng } from '../rng.ts';
import type { SceneMetaFile } from '../scene.ts';
import { absDistanceDrafts } from './abs_distance.ts';
import { appearanceOrderDrafts } from './appearance_order.ts';
import { SceneContext } from './context.ts';
import { countingDrafts } from './counting.ts';
import { objectSizeDrafts } from './object_size.ts';
import { LetterBalancer } from './options.ts';
import { relDirectionDrafts } from './rel_direction.ts';
import { relDistanceDrafts } from './rel_distance.ts';
import { roomSizeDrafts } from './room_size.ts';
import { routePlanningDrafts } from './route_planning.ts';
import type { Draft, VsiQuestion } from './types.ts';
import { OPTION_LETTERS } from './types.ts';

type Generator = (ctx: SceneContext, rng: Rng) => Draft[];

const GENERATORS: Record<QuestionType, Generator> = {
  object_counting: countingDrafts,
  object_size_estimation: objectSizeDrafts,
  room_size_estimation: roomSizeDrafts,
  object_abs_distance: absDistanceDrafts,
  object_rel_distance: relDistanceDrafts,
  object_rel_direction_easy: (ctx) => relDirectionDrafts(ctx, 'easy'),
  object_rel_direction_medium: (ctx) => relDirectionDrafts(ctx, 'medium'),
  object_rel_direction_hard: (ctx) => relDirectionDrafts(ctx, 'hard'),
  obj_appearance_order: appearanceOrderDrafts,
  route_planning: routePlanningDrafts,
};

/**
 * Questions kept per scene and type unless `exhaustive`: a random subset of the eligible ones. The numbers follow
 * VLM-3R `src/tasks/all_generate.py` (abs distance 50, rel distance 100, 20 triples per rel-direction level —
 * up to 60 questions —, counting and sizes unlimited, one room size) and the appearance-order default of 6.
 */
export const DEFAULT_CAPS: Record<QuestionType, number> = {
  object_counting: Number.POSITIVE_INFINITY,
  object_size_estimation: Number.POSITIVE_INFINITY,
  room_size_estimation: 1,
  object_abs_distance: 50,
  object_rel_distance: 100,
  object_rel_direction_easy: 60,
  object_rel_direction_medium: 60,
  object_rel_direction_hard: 60,
  obj_appearance_order: 6,
  route_planning: 10,
};

export interface GenerateOptions {
  types?: readonly QuestionType[];
  seed?: number;
  /** Every eligible question, no per-scene cap. */
  exhaustive?: boolean;
  caps?: Partial<Record<QuestionType, number>>;
  /** Called after each (type, scene) with the number of questions kept. */
  progress?: (type: QuestionType, scene: string, kept: number) => void;
}

/** Questions in VSI-Bench's layout, grouped by type (QUESTION_TYPES order), scenes in the key order of `scenes`. */
export function generateQuestions(scenes: SceneMetaFile, options: GenerateOptions = {}): VsiQuestion[] {
  const seed = options.seed ?? 0;
  const types = QUESTION_TYPES.filter((t) => !options.types || options.types.includes(t));
  const contexts = Object.entries(scenes).map(([name, meta]) => new SceneContext(name, meta));
  const out: VsiQuestion[] = [];
  for (const type of types) {
    const cap = options.exhaustive ? Number.POSITIVE_INFINITY : (options.caps?.[type] ?? DEFAULT_CAPS[type]);
    const letters = new LetterBalancer(new Rng(seed, 'letters', type));
    for (const ctx of contexts) {
      const drafts = GENERATORS[type](ctx, new Rng(seed, 'draft', type, ctx.name));
      const kept = new Rng(seed, 'sample', type, ctx.name).sampleInOrder(drafts, cap);
      for (const d of kept) out.push(toVsi(d, out.length, ctx, letters));
      options.progress?.(type, ctx.name, kept.length);
    }
  }
  return out;
}

function toVsi(d: Draft, id: number, ctx: SceneContext, letters: LetterBalancer): VsiQuestion {
  const base = { id, dataset: ctx.dataset, scene_name: ctx.name, question_type: d.type };
  if (!('distractors' in d)) return { ...base, question: d.question, options: null, ground_truth: d.text };
  const { ordered, letter } = letters.assign(d.type, d.answer, d.distractors);
  return {
    ...base,
    question: typeof d.question === 'function' ? d.question(ordered) : d.question,
    options: ordered.map((o, i) => `${OPTION_LETTERS[i]}. ${o}`),
    ground_truth: letter,
  };
}
