// Room size: the metadata's floor area in m², Python-rounded to 0.1 (VLM-3R `src/tasks/vsibench/get_room_size_qa.py`;
// one question per scene, kept only when its distractors in [0.25, 1.75]× the answer can be drawn).
import { formatDecimal, pyRound } from '../../python_compat.ts';
import type { SceneContext } from './context.ts';
import { numericDistractorsExist } from './options.ts';
import { ROOM_SIZE_QUESTION } from './templates.ts';
import type { Draft } from './types.ts';

export const roomSize = (ctx: SceneContext): number => pyRound(ctx.meta.room_size, 1);

export function roomSizeDrafts(ctx: SceneContext): Draft[] {
  const m2 = roomSize(ctx);
  if (!numericDistractorsExist(m2, 0.25, 1.75, 1)) return [];
  return [
    { type: 'room_size_estimation', question: ROOM_SIZE_QUESTION, answer: m2, text: formatDecimal(m2, 1) },
  ];
}
