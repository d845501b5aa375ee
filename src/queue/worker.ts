// `spatial-mllm worker --queue URL`: takes jobs of any kind from the queue, on as many machines as wanted. BullMQ
// holds a lock on each running job and renews it while the worker lives; a worker killed mid-job stops renewing,
// and once the lock expires another worker's stall check puts the job back (answers already stored are skipped).
// A job this worker must not answer — settings hash differing from its own (another checkpoint, another program
// version), or a model it cannot load — is put back untouched and the worker stops with the reason.
import { DelayedError, type Job, type Queue, Worker } from 'bullmq';
import { InputError } from '../errors.ts';
import type { AdapterDeps } from '../eval/adapter.ts';
import { connectionOptions, openQueue, QUEUE_NAME } from './connection.ts';
import { EvalAnswerer } from './eval_queue.ts';
import { GeometryMaker, type LoadGeometryPipeline } from './geometry_queue.ts';
import type { EvalJob, GeometryJob, JobKind, SynthJob } from './protocol.ts';
import { RunStore } from './store.ts';
import { synthJob, synthJobHash } from './synth_queue.ts';

export interface WorkerOptions {
  queue: string;
  concurrency: number;
  /** Seconds a job stays locked without renewal before another worker may take it over. */
  lockSeconds: number;
  /** Local overrides of the paths and model the jobs name (default: the enqueuer's, for shared storage). */
  model?: string;
  videos?: string;
  out?: string;
  endpoint?: string;
  /** Exit once the queue has had nothing waiting, delayed or running for this many seconds (batch jobs). */
  idleExit?: number;
  log?: (line: string) => void;
}

/** Calls `onIdle` once the queue has had no job waiting, delayed or running (anywhere) for `seconds`. */
function exitWhenIdle(queue: Queue, seconds: number, onIdle: () => void): NodeJS.Timeout {
  let since = Date.now();
  let checking = false;
  return setInterval(async () => {
    if (checking) return;
    checking = true;
    try {
      const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
      if (Object.values(counts).some((n) => n > 0)) since = Date.now();
      else if (Date.now() - since >= seconds * 1000) onIdle();
    } catch {
      since = Date.now(); // Redis away: not idle
    } finally {
      checking = false;
    }
  }, 500);
}

/** A job this worker refuses: put back for another worker, and this one stops. */
class Refusal extends Error {}

/** What the app wires in: eval adapters' model and video decoder, the pipeline for geometry jobs. */
export interface WorkerDeps {
  eval?: AdapterDeps;
  geometry?: LoadGeometryPipeline;
}

export async function runWorker(o: WorkerOptions, deps: WorkerDeps = {}): Promise<void> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const h = await openQueue(o.queue); // fails clearly if Redis is not there
  const answerer = new EvalAnswerer(o, deps.eval);
  const geometry = new GeometryMaker(o, deps.geometry);
  const hashes = new Map<string, string>();
  let refused: string | undefined;

  /** This worker's hash of a job's settings, computed once per run. */
  const ownHash = (job: Job): string => {
    const run = (job.data as { run: string }).run;
    if (!hashes.has(run)) {
      const kind = job.name as JobKind;
      hashes.set(
        run,
        kind === 'eval'
          ? answerer.hash(job.data as EvalJob)
          : kind === 'geometry'
            ? geometry.hash(job.data as GeometryJob)
            : synthJobHash(job.data as SynthJob),
      );
    }
    return hashes.get(run)!;
  };

  const handle = async (job: Job, token?: string): Promise<unknown> => {
    const started = Date.now();
    try {
      const theirs = (job.data as { settingsHash: string }).settingsHash;
      const mine = ownHash(job);
      if (mine !== theirs)
        throw new Refusal(
          `job ${job.id} (${job.name}) was enqueued with settings ${theirs}, this worker computes ${mine}: ` +
            'start workers with the same checkpoint (--model) and the same spatial-mllm version as the enqueuer',
        );
      const store = new RunStore(h.redis, (job.data as { run: string }).run);
      const result =
        job.name === 'eval'
          ? await answerer.run(job as Job<EvalJob>, store)
          : job.name === 'geometry'
            ? await geometry.run(job as Job<GeometryJob>)
            : job.name === 'synth'
              ? await synthJob(job as Job<SynthJob>, o.out, log)
              : undefined;
      if (result === undefined) throw new Refusal(`job ${job.id} is of unknown kind ${job.name}`);
      log(`${job.name} ${job.id} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return result;
    } catch (e) {
      // a model this worker cannot load, a folder it does not have: its own problem, not the job's
      if (!(e instanceof Refusal) && !(e instanceof InputError)) {
        log(`${job.name} ${job.id} failed (attempt ${job.attemptsMade + 1}): ${(e as Error).message}`);
        throw e;
      }
      refused = `refused ${job.name} job ${job.id}: ${(e as Error).message}`;
      await job.moveToDelayed(Date.now() + 1000, token);
      close();
      throw new DelayedError();
    }
  };

  const worker = new Worker(QUEUE_NAME, handle, {
    connection: connectionOptions(o.queue),
    concurrency: o.concurrency,
    lockDuration: o.lockSeconds * 1000,
    stalledInterval: Math.max(1000, (o.lockSeconds * 1000) / 2),
    // a job whose worker died this often is failed rather than handed on forever
    maxStalledCount: 3,
  });
  worker.on('error', () => {}); // connection errors while Redis restarts; ioredis reconnects by itself
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= worker.close();
  };
  const stop = () => {
    log(
      'stopping: finishing the running jobs (Ctrl-C again to abandon them; they are then retried elsewhere)',
    );
    process.once('SIGINT', () => process.exit(130));
    close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const idle =
    o.idleExit === undefined
      ? undefined
      : exitWhenIdle(h.queue, o.idleExit, () => {
          log(`the queue has been empty for ${o.idleExit} s: stopping`);
          close();
        });
  log(`worker on ${o.queue} (${o.concurrency} at a time, lock ${o.lockSeconds} s); Ctrl-C to stop`);
  await worker.waitUntilReady();
  await new Promise<void>((resolve) => worker.once('closed', () => resolve()));
  await closing;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (idle) clearInterval(idle);
  await answerer.close();
  await geometry.close();
  await h.close();
  if (refused) throw new InputError(refused);
}
