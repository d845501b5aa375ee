// The small model's data: synthetic rooms from disjoint seed ranges, so that no evaluation room (or question)
// ever reaches a training file. `data synth` names scene i of seed S `synth_S_iiii` and draws it from its own
// random streams (src/data/synth/world.ts), so different seeds give different rooms and different names.
//   train   seed 1000      SFT and GRPO conversations, the tokenizer's merges
//   eval    seed 900000    the README table (rerun on any other fresh seed with `data synth --seed S`)
import { readFileSync } from 'node:fs';
import { writeRecordsAtomic } from '../../data/jsonl.ts';
import { toConversation } from '../../data/qa/format.ts';
import type { Conversation, VsiQuestion } from '../../data/qa/types.ts';
import { Rng } from '../../data/rng.ts';
import type { QuestionType } from '../../vsibench.ts';

export const SEEDS = { train: 1000, eval: 900000 } as const;

/** The seed of a synthetic scene name (`synth_<seed>_<index>`), or undefined for other names. */
export function sceneSeed(scene: string): number | undefined {
  const m = /^synth_(\d+)_\d+$/.exec(scene);
  return m ? Number(m[1]) : undefined;
}

/**
 * At most `perType` questions of each type per scene, a seeded choice within each (scene, type), in the generator's
 * order: the generator makes hundreds of relative-distance questions per room and a few room-size ones, and an SFT
 * set in those proportions would teach mostly one task. Taking the *first* ones instead (as the runs of session 4
 * did) picks the door for every room's object-size question, since the generator lists the door first.
 */
export function balancedQuestions(questions: readonly VsiQuestion[], perType: number): VsiQuestion[] {
  const groups = new Map<string, VsiQuestion[]>();
  for (const q of questions) {
    const key = `${q.scene_name}\u0000${q.question_type}`;
    const group = groups.get(key) ?? [];
    groups.set(key, group);
    group.push(q);
  }
  const chosen = new Set<VsiQuestion>();
  for (const [key, group] of groups)
    for (const q of new Rng('balanced', key).shuffled(group).slice(0, perType)) chosen.add(q);
  return questions.filter((q) => chosen.has(q));
}

/**
 * Writes the SFT conversations (Qwen-VL layout, videos relative to the synth folder) and returns them. The
 * question follows `<video>` directly, as the chat template renders a video turn at inference
 * (`<|vision_end|>What …`): upstream's data puts a newline there, which a 4B model shrugs off but a 2M-parameter
 * one does not — trained on the newline it answered "2.8.8" where it had learned "27.5".
 */
export function writeConversations(
  path: string,
  questions: readonly VsiQuestion[],
  blindEvery = 0,
): (Conversation & { blind?: true })[] {
  const conversations: (Conversation & { blind?: true })[] = questions.map(toConversation).map((c) => ({
    ...c,
    conversations: c.conversations.map((t) =>
      t.from === 'human' ? { ...t, value: t.value.replace(/^<video>\n/, '<video>') } : t,
    ),
  }));
  // Blind copies (grey frames, as `eval --blind`): a model that has seen a grey video answers it from the question
  // alone (the text priors), which is what the blind control must measure; never trained on one, it answers a
  // grey video with noise and the control says nothing.
  if (blindEvery > 0)
    for (const c of conversations.filter((_, i) => i % blindEvery === 0))
      conversations.push({ ...c, id: `${c.id}/blind`, blind: true });
  writeRecordsAtomic(path, conversations);
  return conversations;
}

/**
 * Task weights of the SFT mix. Room size has one question per room and counting a few, so in the plain mix (2.7 % room
 * size) the model answered every room with one constant; on the same frozen features a ridge probe reads room size
 * (held-out R² 0.73), and an SFT run where room size and counting dominate started to read it. The three
 * relative-direction subtypes (28 % of the plain mix) give up half of theirs.
 */
export const SFT_MIX: Readonly<Partial<Record<QuestionType, number>>> = {
  room_size_estimation: 6,
  object_counting: 2,
  object_rel_direction_easy: 0.5,
  object_rel_direction_medium: 0.5,
  object_rel_direction_hard: 0.5,
};

/**
 * A weighted mix of SFT records: weight w ≥ 1 repeats each record of its type round(w) times, w < 1 keeps every
 * round(1/w)-th record of its type in file order; types not named keep weight 1.
 */
export function weightedMix<T extends { question_type?: string }>(
  records: readonly T[],
  weights: Readonly<Partial<Record<string, number>>>,
): T[] {
  const seen = new Map<string, number>();
  const out: T[] = [];
  for (const r of records) {
    const type = r.question_type ?? '';
    const w = weights[type] ?? 1;
    const i = seen.get(type) ?? 0;
    seen.set(type, i + 1);
    if (w >= 1) for (let k = 0; k < Math.round(w); k++) out.push(r);
    else if (i % Math.round(1 / w) === 0) out.push(r);
  }
  return out;
}

/** The scene names a conversation or question file mentions (`scene_name`, or the video path's file name). */
export function scenesOf(path: string): Set<string> {
  const text = readFileSync(path, 'utf8').trim();
  const records: Record<string, unknown>[] = text.startsWith('[')
    ? JSON.parse(text)
    : text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
  const names = new Set<string>();
  for (const r of records) {
    if (typeof r.scene_name === 'string') names.add(r.scene_name);
    if (typeof r.video === 'string') names.add(r.video.replace(/^.*\//, '').replace(/\.mp4$/, ''));
  }
  return names;
}
