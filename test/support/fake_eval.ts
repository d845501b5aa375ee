// `spatial-mllm eval vsibench` against the fake OpenAI-compatible endpoint (test/eval/openai_server.ts) on a
// synthetic benchmark folder: the arguments, and what such a run leaves in its --out folder.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readResults } from '../../src/eval/results.ts';

/** `eval vsibench` with the model `openai:fake` at `endpoint`, 2 frames, no progress bar; `extra` appended. */
export const fakeEvalArgs = (endpoint: string, data: string, out: string, ...extra: string[]) => [
  'eval',
  'vsibench',
  '--model',
  'openai:fake',
  '--endpoint',
  endpoint,
  '--data',
  data,
  '--out',
  out,
  '--frames',
  '2',
  '--no-progress',
  ...extra,
];

/** The report files of a finished run, to compare runs byte for byte. */
export const reportFiles = (out: string) =>
  ['report.json', 'report.md', 'chart.svg'].map((f) => readFileSync(join(out, f), 'utf8'));

/** Answers on disk so far (lines of results.jsonl; 0 before the file exists). */
export const answersOnDisk = (out: string) => {
  const path = join(out, 'results.jsonl');
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').length - 1 : 0;
};

/** Asserts that results.jsonl holds `n` records with distinct ids: nothing lost or answered twice. */
export function assertEachAnsweredOnce(out: string, n: number): void {
  const ids = readResults(join(out, 'results.jsonl'), 'vsibench').records.map((r) => r.id);
  assert.equal(ids.length, n);
  assert.equal(new Set(ids).size, n);
}
