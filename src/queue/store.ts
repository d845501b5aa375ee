// Our keys in Redis, per run: the run record (what the workers need besides the job: e.g. every question, for the
// frequency baseline), and its results — a hash (question id → record, first write wins) and a stream (the same
// records in arrival order, which the enqueuer follows). A Lua script writes both at once, so a result is stored
// exactly once however often a job is retried, and a worker retrying a job skips what is already answered.
import type { Redis } from 'ioredis';
import type { ResultRecord } from '../eval/results.ts';
import { KEY_PREFIX } from './connection.ts';

const key = (run: string, what: string) => `${KEY_PREFIX}:run:${run}:${what}`;

const RECORD_ONCE = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('XADD', KEYS[2], '*', 'record', ARGV[2])
  return 1
end
return 0`;

export class RunStore {
  constructor(
    private readonly redis: Redis,
    readonly run: string,
  ) {}

  async putRecord(value: unknown): Promise<void> {
    await this.redis.set(key(this.run, 'record'), JSON.stringify(value));
  }

  /** The run record, or undefined if Redis no longer holds the run (flushed, or restarted without persistence). */
  async getRecord<T>(): Promise<T | undefined> {
    const s = await this.redis.get(key(this.run, 'record'));
    return s === null ? undefined : (JSON.parse(s) as T);
  }

  /** Stores a question's result unless one is stored already; true if this call stored it. */
  async addResult(id: string, record: ResultRecord): Promise<boolean> {
    const added = await this.redis.eval(
      RECORD_ONCE,
      2,
      key(this.run, 'results'),
      key(this.run, 'stream'),
      id,
      JSON.stringify(record),
    );
    return added === 1;
  }

  /** Which of these question ids have a stored result. */
  async answered(ids: readonly string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const found = await this.redis.hmget(key(this.run, 'results'), ...ids);
    return new Set(ids.filter((_, i) => found[i] !== null));
  }

  /** Results stored after stream position `after` ('0' = from the start), waiting up to `blockMs` (0: not) for one. */
  async resultsAfter(after: string, blockMs: number): Promise<{ last: string; records: ResultRecord[] }> {
    const stream = key(this.run, 'stream');
    // BLOCK 0 would wait forever
    const reply = (await (blockMs > 0
      ? this.redis.xread('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', stream, after)
      : this.redis.xread('COUNT', 1000, 'STREAMS', stream, after))) as
      | [string, [string, string[]][]][]
      | null;
    const entries = reply?.[0]?.[1] ?? [];
    return {
      last: entries.length ? entries[entries.length - 1][0] : after,
      records: entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('record') + 1]) as ResultRecord),
    };
  }

  async delete(): Promise<void> {
    await this.redis.del(key(this.run, 'record'), key(this.run, 'results'), key(this.run, 'stream'));
  }
}
