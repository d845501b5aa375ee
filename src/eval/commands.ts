// What the `spatial-mllm eval …` commands do; src/apps/commands/eval.ts only declares their options.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CommandFailed, InputError } from '../errors.ts';
import type { FrameSampling } from '../frame_options.ts';
import type { AdapterDeps, SpatialMllmRunOptions } from './adapter.ts';
import { createAdapter } from './adapters.ts';
import { loadBenchmark, type VsiSubset } from './datasets.ts';
import { diffText, pairedDiff } from './paired.ts';
import type { Benchmark, PromptStyle } from './questions.ts';
import { buildReport, conventionFor, reportMarkdown, writeReport } from './report.ts';
import { readResults } from './results.ts';
import { type EvaluateOptions, evaluate, mergeRuns, type RunOutcome, type Shard } from './runner.ts';

/** `eval <benchmark>` options, as src/apps/commands/eval.ts parses them. */
export interface EvalCommandOptions extends SpatialMllmRunOptions {
  model: string;
  data: string;
  videos?: string;
  /** VSI-Bench only (the command refuses it for the others). */
  subset?: VsiSubset;
  out?: string;
  frames: number;
  sampling: FrameSampling;
  prompt: PromptStyle;
  convention?: string;
  limit?: number;
  shard?: Shard;
  endpoint?: string;
  apiKeyEnv?: string;
  maxTokens?: number;
  progress: boolean;
  blind?: boolean;
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '');

/** What sets a run's answers apart besides the model: a resumed run must not mix answers of two settings. */
const variant = (o: EvalCommandOptions) =>
  (o.dtype && o.dtype !== 'float32' ? `-${o.dtype}` : '') +
  (o.spatialRes === 'half' ? '-spatial-half' : '') +
  (o.blind ? '-blind' : '');

/** The command's options as the runner's, with the output folder (named by the --model spec, so a queued run,
 * which has no adapter, writes to the same place as a single-process one). */
export function evaluateOptions(
  benchmark: Benchmark,
  o: EvalCommandOptions,
): Omit<EvaluateOptions, 'adapter'> {
  const { shard } = o;
  const shardTag = shard ? `-shard${shard.index}of${shard.count}` : '';
  return {
    benchmark,
    data: o.data,
    videos: o.videos,
    out: o.out ?? join('eval_results', `${benchmark}-${slug(o.model)}${variant(o)}${shardTag}`),
    frames: o.frames,
    sampling: o.sampling,
    blind: o.blind,
    prompt: o.prompt,
    subset: o.subset ?? 'full',
    convention: conventionFor(benchmark, o.convention),
    limit: o.limit,
    shard,
    progress: o.progress,
  };
}

/** Prints the report and says what failed: exit 130 when interrupted, 1 when questions failed (CommandFailed). */
export function printOutcome(outcome: RunOutcome, out: string): void {
  if (outcome.report) {
    process.stdout.write(reportMarkdown(outcome.report));
    process.stdout.write(
      `\nresults: ${join(out, 'results.jsonl')}\nreport: ${join(out, 'report.md')}, report.json, chart.svg\n`,
    );
  }
  if (!outcome.report)
    throw new CommandFailed(
      `interrupted after ${outcome.answered} new answers; rerun the same command to resume`,
      130,
    );
  for (const f of outcome.failed.slice(0, 20)) process.stderr.write(`failed ${f.id}: ${f.error}\n`);
  if (outcome.failed.length)
    throw new CommandFailed(
      `${outcome.failed.length} questions failed (the report leaves them out; the first ` +
        `${Math.min(20, outcome.failed.length)} are listed above); rerun the same command to retry them`,
    );
}

/** `deps`: what the app wires in (our model, the video decoder); without them only baselines run. */
export async function evalBenchmark(
  benchmark: Benchmark,
  o: EvalCommandOptions,
  deps: AdapterDeps = {},
): Promise<void> {
  const options = evaluateOptions(benchmark, o);
  const questions = await loadBenchmark(benchmark, o.data, options.subset ?? 'full');
  const adapter = await createAdapter(o.model, {
    ...deps,
    questions,
    endpoint: o.endpoint,
    apiKeyEnv: o.apiKeyEnv,
    maxTokens: o.maxTokens,
    spatialMllmOptions: { dtype: o.dtype, spatialRes: o.spatialRes },
  });
  const controller = new AbortController();
  const onSigint = () => {
    process.stderr.write('\ninterrupted: finishing the current question; rerun the same command to resume\n');
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    printOutcome(await evaluate({ ...options, adapter, questions, signal: controller.signal }), options.out);
  } finally {
    process.off('SIGINT', onSigint);
    await adapter.close?.();
  }
}

/**
 * `eval compare A B`: two VSI-Bench runs on the same questions (run folders or results.jsonl files), A − B per task
 * and overall in points with 95% intervals, paired by question id (src/eval/paired.ts).
 */
export function evalCompare(a: string, b: string): string {
  const records = (p: string) => {
    const file = p.endsWith('.jsonl') ? p : join(p, 'results.jsonl');
    const { records } = readResults(file, 'vsibench');
    if (!records.length)
      throw new InputError(`${file} holds no results; give an eval output folder or its results.jsonl`);
    return records;
  };
  const d = pairedDiff(records(a), records(b));
  const tasks = Object.entries(d.tasks);
  if (!tasks.length)
    throw new InputError(`${a} and ${b} share no scored question; compare two runs on the same questions`);
  const n = (x: { n: number }) => `${x.n} question${x.n === 1 ? '' : 's'}`;
  const rows = [
    ...tasks.map(([t, x]) => [t, diffText(x), n(x)]),
    ['overall (macro)', diffText(d.macro), n(d.macro!)],
  ];
  return (
    [
      `| task | A − B (points, ± 95%) | paired |`,
      '| --- | --- | --- |',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n') + '\n'
  );
}

export function evalMerge(dirs: string[], o: { out: string; convention?: string }): void {
  process.stdout.write(reportMarkdown(mergeRuns(dirs, o.out, o.convention)));
  process.stdout.write(`\nmerged into ${o.out}\n`);
}

export function evalScore(o: {
  predictions: string;
  benchmark: Benchmark;
  convention?: string;
  json?: boolean;
  out?: string;
  model: string;
}): void {
  const benchmark = o.benchmark;
  const results = readResults(o.predictions, benchmark);
  if (!results.records.length && !results.invalid.length)
    throw new InputError(
      `${o.predictions} is empty or missing; give a JSONL file with one prediction per line`,
    );
  if (!results.records.length)
    throw new InputError(
      `${o.predictions}: no line is a ${benchmark} prediction (line ${results.invalid[0].line}: ${results.invalid[0].reason}); ` +
        'give one JSON object per line with question_type, prediction and ground_truth (ScanQA/SQA3D: answers)',
    );
  const report = buildReport({
    benchmark,
    model: o.model,
    convention: conventionFor(benchmark, o.convention),
    records: results.records,
    invalid: results.invalid,
  });
  if (o.out) {
    mkdirSync(o.out, { recursive: true });
    writeReport(o.out, report);
  }
  process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : reportMarkdown(report));
}
