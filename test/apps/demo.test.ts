// `spatial-mllm demo` end to end, as README's first command runs it: a held-out synthetic room, the default model
// (the small one when this checkout has models/small, else the tiny random one), every stage, an answer beside the
// room's own ground truth for each question asked, and the frames / point cloud / cameras written.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { shippedModel } from '../../src/apps/model_name.ts';

test('demo: answers about a synthetic room with the ground truth beside each answer, and saves the outputs', () => {
  const out = mkdtempSync(join(tmpdir(), 'demo-test-'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/apps/cli.ts', 'demo', '--out', out], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const small = shippedModel('small') !== undefined;
  assert.match(r.stdout, small ? /the small Spatial-MLLM trained here/ : /tiny Spatial-MLLM/);
  // Every question asked is one of the room's own (qa.json), and its answer line names that question's truth.
  const qa = JSON.parse(readFileSync(join(out, 'room', 'qa.json'), 'utf8')) as {
    question: string;
    ground_truth: string;
  }[];
  const asked = [...r.stdout.matchAll(/^\[question\] (.*)$/gm)].map((m) => m[1]);
  const answers = [...r.stdout.matchAll(/^\[answer\] .*; the ground truth is (.*)$/gm)].map((m) => m[1]);
  assert.ok(asked.length >= 1 && answers.length === asked.length, r.stdout);
  asked.forEach((text, i) => {
    const flat = (t: string) => t.replace(/\s+/g, ' ').trim();
    const q = qa.find((x) => flat(text).startsWith(flat(x.question)));
    assert.ok(q, `asked question not in the room's qa.json: ${text}`);
    assert.equal(answers[i], String(q.ground_truth));
  });
  const frames = Number(/^\[saved\] (\d+) frames/m.exec(r.stdout)?.[1]);
  assert.equal(readdirSync(join(out, 'outputs')).filter((f) => f.endsWith('.png')).length, frames);
  for (const f of ['points.ply', 'cameras.json']) assert.ok(existsSync(join(out, 'outputs', f)), f);
});
