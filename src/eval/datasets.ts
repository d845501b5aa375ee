// Loaders for the benchmarks in their released layouts, plus where each question's video lives.
// - VSI-Bench (nyu-visionx/VSI-Bench): a parquet or JSONL table with id, dataset, scene_name, question_type,
//   question, options, ground_truth; videos at <dataset>/<scene_name>.mp4. The debiased subset
//   (VSI-Bench-Debiased) is either its own file (name containing "debiased") or the rows of the full table
//   whose `pruned` column is false.
// - ScanQA val: `ScanQA_v1.0_val.json` (list of {question_id, scene_id, question, answers}) or the
//   Video-3D-LLM / Spatial-MLLM `scanqa_val_llava_style.json` (id, video, conversations, metadata.answers).
// - SQA3D test: `v1_balanced_questions_test_scannetv2.json` + `v1_balanced_sqa_annotations_test_scannetv2.json`
//   (optionally under balanced/), or `sqa3d_test_llava_style.json`.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../errors.ts';
import { readJsonFile } from '../json.ts';
import { isQuestionType } from '../vsibench.ts';
import { sqa3dQuestionType } from './qa3d_metrics.ts';
import type { Benchmark, EvalQuestion } from './questions.ts';

export const VSI_SUBSETS = ['full', 'debiased'] as const;
export type VsiSubset = (typeof VSI_SUBSETS)[number];

type Row = Record<string, unknown>;

function readJsonl(path: string): Row[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((line, i) => [line.trim(), i + 1] as const)
    .filter(([line]) => line !== '')
    .map(([line, n]) => {
      try {
        return JSON.parse(line) as Row;
      } catch {
        throw new InputError(`${path}:${n} is not valid JSON; re-download the file or fix that line`);
      }
    });
}

const readJson = (path: string) => readJsonFile(path, 're-download the file');

async function readTable(path: string): Promise<Row[]> {
  if (path.endsWith('.jsonl')) return readJsonl(path);
  if (path.endsWith('.json')) {
    const rows = readJson(path);
    if (!Array.isArray(rows)) throw new InputError(`${path}: expected a JSON array of questions`);
    return rows as Row[];
  }
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  return (await parquetReadObjects({ file: await asyncBufferFromFile(path) })) as Row[];
}

const isTable = (name: string) => /\.(parquet|jsonl)$/.test(name);

/** The VSI-Bench table for a subset: an explicit file, or the best match in the folder. */
function findVsiTable(data: string, subset: VsiSubset): { path: string; filterPruned: boolean } {
  if (statSync(data).isFile())
    return { path: data, filterPruned: subset === 'debiased' && !/debiased/i.test(data) };
  const tables = readdirSync(data)
    .filter((n) => isTable(n) && /test/i.test(n))
    .sort();
  const debiased = tables.filter((n) => /debiased/i.test(n));
  const full = tables.filter((n) => !/debiased|pruned/i.test(n));
  const pick = (names: string[]) => names.find((n) => n.endsWith('.parquet')) ?? names[0];
  if (subset === 'debiased' && debiased.length)
    return { path: join(data, pick(debiased)), filterPruned: false };
  // `data synth` writes its questions as qa.json (VSI-Bench columns) beside the videos: read that folder as is.
  if (!full.length && existsSync(join(data, 'qa.json')))
    return { path: join(data, 'qa.json'), filterPruned: subset === 'debiased' };
  if (!full.length)
    throw new InputError(
      `no VSI-Bench table (test*.parquet or test*.jsonl, or qa.json of data synth) in ${data}; download nyu-visionx/VSI-Bench there or pass the file itself to --data`,
    );
  return { path: join(data, pick(full)), filterPruned: subset === 'debiased' };
}

const text = (v: unknown) => (v === null || v === undefined ? '' : String(v));

export async function loadVsiBench(data: string, subset: VsiSubset = 'full'): Promise<EvalQuestion[]> {
  if (!existsSync(data))
    throw new InputError(`--data ${data} does not exist; point it at the VSI-Bench folder`);
  const { path, filterPruned } = findVsiTable(data, subset);
  let rows = await readTable(path);
  if (filterPruned) {
    if (!rows.length || !('pruned' in rows[0]))
      throw new InputError(
        `${basename(path)} has no 'pruned' column and no *debiased* table sits beside it; download the current VSI-Bench release (it ships the debiased subset) or use --subset full`,
      );
    rows = rows.filter((r) => !r.pruned);
  }
  return rows.map((r, index) => {
    const type = r.question_type;
    if (!isQuestionType(type))
      throw new InputError(`${basename(path)} row ${index}: unknown question_type ${JSON.stringify(type)}`);
    const options = Array.isArray(r.options) ? r.options.map(String) : undefined;
    return {
      index,
      id: text(r.id ?? index),
      benchmark: 'vsibench' as const,
      dataset: text(r.dataset),
      scene: text(r.scene_name),
      questionType: type,
      question: text(r.question),
      ...(options?.length ? { options } : {}),
      answers: [text(r.ground_truth)],
    };
  });
}

/** The first existing file among candidate names, under `dir` and its sub-folder `balanced/`. */
function findFile(dir: string, names: string[], what: string): string {
  if (statSync(dir).isFile()) return dir;
  for (const sub of ['', 'balanced'])
    for (const name of names) if (existsSync(join(dir, sub, name))) return join(dir, sub, name);
  throw new InputError(`no ${what} in ${dir} (looked for ${names.join(', ')}); download it there`);
}

/** The question text of a LLaVA-style entry: the human turn without the `<image>` placeholder and the template
 * suffix, so that the prompt is rebuilt the same way for every file format. */
function llavaQuestion(value: string, suffix: string): string {
  return value
    .replace(/^\s*<image>\s*/, '')
    .replace(suffix, '')
    .trim();
}

export function loadScanQA(data: string): EvalQuestion[] {
  const path = findFile(data, ['ScanQA_v1.0_val.json', 'scanqa_val_llava_style.json'], 'ScanQA val file');
  const raw = readJson(path);
  if (!Array.isArray(raw)) throw new InputError(`${path} is not a JSON list of ScanQA questions`);
  return raw.map((r: Row, index) => {
    if (Array.isArray(r.answers))
      return {
        index,
        id: text(r.question_id),
        benchmark: 'scanqa' as const,
        dataset: 'scannet',
        scene: text(r.scene_id),
        questionType: 'scanqa',
        question: text(r.question),
        answers: r.answers.map(String),
      };
    const conv = r.conversations as { value: string }[] | undefined;
    const meta = r.metadata as { answers?: unknown[] } | undefined;
    if (!conv?.length || !Array.isArray(meta?.answers))
      throw new InputError(`${path} entry ${index} has neither 'answers' nor 'metadata.answers'`);
    return {
      index,
      id: text(r.id),
      benchmark: 'scanqa' as const,
      dataset: 'scannet',
      scene: text(r.video).split('/').pop()!,
      questionType: 'scanqa',
      question: llavaQuestion(conv[0].value, 'Answer the question simply.'),
      answers: meta.answers.map(String),
    };
  });
}

export function loadSqa3d(data: string): EvalQuestion[] {
  const suffix = 'Answer the question using a single word or phrase.';
  const llava = ['sqa3d_test_llava_style.json'];
  const official = 'v1_balanced_questions_test_scannetv2.json';
  const hasOfficial =
    statSync(data).isDirectory() && [join(data, official), join(data, 'balanced', official)].some(existsSync);
  if (!hasOfficial) {
    const path = findFile(data, llava, 'SQA3D test file');
    const raw = readJson(path) as Row[];
    return raw.map((r, index) => {
      const conv = r.conversations as { value: string }[];
      const question = llavaQuestion(conv[0].value, suffix); // situation and question, as one text
      const meta = r.metadata as { question_type?: string } | undefined;
      return {
        index,
        id: text(r.id),
        benchmark: 'sqa3d' as const,
        dataset: 'scannet',
        scene: text(r.video).split('/').pop()!,
        questionType: meta?.question_type ?? sqa3dQuestionType(question),
        question,
        answers: [text(conv[1]?.value)],
      };
    });
  }
  const qPath = findFile(data, [official], 'SQA3D test questions');
  const aPath = findFile(data, ['v1_balanced_sqa_annotations_test_scannetv2.json'], 'SQA3D test annotations');
  const listIn = (path: string, key: string): Row[] => {
    const list = (readJson(path) as Record<string, unknown> | null)?.[key];
    if (!Array.isArray(list))
      throw new InputError(
        `${path} has no "${key}" list; give the SQA3D v1_balanced_*_test_scannetv2.json files`,
      );
    return list as Row[];
  };
  const questions = listIn(qPath, 'questions');
  const answers = new Map(
    listIn(aPath, 'annotations').map((a) => [
      text(a.question_id),
      (a.answers as { answer: string }[]).map((x) => x.answer),
    ]),
  );
  return questions.map((q, index) => {
    const id = text(q.question_id);
    const gt = answers.get(id);
    if (!gt)
      throw new InputError(`${aPath} has no answer for question ${id}; the two SQA3D files do not match`);
    return {
      index,
      id,
      benchmark: 'sqa3d' as const,
      dataset: 'scannet',
      scene: text(q.scene_id),
      questionType: sqa3dQuestionType(text(q.question)),
      question: text(q.question),
      situation: text(q.situation),
      answers: gt,
    };
  });
}

export async function loadBenchmark(
  benchmark: Benchmark,
  data: string,
  subset: VsiSubset,
): Promise<EvalQuestion[]> {
  if (!existsSync(data)) throw new InputError(`--data ${data} does not exist`);
  if (benchmark === 'vsibench') return loadVsiBench(data, subset);
  return benchmark === 'scanqa' ? loadScanQA(data) : loadSqa3d(data);
}

/**
 * Where a question's video is: `<root>/<dataset>/<scene>.mp4` (VSI-Bench layout) or `<root>/<scene>.mp4`, or the
 * same paths without `.mp4` as a folder of frames. Returns the first that exists, else the first candidate (so
 * that the error names the expected location).
 */
export function videoPath(root: string, q: EvalQuestion): string {
  const bases = [join(root, q.dataset, q.scene), join(root, q.scene)];
  const candidates = bases.flatMap((b) => [`${b}.mp4`, b]);
  return candidates.find((c) => existsSync(c)) ?? candidates[0];
}
