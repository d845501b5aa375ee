// The one Redis a scaled-out run uses: its URL, a probe that fails clearly when nobody listens, the BullMQ queue
// every command shares, and the persistence check (a Redis restarted without persistence loses the queue).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { InputError } from '../errors.ts';

/** One queue for every kind of job (eval, synth, geometry): a worker serves whatever is enqueued. */
export const QUEUE_NAME = 'spatial-mllm';

/** Keys of our own (run records, results) live beside BullMQ's `bull:` keys. */
export const KEY_PREFIX = 'spatial-mllm';

export function parseQueueUrl(url: string): string {
  const m = /^rediss?:\/\/(?:[^@/]*@)?[^/:]+(?::(\d+))?(?:\/(\d+))?\/?$/.exec(url);
  if (!m)
    throw new InputError(
      `--queue ${url}: give a Redis URL such as redis://127.0.0.1:6379/0 (host, port, database number)`,
    );
  return url;
}

/**
 * Connection options: commands wait through a Redis restart instead of failing (BullMQ workers need
 * maxRetriesPerRequest null), reconnecting every second at most.
 */
export function connectionOptions(url: string) {
  return {
    url,
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(100 * times, 1000),
  };
}

/** Connects once without retrying, so that a wrong URL or a Redis that is not running is said at once. */
export async function probe(url: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 5000 });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    throw new InputError(
      `cannot reach Redis at ${url} (${(e as Error).message}): start it there (e.g. \`redis-server --appendonly yes\`) or fix --queue`,
    );
  } finally {
    r.disconnect();
  }
}

export interface QueueHandle {
  queue: Queue;
  /** For our own keys. */
  redis: Redis;
  close(): Promise<void>;
}

export async function openQueue(url: string): Promise<QueueHandle> {
  parseQueueUrl(url);
  await probe(url);
  const queue = new Queue(QUEUE_NAME, { connection: connectionOptions(url) });
  const redis = new Redis(url, connectionOptions(url));
  // ioredis reports each failed reconnect as an 'error' event; it keeps retrying, so they are only noise
  queue.on('error', () => {});
  redis.on('error', () => {});
  return {
    queue,
    redis,
    close: async () => {
      await queue.close();
      redis.disconnect();
    },
  };
}

/** A warning when Redis would lose the run on restart (no append-only file), else null. */
export async function persistenceWarning(redis: Redis): Promise<string | null> {
  try {
    const [, value] = (await redis.config('GET', 'appendonly')) as [string, string];
    if (value === 'yes') return null;
  } catch {
    // managed Redis services often disable CONFIG; say what to check
  }
  return (
    'Redis persistence (appendonly) is off or unknown: if Redis restarts mid-run the queue is lost. ' +
    'Start it with `redis-server --appendonly yes`, or after a restart rerun the same command: the results ' +
    'already written are kept and only the missing work is enqueued again.'
  );
}
