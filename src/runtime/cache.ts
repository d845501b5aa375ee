// Session cache keyed by graph hash + session options: building and optimizing an ONNX Runtime session is the
// slow part of a first run, so each distinct (graph, device, options) gets one session per process.
import type { Session, SessionOptions } from './session.ts';

export type ModelSource = Uint8Array | string | { model: Uint8Array | string; cleanup(): void };

export class SessionCache<S extends Pick<Session, 'release'> = Session> {
  private sessions = new Map<string, Promise<S>>();

  constructor(private readonly create: (model: Uint8Array | string, options: SessionOptions) => Promise<S>) {}

  static key(graphHash: string, options: SessionOptions): string {
    return `${graphHash}:${options.device ?? 'cpu'}:${options.threads ?? 0}:${options.optimization ?? 'all'}:${options.spinning ?? true}`;
  }

  /**
   * The cached session for this key, or one created from `model()` (called only on a miss). A staged model
   * (`{model, cleanup}`, e.g. a file with external data) is cleaned up once the session has read it.
   */
  get(graphHash: string, options: SessionOptions, model: () => ModelSource): Promise<S> {
    const key = SessionCache.key(graphHash, options);
    let s = this.sessions.get(key);
    if (!s) {
      const m = model();
      const staged = typeof m === 'object' && !(m instanceof Uint8Array) ? m : undefined;
      s = this.create(staged ? staged.model : (m as Uint8Array | string), options);
      if (staged) s.then(staged.cleanup, staged.cleanup);
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  get size(): number {
    return this.sessions.size;
  }

  async clear(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).release();
  }
}
