// `eval … --queue URL`: one job per video (its questions together, so that a video's frames are decoded and its
// space-aware geometry computed once, on one machine), answered by `spatial-mllm worker` processes anywhere.
// Workers store each answer in Redis as it is made (once, see store.ts); this side follows the results stream
// into the run folder's results.jsonl, exactly the lines the single-process runner writes, and writes the same
// report at the end. Rerunning the command after a crash or Ctrl-C follows the same run again.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Job, UnrecoverableError } from 'bullmq';
import { InputError } from '../errors.ts';
import type { AdapterDeps, ModelAdapter } from '../eval/adapter.ts';
import { createAdapter, MODEL_SPEC_HELP } from '../eval/adapters.ts';

import { videoPath } from '../eval/datasets.ts';
import { buildPrompt, type EvalQuestion } from '../eval/questions.ts';
import { ResultWriter, readResults, recordOf } from '../eval/results.ts';
import { checkSettings, Progress, type RunOutcome, type RunPlan, reportFor } from '../eval/runner.ts';
import { openQueue, persistenceWarning } from './connection.ts';
import { enqueue, onInterrupt, waitForJobs } from './follow.ts';
import { type EvalJob, type EvalJobSettings, evalHash, jobId, modelIdentity, sha256 } from './protocol.ts';
import { RunStore } from './store.ts';

/** What the workers need besides each job: every question of the benchmark (frequency baseline). */
interface EvalRunRecord {
  all: EvalQuestion[];
}

const MODEL_SPEC = /^(spatial-mllm:.+|baseline:(chance|frequency)|openai:.+)$/;

export interface QueueEvalOptions {
  queue: string;
  maxTokens?: number;
  endpoint?: string;
  apiKeyEnv?: string;
  progress: boolean;
}

/** The questions grouped by video, in order of first appearance. */
function byVideo(questions: readonly EvalQuestion[]): Map<string, EvalQuestion[]> {
  const groups = new Map<string, EvalQuestion[]>();
  for (const q of questions) {
    const key = `${q.dataset}/${q.scene}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(q);
  }
  return groups;
}

export async function queueEval(p: RunPlan, o: QueueEvalOptions): Promise<RunOutcome> {
  const { settings, out } = p;
  if (!MODEL_SPEC.test(settings.model))
    throw new InputError(`unknown --model ${JSON.stringify(settings.model)}; use ${MODEL_SPEC_HELP}`);
  if (settings.model.startsWith('openai:') && !o.endpoint)
    throw new InputError('--model openai:NAME needs --endpoint (workers may override it with their own)');
  const jobSettings: EvalJobSettings = {
    benchmark: settings.benchmark,
    subset: settings.subset,
    model: settings.model,
    frames: settings.frames,
    sampling: settings.sampling,
    prompt: settings.prompt,
    maxTokens: o.maxTokens ?? null,
    endpoint: o.endpoint ?? null,
    apiKeyEnv: o.apiKeyEnv ?? null,
    videos: resolve(p.videos),
  };
  const hash = evalHash(jobSettings, modelIdentity(settings.model));
  const run = sha256(JSON.stringify([hash, settings, resolve(out)])).slice(0, 16);

  mkdirSync(out, { recursive: true });
  checkSettings(out, settings);
  const resultsPath = join(out, 'results.jsonl');
  const existing = readResults(resultsPath, settings.benchmark);
  const done = new Set(existing.records.map((r) => r.id));
  const wanted = new Set(p.questions.map((q) => q.id));
  const todo = p.questions.filter((q) => !done.has(q.id));

  const h = await openQueue(o.queue);
  const reader = h.redis.duplicate(); // blocking stream reads get their own connection
  reader.on('error', () => {});
  const writer = new ResultWriter(resultsPath, existing);
  const interrupt = onInterrupt('evaluation');
  const failed: RunOutcome['failed'] = [];
  try {
    const warning = await persistenceWarning(h.redis);
    if (warning) process.stderr.write(`warning: ${warning}\n`);
    const store = new RunStore(h.redis, run);
    await store.putRecord({ all: [...p.all] } satisfies EvalRunRecord);
    const ids: string[] = [];
    for (const [video, questions] of byVideo(todo)) {
      const id = jobId(run, video);
      ids.push(id);
      await enqueue(h.queue, 'eval', id, {
        run,
        settingsHash: hash,
        settings: jobSettings,
        video,
        questions,
      });
    }
    process.stderr.write(
      `run ${run}: ${todo.length} questions of ${ids.length} videos queued on ${o.queue} ` +
        `(${p.questions.length - todo.length} already answered); start workers with: spatial-mllm worker --queue ${o.queue}\n`,
    );
    const progress = new Progress(p.questions.length, p.questions.length - todo.length, o.progress);
    const results = new RunStore(reader, run);
    let last = '0';
    const drain = async (blockMs: number) => {
      const got = await results.resultsAfter(last, blockMs);
      last = got.last;
      for (const r of got.records)
        if (r.id !== undefined && wanted.has(r.id) && !done.has(r.id)) {
          writer.append(r);
          done.add(r.id);
        }
      progress.update(done.size, failed.length);
      return got.records.length;
    };
    const complete = await waitForJobs(h.queue, ids, {
      what: 'evaluation run',
      signal: interrupt.signal,
      tick: async () => {
        await drain(500);
      },
      onFinished: async ({ job, failed: isFailed }) => {
        if (!isFailed) return;
        await drain(0); // answers the job stored before it failed
        for (const q of (job.data as EvalJob).questions)
          if (!done.has(q.id)) failed.push({ id: q.id, error: job.failedReason });
      },
    });
    while ((await drain(0)) > 0) {}
    progress.finish();
    if (!complete) return { answered: done.size - existing.records.length, failed, complete: false };
    for (const id of ids) {
      const job = await h.queue.getJob(id);
      if (job && (await job.getState()) === 'completed') await job.remove();
    }
    await store.delete();
  } finally {
    writer.close();
    interrupt.dispose();
    reader.disconnect();
    await h.close();
  }
  const report = reportFor(out, settings, p.convention);
  return {
    answered: done.size - existing.records.length,
    failed,
    complete: report.questions.missing === 0,
    report,
  };
}

/** A worker's adapters, one per model spec (the frequency baseline: per run, its statistics are the run's). */
export class EvalAnswerer {
  private readonly adapters = new Map<string, Promise<ModelAdapter>>();

  constructor(
    private readonly local: { model?: string; videos?: string; endpoint?: string },
    /** What the app wires into adapters (our model, the video decoder). */
    private readonly deps: AdapterDeps = {},
  ) {}

  /** The spec this worker answers a job's model with: its own --model if given, else the job's. */
  spec(job: EvalJob): string {
    return this.local.model ?? job.settings.model;
  }

  private adapter(job: EvalJob, all: () => Promise<EvalQuestion[]>): Promise<ModelAdapter> {
    const spec = this.spec(job);
    const s = job.settings;
    const key = spec === 'baseline:frequency' ? `${spec}#${job.run}` : spec;
    if (!this.adapters.has(key))
      this.adapters.set(
        key,
        (async () =>
          createAdapter(spec, {
            ...this.deps,
            questions: spec === 'baseline:frequency' ? await all() : [],
            endpoint: this.local.endpoint ?? s.endpoint ?? undefined,
            apiKeyEnv: s.apiKeyEnv ?? undefined,
            maxTokens: s.maxTokens ?? undefined,
          }))(),
      );
    return this.adapters.get(key)!;
  }

  /**
   * Answers the job's questions that have no stored result yet, storing each at once. A question whose video
   * cannot be read (an InputError) fails the job for good; other failures fail it after the rest are answered,
   * and the retry answers only those.
   */
  async run(job: Job<EvalJob>, store: RunStore, signal?: AbortSignal): Promise<{ answered: number }> {
    const data = job.data;
    const adapter = await this.adapter(data, async () => {
      const record = await store.getRecord<EvalRunRecord>();
      if (!record) throw new Error(`run ${data.run} is no longer in Redis`);
      return record.all;
    });
    const root = resolve(this.local.videos ?? data.settings.videos);
    const answered = await store.answered(data.questions.map((q) => q.id));
    const errors: string[] = [];
    let count = 0;
    for (const q of data.questions) {
      if (answered.has(q.id)) continue;
      try {
        const prediction = await adapter.answer(
          {
            question: q,
            prompt: buildPrompt(q, data.settings.prompt),
            video: videoPath(root, q),
            frames: data.settings.frames,
            sampling: data.settings.sampling,
          },
          signal,
        );
        await store.addResult(q.id, recordOf(q, prediction));
        count++;
      } catch (e) {
        if (e instanceof InputError) throw new UnrecoverableError(`${data.video}: ${e.message}`);
        errors.push(`${q.id}: ${(e as Error).message}`);
      }
    }
    if (errors.length)
      throw new Error(`${errors.length} of ${data.questions.length} questions failed (${errors[0]})`);
    return { answered: count };
  }

  async close(): Promise<void> {
    for (const a of this.adapters.values()) await (await a.catch(() => undefined))?.close?.();
  }

  /** The job's settings hash as this worker would compute it (its own model folder and program version). */
  hash(job: EvalJob): string {
    return evalHash(job.settings, modelIdentity(this.spec(job)));
  }
}
