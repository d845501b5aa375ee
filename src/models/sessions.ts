// One session per model graph: graphs are built lazily under a key ("vision:8,34,46", "text:…"), hashed once,
// and served from a session cache keyed by graph hash + options; graphs over 2 GB of weights are staged with
// external data in a temp folder that is removed once ONNX Runtime has read it.
import * as E from '../engine/index.ts';
import { SessionCache } from '../runtime/cache.ts';
import { type Device, Session } from '../runtime/session.ts';

export interface GraphSessionOptions {
  device?: Device;
  threads?: number;
  lowering?: E.Lowering;
  /** Where large graphs are staged (default: the OS temp folder). */
  tempDir?: string;
}

export class GraphSessions {
  private cache = new SessionCache((m, o) => Session.create(m, o));
  private byKey = new Map<string, Promise<Session>>();

  constructor(
    private readonly weights: E.WeightSource,
    readonly options: GraphSessionOptions = {},
  ) {}

  /** The session of the graph `build()` makes for `key` (built, serialized and compiled on first use only). */
  get(key: string, build: () => E.Graph): Promise<Session> {
    let s = this.byKey.get(key);
    if (!s) {
      const graph = build();
      const lowering = this.options.lowering ?? 'fused';
      const { device, threads, tempDir } = this.options;
      s = this.cache.get(E.graphHash(graph, { lowering }), { device, threads }, () =>
        E.sessionModel(graph, { weights: this.weights, lowering, tempDir }),
      );
      this.byKey.set(key, s);
    }
    return s;
  }

  async release(): Promise<void> {
    this.byKey.clear();
    await this.cache.clear();
  }
}
