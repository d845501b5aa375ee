// The small recipe's question choice: a fixed number per (room, task type), chosen at random but reproducibly, so
// that a room's questions are not always the generator's first ones (the door, for object size).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VsiQuestion } from '../../src/data/qa/types.ts';
import { balancedQuestions, SFT_MIX, weightedMix } from '../../src/train/small/data.ts';
import { QUESTION_TYPES } from '../../src/vsibench.ts';

const question = (scene: string, type: string, id: number): VsiQuestion => ({
  id,
  dataset: 'synthetic',
  scene_name: scene,
  question_type: type,
  question: `q${id}`,
  options: null,
  ground_truth: '1',
});

test('balancedQuestions: perType per (room, type), reproducible, in input order, not just the first ones', () => {
  let id = 0;
  const qs: VsiQuestion[] = [];
  for (let s = 0; s < 20; s++)
    for (const [type, n] of [
      ['object_size_estimation', 10],
      ['room_size_estimation', 1],
    ] as const)
      for (let k = 0; k < n; k++) qs.push(question(`synth_1_${s}`, type, id++));
  const picked = balancedQuestions(qs, 2);
  assert.deepEqual(picked, balancedQuestions(qs, 2));
  const count = (scene: string, type: string) =>
    picked.filter((q) => q.scene_name === scene && q.question_type === type).length;
  for (let s = 0; s < 20; s++) {
    assert.equal(count(`synth_1_${s}`, 'object_size_estimation'), 2);
    assert.equal(count(`synth_1_${s}`, 'room_size_estimation'), 1);
  }
  const ids = picked.map((q) => q.id);
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
  );
  const firstOfRoom = (q: VsiQuestion) =>
    qs.find((x) => x.scene_name === q.scene_name && x.question_type === q.question_type) === q;
  const sizes = picked.filter((q) => q.question_type === 'object_size_estimation');
  assert.ok(
    sizes.filter(firstOfRoom).length < sizes.length / 2,
    'the first question of a room is not favoured',
  );
});

test('weighted SFT mix: repeats the up-weighted types, thins the down-weighted ones in file order, keeps the rest', () => {
  const types = ['room_size_estimation', 'object_rel_direction_easy', 'route_planning'];
  const records = Array.from({ length: 30 }, (_, i) => ({ i, question_type: types[i % 3] }));
  const mix = weightedMix(records, { room_size_estimation: 3, object_rel_direction_easy: 0.25 });
  const of = (t: string) => mix.filter((r) => r.question_type === t).map((r) => r.i);
  assert.deepEqual(
    of('room_size_estimation'),
    records.filter((r) => r.i % 3 === 0).flatMap((r) => [r.i, r.i, r.i]),
  );
  // every 4th record of its own type: the 1st, 5th and 9th of the ten
  assert.deepEqual(of('object_rel_direction_easy'), [1, 13, 25]);
  assert.deepEqual(
    of('route_planning'),
    records.filter((r) => r.i % 3 === 2).map((r) => r.i),
  );
  // The recipe's default weights name only task types the generator writes.
  const known = new Set<string>(QUESTION_TYPES);
  for (const t of Object.keys(SFT_MIX)) assert.ok(known.has(t), t);
});
