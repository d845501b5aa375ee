// One session per model graph: graphs are built lazily under a key ("vision:8,34,46", "text:…"), hashed once,
// and served from a session cache keyed by graph hash + options; graphs over 2 GB of weights are staged with
// external data in a temp folder that is removed once ONNX Runtime has read it (or kept in a store).
import * as E from '../engine/index.ts';
import { SessionCache } from '../runtime/cache.ts';
import { type Device, type RunnableSession, Session } from '../runtime/session.ts';
import { WorkerExecutor } from '../runtime/worker.ts';

export interface GraphSessionOptions {
  device?: Device;
  threads?: number;
  lowering?: E.Lowering;
  /** Where large graphs are staged (default: the OS temp folder). */
  tempDir?: string;
  /**
   * Run the sessions in a worker thread, so that the event loop stays free while a long run computes (a run
   * otherwise blocks it: no Ctrl-C handling, progress or lock renewal of a job queue until it returns). Costs a
   * copy of each run's feeds.
   */
  offMainThread?: boolean;
  /** Keep large serialized graphs here across processes (E.storedModel): later sessions skip quantizing. */
  store?: E.ModelStore;
}

export class GraphSessions {
  private worker?: WorkerExecutor;
  private cache = new SessionCache<RunnableSession>((m, o) => {
    if (!this.options.offMainThread) return Session.create(m, o);
    this.worker ??= new WorkerExecutor();
    return this.worker.createSession(m, o);
  });
  private byKey = new Map<string, Promise<RunnableSession>>();

  constructor(
    private readonly weights: E.WeightSource,
    readonly options: GraphSessionOptions = {},
  ) {}

  /** The session of the graph `build()` makes for `key` (built, serialized and compiled on first use only). */
  get(key: string, build: () => E.Graph): Promise<RunnableSession> {
    let s = this.byKey.get(key);
    if (!s) {
      const graph = build();
      const lowering = this.options.lowering ?? 'fused';
      const { device, threads, tempDir, store } = this.options;
      const hash = E.graphHash(graph, { lowering });
      s = this.cache.get(hash, { device, threads }, () => {
        const o = { weights: this.weights, lowering, tempDir };
        return store ? E.storedModel(graph, store, { ...o, hash }) : E.sessionModel(graph, o);
      });
      this.byKey.set(key, s);
    }
    return s;
  }

  async release(): Promise<void> {
    this.byKey.clear();
    await this.cache.clear();
    await this.worker?.close();
    this.worker = undefined;
  }
}
