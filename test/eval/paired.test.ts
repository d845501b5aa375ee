// Paired differences of two VSI-Bench runs: per-question official scores matched by id, task means with their
// standard errors, relative direction as the mean of its difficulties, macro over the tasks present.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { evalCompare } from '../../src/eval/commands.ts';
import { diffText, pairedDiff } from '../../src/eval/paired.ts';
import type { ResultRecord } from '../../src/eval/results.ts';

const mc = (id: string, type: string, prediction: string): ResultRecord => ({
  id,
  question_type: type,
  prediction,
  ground_truth: 'A',
});

test('paired differences: means, standard errors, unmatched ids ignored, relative direction averaged', () => {
  const a = [
    mc('1', 'object_rel_distance', 'A'),
    mc('2', 'object_rel_distance', 'A'),
    mc('3', 'object_rel_distance', 'A'),
    mc('4', 'object_rel_distance', 'B'),
    mc('5', 'object_rel_direction_easy', 'A'),
    mc('6', 'object_rel_direction_hard', 'B'),
    mc('only-in-a', 'object_rel_distance', 'A'),
    // Numeric: MRA 1.0 for an exact answer, 0 for one off by more than half.
    { id: '7', question_type: 'room_size_estimation', prediction: '20', ground_truth: '20' },
  ];
  const b = [
    mc('1', 'object_rel_distance', 'B'),
    mc('2', 'object_rel_distance', 'A'),
    mc('3', 'object_rel_distance', 'C'),
    mc('4', 'object_rel_distance', 'B'),
    mc('5', 'object_rel_direction_easy', 'B'),
    mc('6', 'object_rel_direction_hard', 'A'),
    { id: '7', question_type: 'room_size_estimation', prediction: '50', ground_truth: '20' },
  ];
  const d = pairedDiff(a, b);
  // Differences 100, 0, 100, 0: mean 50, sample variance 10000/3, standard error sqrt(10000/3/4).
  assert.equal(d.tasks.object_rel_distance!.mean, 50);
  assert.ok(Math.abs(d.tasks.object_rel_distance!.se - Math.sqrt(10000 / 12)) < 1e-9);
  assert.equal(d.tasks.object_rel_distance!.n, 4);
  // Easy +100, hard −100 (one question each): the task is their mean.
  assert.equal(d.tasks.object_rel_direction!.mean, 0);
  assert.equal(d.tasks.room_size_estimation!.mean, 100);
  assert.equal(d.tasks.object_counting, undefined);
  assert.equal(d.macro!.mean, (50 + 0 + 100) / 3);
  assert.equal(diffText(d.tasks.room_size_estimation), '+100.0 ± 0.0');
  assert.equal(diffText(undefined), '–');
  assert.equal(diffText({ mean: -0.01, se: 0, n: 1 }), '+0.0 ± 0.0');
  assert.equal(diffText({ mean: -2.04, se: 1, n: 1 }), '-2.0 ± 2.0');
  // A run against itself: all zero.
  assert.deepEqual(pairedDiff(a, a).macro, { mean: 0, se: 0, n: 8 });
});

test('eval compare: two run folders (or results files) as a table; runs without common questions refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'compare-'));
  const write = (name: string, records: ResultRecord[]) => {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'results.jsonl'), records.map((r) => JSON.stringify(r)).join('\n'));
  };
  write('a', [mc('1', 'object_rel_distance', 'A'), mc('2', 'object_rel_distance', 'A')]);
  write('b', [mc('1', 'object_rel_distance', 'A'), mc('2', 'object_rel_distance', 'C')]);
  write('c', [mc('9', 'object_rel_distance', 'A')]);
  // Differences 0 and 100: mean 50, standard error 50, interval 1.96 × 50 = 98.0.
  const table = evalCompare(join(dir, 'a'), join(dir, 'b', 'results.jsonl'));
  assert.match(table, /\| object_rel_distance \| \+50\.0 ± 98\.0 \| 2 questions \|/);
  assert.match(table, /\| overall \(macro\) \| \+50\.0 ± 98\.0 \| 2 questions \|/);
  assert.throws(() => evalCompare(join(dir, 'a'), join(dir, 'c')), /share no scored question/);
  assert.throws(() => evalCompare(join(dir, 'a'), join(dir, 'missing')), /holds no results/);
});
