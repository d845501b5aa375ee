// The evaluation loop: answers each question of a benchmark (or of one shard of it) with a model adapter,
// appends each result as it arrives, resumes where a killed run stopped, and writes the report at the end.
// Output folder: settings.json (what was run), results.jsonl (one line per answered question), report.json,
// report.md, chart.svg.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import {
  checkFrameCount,
  DEFAULT_FRAME_COUNT,
  DEFAULT_FRAME_SAMPLING,
  type FrameSampling,
} from '../frame_options.ts';
import { readJsonFile } from '../json.ts';
import type { ModelAdapter } from './adapter.ts';
import { loadBenchmark, type VsiSubset, videoPath } from './datasets.ts';
import { type Benchmark, buildPrompt, type EvalQuestion, type PromptStyle } from './questions.ts';
import { buildReport, conventionFor, type Report, writeReport } from './report.ts';
import { type ReadResults, type ResultRecord, ResultWriter, readResults, recordOf } from './results.ts';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export function parseShard(spec: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  const index = m ? Number(m[1]) : 0;
  const count = m ? Number(m[2]) : 0;
  if (!m || count < 1 || index < 1 || index > count)
    throw new InputError(
      `--shard ${spec}: write i/n with 1 ≤ i ≤ n, e.g. --shard 2/4 for the second of four parts`,
    );
  return { index, count };
}

/** The first `limit` questions, then the shard's contiguous part of them (so a scene's questions stay together). */
export function selectQuestions(all: readonly EvalQuestion[], limit?: number, shard?: Shard): EvalQuestion[] {
  const limited = limit === undefined ? all : all.slice(0, limit);
  if (!shard) return [...limited];
  const n = limited.length;
  return limited.slice(
    Math.floor(((shard.index - 1) * n) / shard.count),
    Math.floor((shard.index * n) / shard.count),
  );
}

/** What identifies a run: resuming with different settings would mix two experiments in one file. */
export interface RunSettings {
  benchmark: Benchmark;
  model: string;
  data: string;
  subset: string;
  frames: number;
  sampling: FrameSampling;
  /** Frames replaced by constant grey images (absent in runs made before the option). */
  blind?: boolean;
  prompt: PromptStyle;
  limit: number | null;
  shard: string | null;
  /** How many questions this run (shard) answers. */
  questions: number;
}

export interface RunOptions {
  settings: RunSettings;
  /** The questions of this run, already limited and sharded. */
  questions: EvalQuestion[];
  adapter: ModelAdapter;
  /** Root of the videos (VSI-Bench: the folder holding arkitscenes/, scannet/, scannetpp/). */
  videos: string;
  out: string;
  convention: string;
  /** Stop (cleanly, like a kill) when aborted; rerun to resume. */
  signal?: AbortSignal;
  progress?: boolean;
  /** Give up after this many failed questions in a row (an endpoint that is down). */
  maxConsecutiveFailures?: number;
}

export interface RunOutcome {
  answered: number;
  failed: { id: string; error: string }[];
  complete: boolean;
  report?: Report;
}

function writeJsonAtomic(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

const SETTINGS_FIX = 'it is written by `spatial-mllm eval`; restore it or start over in another --out';

/** Records a run's settings in its folder, or checks them against those recorded (a resumed run). */
export function checkSettings(out: string, settings: RunSettings): void {
  const path = join(out, 'settings.json');
  if (!existsSync(path)) {
    writeJsonAtomic(path, settings);
    return;
  }
  const before = readJsonFile(path, SETTINGS_FIX) as RunSettings;
  const changed = (Object.keys(settings) as (keyof RunSettings)[]).filter(
    (k) => JSON.stringify(before[k]) !== JSON.stringify(settings[k]),
  );
  if (changed.length)
    throw new InputError(
      `${out} holds a run with different settings (${changed.map((k) => `${k}: ${JSON.stringify(before[k])} → ${JSON.stringify(settings[k])}`).join(', ')}); use another --out, or the same options to resume it`,
    );
}

/** One line on stderr: a bar on a terminal, a line every 5% otherwise. */
export class Progress {
  private readonly start = Date.now();
  private lastPrinted = -1;
  constructor(
    private readonly total: number,
    private readonly alreadyDone: number,
    private readonly enabled: boolean,
  ) {}

  update(done: number, failed: number): void {
    if (!this.enabled || this.total === 0) return;
    const tty = process.stderr.isTTY;
    const pct = Math.floor((100 * done) / this.total);
    if (!tty && pct < this.lastPrinted + 5 && done < this.total) return;
    this.lastPrinted = pct;
    const rate = (done - this.alreadyDone) / ((Date.now() - this.start) / 1000);
    const eta = rate > 0 ? formatDuration((this.total - done) / rate) : '?';
    const bar = '#'.repeat(Math.round(pct / 4)).padEnd(25, '.');
    const line = `[${bar}] ${done}/${this.total} ${pct}%  ${rate.toFixed(2)} q/s  ETA ${eta}${failed ? `  failed ${failed}` : ''}`;
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
  }

  finish(): void {
    if (this.enabled && process.stderr.isTTY) process.stderr.write('\n');
  }
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

export async function runEval(o: RunOptions): Promise<RunOutcome> {
  mkdirSync(o.out, { recursive: true });
  checkSettings(o.out, o.settings);
  const resultsPath = join(o.out, 'results.jsonl');
  const existing = readResults(resultsPath, o.settings.benchmark);
  const done = new Set(existing.records.map((r) => r.id));
  const todo = o.questions.filter((q) => !done.has(q.id));
  const failed: RunOutcome['failed'] = [];
  const progress = new Progress(o.questions.length, o.questions.length - todo.length, o.progress ?? false);
  const writer = new ResultWriter(resultsPath, existing);
  let answered = 0;
  let streak = 0;
  try {
    for (const q of todo) {
      if (o.signal?.aborted) break;
      try {
        const prediction = await o.adapter.answer(
          {
            question: q,
            prompt: buildPrompt(q, o.settings.prompt),
            video: videoPath(o.videos, q),
            frames: o.settings.frames,
            sampling: o.settings.sampling,
            blind: o.settings.blind,
          },
          o.signal,
        );
        writer.append(recordOf(q, prediction));
        answered++;
        streak = 0;
      } catch (e) {
        if (e instanceof InputError || o.signal?.aborted) throw e;
        failed.push({ id: q.id, error: (e as Error).message });
        if (++streak >= (o.maxConsecutiveFailures ?? 10))
          throw new InputError(
            `${streak} questions failed in a row, the last with: ${(e as Error).message}. Fix the cause and rerun the same command to resume`,
          );
      }
      progress.update(o.questions.length - todo.length + answered, failed.length);
    }
  } catch (e) {
    if (!o.signal?.aborted) throw e;
  } finally {
    writer.close();
    progress.finish();
  }
  if (o.signal?.aborted) return { answered, failed, complete: false };
  const report = reportFor(o.out, o.settings, o.convention);
  return { answered, failed, complete: report.questions.missing === 0, report };
}

/** Re-read a run folder's results and (re)write its report. */
export function reportFor(out: string, settings: RunSettings, convention: string): Report {
  const results = readResults(join(out, 'results.jsonl'), settings.benchmark);
  const report = buildReport({
    benchmark: settings.benchmark,
    model: settings.model,
    convention,
    records: results.records,
    invalid: results.invalid,
    expected: settings.questions,
  });
  writeReport(out, report);
  return report;
}

/**
 * Joins the folders of sharded runs into one: the settings must agree except for the shard, each shard once;
 * results are concatenated in question order (a question answered by two shards is kept once).
 */
export function mergeRuns(dirs: string[], out: string, convention?: string): Report {
  if (!dirs.length) throw new InputError('eval merge needs the folders of the sharded runs');
  const runs = dirs.map((d) => {
    const path = join(d, 'settings.json');
    if (!existsSync(path)) throw new InputError(`${d} is not a run folder (no settings.json)`);
    return { dir: d, settings: readJsonFile(path, SETTINGS_FIX) as RunSettings };
  });
  const { shard: _s, questions: _q, ...first } = runs[0].settings;
  for (const r of runs.slice(1)) {
    const { shard: _s2, questions: _q2, ...rest } = r.settings;
    if (JSON.stringify(rest) !== JSON.stringify(first))
      throw new InputError(
        `${r.dir} was run with other settings than ${runs[0].dir}; only shards of one run can be merged`,
      );
  }
  const shards = runs.map((r) => r.settings.shard);
  const counts = new Set(shards.map((s) => (s ? parseShard(s).count : 1)));
  if (new Set(shards).size !== shards.length || counts.size !== 1)
    throw new InputError(`the folders hold shards ${shards.join(', ')}: give each shard of one split once`);
  const total = [...counts][0];
  const records: ResultRecord[] = [];
  const invalid: ReadResults['invalid'] = [];
  const seen = new Set<string | undefined>();
  for (const r of runs) {
    const res = readResults(join(r.dir, 'results.jsonl'), first.benchmark);
    for (const rec of res.records) {
      if (seen.has(rec.id)) continue;
      seen.add(rec.id);
      records.push(rec);
    }
    invalid.push(...res.invalid);
  }
  records.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  const expected = runs.length === total ? runs.reduce((n, r) => n + r.settings.questions, 0) : undefined;
  const settings: RunSettings = { ...first, shard: null, questions: expected ?? records.length };
  mkdirSync(out, { recursive: true });
  writeJsonAtomic(join(out, 'settings.json'), settings);
  writeFileSync(join(out, 'results.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const report = buildReport({
    benchmark: first.benchmark,
    model: first.model,
    convention: conventionFor(first.benchmark, convention),
    records,
    invalid,
    expected,
  });
  writeReport(out, report);
  return report;
}

export interface EvaluateOptions {
  benchmark: Benchmark;
  /** The benchmark folder (or its question file). */
  data: string;
  /** Root of the videos when not `data`. */
  videos?: string;
  adapter: ModelAdapter;
  /** The benchmark's questions when already loaded (else read from `data`). */
  questions?: readonly EvalQuestion[];
  /** Output folder (results.jsonl, report.json, report.md, chart.svg); an existing run there is resumed. */
  out: string;
  /** Frames per video (default 16) and how they are picked (default uniform). */
  frames?: number;
  sampling?: FrameSampling;
  /** Our model: every frame replaced by a constant grey image (the blind control). */
  blind?: boolean;
  /** Default 'official'. */
  prompt?: PromptStyle;
  /** VSI-Bench only (default 'full'). */
  subset?: VsiSubset;
  /** Scoring convention (default: the benchmark's reference one). */
  convention?: string;
  limit?: number;
  shard?: Shard;
  signal?: AbortSignal;
  progress?: boolean;
}

/** What a run is, before any answer: its settings, questions and video root (`evaluate` and the job queue). */
export interface RunPlan {
  settings: RunSettings;
  /** Every question of the benchmark (the frequency baseline's statistics). */
  all: readonly EvalQuestion[];
  /** This run's questions, limited and sharded. */
  questions: EvalQuestion[];
  videos: string;
  out: string;
  convention: string;
}

/** Loads the benchmark (unless given) and settles a run's settings; `model` is the adapter's name (its spec). */
export async function planRun(o: Omit<EvaluateOptions, 'adapter'> & { model: string }): Promise<RunPlan> {
  const subset = o.subset ?? 'full';
  const all = o.questions ?? (await loadBenchmark(o.benchmark, o.data, subset));
  const questions = selectQuestions(all, o.limit, o.shard);
  const settings: RunSettings = {
    benchmark: o.benchmark,
    model: o.model,
    data: o.data,
    subset: o.benchmark === 'vsibench' ? subset : 'test',
    frames: checkFrameCount(o.frames ?? DEFAULT_FRAME_COUNT),
    sampling: o.sampling ?? DEFAULT_FRAME_SAMPLING,
    ...(o.blind ? { blind: true } : {}),
    prompt: o.prompt ?? 'official',
    limit: o.limit ?? null,
    shard: o.shard ? `${o.shard.index}/${o.shard.count}` : null,
    questions: questions.length,
  };
  const convention = conventionFor(o.benchmark, o.convention);
  return { settings, all, questions, videos: o.videos ?? o.data, out: o.out, convention };
}

/** Loads a benchmark, answers its questions with the adapter (resumably) and scores them. */
export async function evaluate(o: EvaluateOptions): Promise<RunOutcome> {
  const plan = await planRun({ ...o, model: o.adapter.name });
  return runEval({ ...plan, adapter: o.adapter, signal: o.signal, progress: o.progress });
}
