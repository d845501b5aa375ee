// Appearance order: the order in which four categories first appear in the video, from per-frame visibility
// (VLM-3R `src/tasks/vsibench/get_spatial_temporal_appearance_order_qa.py`). A category's first appearance is
// the first frame (by time) showing any of its instances, Python-rounded to whole seconds (upstream:
// round(frame_id / fps)); a group of four is kept only if every two first appearances are more than 1 s apart.
// Distractors are other orders of the same four; the question names them in a shuffled order.

import { pyRound } from '../../python_compat.ts';
import type { Rng } from '../rng.ts';
import type { SceneContext } from './context.ts';
import { combinations } from './context.ts';
import { appearanceOrderQuestion } from './templates.ts';
import type { Draft } from './types.ts';

export const APPEARANCE_MARGIN_S = 1;

/** Category → first appearance in whole seconds, in order of appearance; empty without per-frame data. */
export function firstAppearances(ctx: SceneContext): Map<string, number> {
  const categoryOf = new Map<number, string>();
  for (const c of ctx.categories)
    for (const b of ctx.boxes(c)) if (b.instance_id !== undefined) categoryOf.set(b.instance_id, c);
  const frames = (ctx.meta.frames ?? []).slice().sort((a, b) => a.timestamp - b.timestamp);
  const first = new Map<string, number>();
  for (const f of frames)
    for (const v of f.instances ?? []) {
      const c = categoryOf.get(v.instance_id);
      if (c !== undefined && !first.has(c)) first.set(c, pyRound(f.timestamp));
    }
  return first;
}

/** The categories sorted by first appearance, or null when one is never seen or two are within the margin. */
export function appearanceOrder(first: Map<string, number>, categories: readonly string[]): string[] | null {
  const t = categories.map((c) => first.get(c));
  if (t.some((x) => x === undefined)) return null;
  for (let i = 0; i < t.length; i++)
    for (let j = i + 1; j < t.length; j++) if (Math.abs(t[i]! - t[j]!) <= APPEARANCE_MARGIN_S) return null;
  return categories.slice().sort((a, b) => first.get(a)! - first.get(b)!);
}

export function appearanceOrderDrafts(ctx: SceneContext, rng: Rng): Draft[] {
  const first = firstAppearances(ctx);
  const out: Draft[] = [];
  for (const group of combinations([...first.keys()], 4)) {
    const order = appearanceOrder(first, group);
    if (order === null) continue;
    const answer = order.join(', ');
    // Upstream: up to 100 reshuffles to find three other orders (4! = 24 exist, so this always succeeds).
    const seen = new Set([answer]);
    const distractors: string[] = [];
    for (let attempt = 0; attempt < 100 && distractors.length < 3; attempt++) {
      const s = rng.shuffled(group).join(', ');
      if (!seen.has(s)) {
        seen.add(s);
        distractors.push(s);
      }
    }
    out.push({
      type: 'obj_appearance_order',
      question: appearanceOrderQuestion(rng.shuffled(group)),
      answer,
      distractors,
    });
  }
  return out;
}
