// Held-out evaluation during a training run (`--eval-data`, `--eval-every`). The held-out file is either
// conversations (the training layout: only the mean answer-token loss is measured) or a benchmark in VSI-Bench
// layout (a question file, or a `data synth` folder, as `eval vsibench --data` reads). A benchmark is scored by the
// evaluation harness itself: the current weights are exported as a model folder (the one `ask` loads; LoRA merged
// into the base), the harness answers the questions with it, and its VSI-Bench metrics (overall + per task) go to
// the step's log line. The same questions with their ground truth as the answer also give the held-out loss.
// Each evaluation has its own folder <out>/eval/step-N: the harness resumes a killed evaluation question by question
// there (the resumed training run reaches step N again with bit-identical weights); the exported model is deleted
// once the report is written.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import type { AdapterDeps } from '../eval/adapter.ts';
import { loadVsiBench, videoPath } from '../eval/datasets.ts';
import { buildPrompt, type EvalQuestion, type PromptStyle } from '../eval/questions.ts';
import { planRun, runEval } from '../eval/runner.ts';
import { TASKS } from '../vsibench.ts';
import { exportSft } from './export.ts';
import type { SftModel } from './sft.ts';
import { parseRecord, readSftRecords, type SftRecord } from './sft_data.ts';

/** The prompt layout of the training conversations (`data qa --format conversation`, the small recipe). */
const PROMPT: PromptStyle = 'spatial-mllm';

export type HeldOut =
  | { kind: 'conversations'; path: string; records: SftRecord[] }
  | {
      kind: 'benchmark';
      path: string;
      /** Root of the questions' videos (`<dataset>/<scene>.mp4` or `<scene>` frame folders). */
      media: string;
      /** Every question of the benchmark (the harness's settings name the file and the limit). */
      all: EvalQuestion[];
      limit?: number;
      /** The first `limit` questions as conversations (prompt + ground truth), for the held-out loss. */
      records: SftRecord[];
    };

/** True when `path` holds benchmark questions (a folder, or rows with `question_type` and no conversations). */
function isBenchmark(path: string): boolean {
  if (statSync(path).isDirectory() || path.endsWith('.parquet')) return true;
  const text = readFileSync(path, 'utf8').trimStart();
  let first: unknown;
  try {
    first = text.startsWith('[') ? (JSON.parse(text) as unknown[])[0] : JSON.parse(text.split('\n', 1)[0]);
  } catch {
    return false; // malformed: the conversation reader names the line
  }
  return (
    typeof first === 'object' && first !== null && 'question_type' in first && !('conversations' in first)
  );
}

/** The conversation a question becomes: the video, the prompt the model is trained with, the ground truth. */
export function questionRecord(q: EvalQuestion, media: string, where: string): SftRecord {
  const conversations = [
    { from: 'human', value: `<video>\n${buildPrompt(q, PROMPT)}` },
    { from: 'gpt', value: q.answers[0] ?? '' },
  ];
  return parseRecord({ id: q.id, video: videoPath(media, q), conversations }, where, media);
}

/**
 * Reads and checks the held-out data before anything is written: conversations resolve under `media` (the
 * training media folder), benchmark videos under `evalMedia` (default the benchmark folder, or the training media
 * for a question file).
 */
export async function readHeldOut(
  path: string,
  o: { media: string; evalMedia?: string; limit?: number },
): Promise<HeldOut> {
  let benchmark: boolean;
  try {
    benchmark = isBenchmark(path);
  } catch {
    throw new InputError(`cannot read --eval-data ${path}: check the path`);
  }
  if (!benchmark) {
    const records = readSftRecords(path, o.evalMedia ?? o.media);
    return { kind: 'conversations', path, records: o.limit ? records.slice(0, o.limit) : records };
  }
  const media = resolve(o.evalMedia ?? (statSync(path).isDirectory() ? path : o.media));
  const all = await loadVsiBench(path, 'full');
  if (all.length === 0) throw new InputError(`--eval-data ${path} holds no questions`);
  const chosen = o.limit ? all.slice(0, o.limit) : all;
  const records = chosen.map((q) => questionRecord(q, media, `${path} question ${q.id}`));
  return { kind: 'benchmark', path, media, all, limit: o.limit, records };
}

/** What one benchmark evaluation logs: VSI-Bench overall (mean over tasks) and each task's score, in percent. */
export type BenchmarkScores = { overall: number; questions: number; failed: number } & Record<string, number>;

/** Curve names of the benchmark scores in train.svg. */
export const BENCHMARK_CURVES = ['eval.overall', ...TASKS.map((t) => `eval.${t}`)];

/**
 * Scores the model's current weights on the benchmark with the evaluation harness, in `<out>/eval/step-<step>`.
 * `deps.spatialMllm` is the app's model adapter (src/train does not load the inference pipeline itself).
 */
export async function benchmarkScores(
  model: SftModel,
  h: Extract<HeldOut, { kind: 'benchmark' }>,
  o: { out: string; step: number; frames: number; deps: AdapterDeps },
): Promise<BenchmarkScores> {
  if (!o.deps.spatialMllm)
    throw new InputError(
      'this build has no inference pipeline to answer --eval-data questions; give held-out conversations instead',
    );
  const dir = join(o.out, 'eval', `step-${o.step}`);
  const exported = await exportSft(model, dir, { merge: true });
  const adapter = await o.deps.spatialMllm(exported.model!);
  try {
    const plan = await planRun({
      benchmark: 'vsibench',
      data: resolve(h.path),
      videos: h.media,
      questions: h.all,
      out: dir,
      frames: o.frames,
      sampling: 'uniform',
      prompt: PROMPT,
      limit: h.limit,
      // The folder is named by the step: the model name stays the same when a killed evaluation resumes.
      model: `train step ${o.step}`,
    });
    const outcome = await runEval({ ...plan, adapter });
    const vsi = outcome.report?.vsibench;
    const scores: BenchmarkScores = {
      overall: vsi?.overall.macro ?? Number.NaN,
      questions: outcome.report?.questions.scored ?? 0,
      failed: outcome.failed.length,
    };
    for (const [task, s] of Object.entries(vsi?.tasks ?? {})) scores[task] = s.score;
    return scores;
  } finally {
    await adapter.close?.();
    rmSync(join(dir, 'model'), { recursive: true, force: true });
    rmSync(join(dir, 'adapter'), { recursive: true, force: true });
  }
}
