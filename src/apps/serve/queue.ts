// A bounded admission queue per loaded model: at most `concurrency` jobs run, at most `maxWaiting` wait; one more
// is refused at once (the server answers 429 with Retry-After). A waiting job whose signal aborts (the client went
// away) leaves the queue without ever running.

export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor(readonly retryAfterSeconds: number) {
    super('the model is busy and its queue is full');
  }
}

type Waiter = () => void;

export class JobQueue {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  /** Recent job durations (seconds), for the Retry-After estimate. */
  private readonly recent: number[] = [];

  constructor(
    readonly concurrency = 1,
    readonly maxWaiting = 4,
  ) {
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new Error('concurrency must be ≥ 1');
    if (!(Number.isInteger(maxWaiting) && maxWaiting >= 0)) throw new Error('maxWaiting must be ≥ 0');
  }

  get stats() {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** Seconds until a slot is likely free: mean recent job time × jobs ahead / slots, at least 1. */
  retryAfter(): number {
    const mean = this.recent.length ? this.recent.reduce((a, b) => a + b, 0) / this.recent.length : 1;
    return Math.max(1, Math.ceil((mean * (this.waiting.length + 1)) / this.concurrency));
  }

  /** True when one more job would be refused. */
  get full(): boolean {
    return this.running >= this.concurrency && this.waiting.length >= this.maxWaiting;
  }

  /**
   * Runs `job` when a slot is free. Throws QueueFullError synchronously when the queue is full (so a caller can
   * answer 429 before it commits to a response); the promise rejects with the signal's reason when the signal
   * aborts while the job waits.
   */
  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.full) throw new QueueFullError(this.retryAfter());
    return this.enter(signal).then(async () => {
      const t0 = performance.now();
      try {
        return await job();
      } finally {
        this.recent.push((performance.now() - t0) / 1000);
        if (this.recent.length > 8) this.recent.shift();
        // The slot passes straight to the next waiter (running stays the same) or is freed.
        const next = this.waiting.shift();
        if (next) next();
        else this.running--;
      }
    });
  }

  private enter(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(start);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      const start: Waiter = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(start);
    });
  }
}
