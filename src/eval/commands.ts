// What the `spatial-mllm eval …` commands do; src/apps/commands/eval.ts only declares their options.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { checkFrameCount, checkFrameSampling } from '../frame_options.ts';
import type { AdapterDeps } from './adapter.ts';
import { createAdapter } from './adapters.ts';
import { loadBenchmark, VSI_SUBSETS, type VsiSubset } from './datasets.ts';
import { BENCHMARKS, type Benchmark, PROMPT_STYLES, type PromptStyle } from './questions.ts';
import { buildReport, conventionFor, reportMarkdown, writeReport } from './report.ts';
import { readResults } from './results.ts';
import { evaluate, mergeRuns, parseShard } from './runner.ts';

export interface EvalCommandOptions {
  model: string;
  data: string;
  videos?: string;
  subset: string;
  out?: string;
  frames: string;
  sampling: string;
  prompt: string;
  convention?: string;
  limit?: string;
  shard?: string;
  endpoint?: string;
  apiKeyEnv?: string;
  maxTokens?: string;
  progress: boolean;
  blind?: boolean;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new InputError(`${flag} ${value}: choose one of ${allowed.join(', ')}`);
  return value as T;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InputError(`${flag} ${value}: give a whole number ≥ 1`);
  return n;
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '');

/** `deps`: what the app wires in (our model, the video decoder); without them only baselines run. */
export async function evalBenchmark(
  benchmark: Benchmark,
  o: EvalCommandOptions,
  deps: AdapterDeps = {},
): Promise<void> {
  const convention = conventionFor(benchmark, o.convention);
  const subset = oneOf(o.subset, VSI_SUBSETS, '--subset') as VsiSubset;
  const frames = checkFrameCount(o.frames);
  const sampling = checkFrameSampling(o.sampling);
  const prompt = oneOf(o.prompt, PROMPT_STYLES, '--prompt') as PromptStyle;
  const limit = o.limit === undefined ? undefined : positiveInt(o.limit, '--limit');
  const shard = o.shard === undefined ? undefined : parseShard(o.shard);
  const questions = await loadBenchmark(benchmark, o.data, subset);
  const adapter = await createAdapter(o.model, {
    ...deps,
    questions,
    endpoint: o.endpoint,
    apiKeyEnv: o.apiKeyEnv,
    maxTokens: o.maxTokens === undefined ? undefined : positiveInt(o.maxTokens, '--max-tokens'),
  });
  const shardTag = shard ? `-shard${shard.index}of${shard.count}` : '';
  const out =
    o.out ?? join('eval_results', `${benchmark}-${slug(adapter.name)}${o.blind ? '-blind' : ''}${shardTag}`);
  const controller = new AbortController();
  const onSigint = () => {
    process.stderr.write('\ninterrupted: finishing the current question; rerun the same command to resume\n');
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    const outcome = await evaluate({
      benchmark,
      data: o.data,
      videos: o.videos,
      adapter,
      questions,
      out,
      frames,
      sampling,
      blind: o.blind,
      prompt,
      subset,
      convention,
      limit,
      shard,
      signal: controller.signal,
      progress: o.progress,
    });
    for (const f of outcome.failed.slice(0, 20)) process.stderr.write(`failed ${f.id}: ${f.error}\n`);
    if (outcome.failed.length)
      process.stderr.write(
        `${outcome.failed.length} questions failed; rerun the same command to retry them\n`,
      );
    if (outcome.report) {
      process.stdout.write(reportMarkdown(outcome.report));
      process.stdout.write(
        `\nresults: ${join(out, 'results.jsonl')}\nreport: ${join(out, 'report.md')}, report.json, chart.svg\n`,
      );
    }
  } finally {
    process.off('SIGINT', onSigint);
    await adapter.close?.();
  }
}

export function evalMerge(dirs: string[], o: { out: string; convention?: string }): void {
  process.stdout.write(reportMarkdown(mergeRuns(dirs, o.out, o.convention)));
  process.stdout.write(`\nmerged into ${o.out}\n`);
}

export function evalScore(o: {
  predictions: string;
  benchmark: string;
  convention?: string;
  json?: boolean;
  out?: string;
  model: string;
}): void {
  const benchmark = oneOf(o.benchmark, BENCHMARKS, '--benchmark');
  const results = readResults(o.predictions, benchmark);
  if (!results.records.length && !results.invalid.length)
    throw new InputError(
      `${o.predictions} is empty or missing; give a JSONL file with one prediction per line`,
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
