// The enqueuing side of every queued command: add a run's jobs (again, after a crash or a failure, without
// duplicating those still queued or running) and wait until each has completed or finally failed.
import type { Job, JobsOptions, Queue } from 'bullmq';
import { InputError } from '../errors.ts';
import type { JobData, JobKind } from './protocol.ts';

/** Retries of a job that failed (a dead endpoint, an out-of-memory); a worker killed mid-job is not a failure. */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: false,
  removeOnFail: false,
};

/**
 * Adds a job unless one with its id is waiting, delayed or running (a previous enqueuer's, which the workers are
 * still on); a finished one of an earlier attempt of the run is replaced.
 */
export async function enqueue<K extends JobKind>(
  queue: Queue,
  kind: K,
  id: string,
  data: JobData[K],
): Promise<void> {
  const old = await queue.getJob(id);
  if (old) {
    const state = await old.getState();
    if (state !== 'completed' && state !== 'failed') return;
    await old.remove();
  }
  await queue.add(kind, data, { ...JOB_OPTIONS, jobId: id });
}

export interface FinishedJob {
  job: Job;
  failed: boolean;
}

export const lostRunMessage = (what: string) =>
  `Redis no longer holds this ${what} (it was restarted without persistence, or flushed). Rerun the same command: ` +
  'what is already written is kept and only the missing work is enqueued again (and start Redis with --appendonly yes).';

/**
 * Waits for the jobs, calling `onFinished` once per job as it completes or finally fails and `tick` between polls
 * (which may block for a while reading results). Stops early, leaving the jobs to the workers, when aborted.
 */
export async function waitForJobs(
  queue: Queue,
  ids: readonly string[],
  o: {
    what: string;
    onFinished(f: FinishedJob): void | Promise<void>;
    tick(): Promise<void>;
    signal?: AbortSignal;
  },
): Promise<boolean> {
  const pending = new Set(ids);
  while (pending.size && !o.signal?.aborted) {
    await o.tick();
    const states = await Promise.all(
      [...pending].map(async (id) => [id, await queue.getJobState(id)] as const),
    );
    for (const [id, state] of states) {
      if (state === 'unknown') throw new InputError(lostRunMessage(o.what));
      if (state !== 'completed' && state !== 'failed') continue;
      const job = await queue.getJob(id);
      if (!job) throw new InputError(lostRunMessage(o.what));
      pending.delete(id);
      await o.onFinished({ job, failed: state === 'failed' });
    }
  }
  return pending.size === 0;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stop following on Ctrl-C; the workers go on, and rerunning the command follows the run again. */
export function onInterrupt(what: string): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = () => {
    process.stderr.write(
      `\ninterrupted: the workers go on with the ${what}; rerun the same command to follow it and collect the results\n`,
    );
    controller.abort();
  };
  process.once('SIGINT', handler);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', handler) };
}
