// Runs ONNX Runtime sessions in a worker thread: onnxruntime-node's `run` blocks the calling thread for the
// whole run, so long runs there keep the main event loop (Ctrl-C, progress, HTTP, a queue's lock renewals)
// responsive. Results cross by transferring their buffers; feeds and models are copied. Used through
// `GraphSessions` (models/sessions.ts) with `offMainThread`.
import { Worker } from 'node:worker_threads';
import { InputError } from '../errors.ts';
import type { HostTensor } from '../tensor.ts';
import type { Feeds, RunnableSession, SessionOptions } from './session.ts';

type Request =
  | { type: 'create'; id: number; model: Uint8Array | string; options: SessionOptions }
  | { type: 'run'; id: number; session: number; feeds: Feeds; outputs?: string[] }
  | { type: 'release'; id: number; session: number };

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

type Reply = { id: number; ok: true; value: any } | { id: number; ok: false; error: string; name: string };

const buffersOf = (ts: Record<string, HostTensor>) =>
  Object.values(ts)
    .map((t) => t.data.buffer)
    .filter((b, i, all): b is ArrayBuffer => b instanceof ArrayBuffer && all.indexOf(b) === i);

/** Code of the worker: a session table driven by messages. */
async function serve(): Promise<void> {
  const { parentPort } = await import('node:worker_threads');
  const { Session } = await import('./session.ts');
  const sessions = new Map<number, Awaited<ReturnType<typeof Session.create>>>();
  let next = 0;
  parentPort!.on('message', async (req: Request) => {
    try {
      let value: unknown;
      if (req.type === 'create') {
        const s = await Session.create(req.model, req.options);
        sessions.set(next, s);
        value = { session: next++, inputNames: s.inputNames, outputNames: s.outputNames };
      } else if (req.type === 'run') {
        const out = await sessions.get(req.session)!.run(req.feeds, req.outputs);
        parentPort!.postMessage({ id: req.id, ok: true, value: out } satisfies Reply, buffersOf(out));
        return;
      } else {
        await sessions.get(req.session)?.release();
        sessions.delete(req.session);
      }
      parentPort!.postMessage({ id: req.id, ok: true, value } satisfies Reply);
    } catch (e) {
      const err = e as Error;
      parentPort!.postMessage({ id: req.id, ok: false, error: err.message, name: err.name } satisfies Reply);
    }
  });
}

/** One worker thread holding any number of sessions. Call `close()` when done. */
export class WorkerExecutor {
  private worker: Worker;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  constructor() {
    // The worker's entry is plain JS that registers the TypeScript loader, then loads this file.
    const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
    this.worker = new Worker(boot, { eval: true, workerData: { spatialMllmWorker: true } });
    this.worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id)!;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      // Errors the user must fix stay InputErrors, so the CLI still prints them as one line.
      else
        p.reject(
          r.name === 'InputError'
            ? new InputError(r.error)
            : Object.assign(new Error(r.error), { name: r.name }),
        );
    });
    this.worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }

  private call(req: DistributiveOmit<Request, 'id'>, transfer: ArrayBuffer[] = []): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  async createSession(model: Uint8Array | string, options: SessionOptions = {}): Promise<RunnableSession> {
    const info = await this.call({ type: 'create', model, options });
    return {
      inputNames: info.inputNames,
      outputNames: info.outputNames,
      // Feeds are copied (structured clone) so the caller keeps its buffers.
      run: (feeds, outputs) => this.call({ type: 'run', session: info.session, feeds, outputs }),
      release: () => this.call({ type: 'release', session: info.session }),
    };
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

const { isMainThread, workerData } = await import('node:worker_threads');
if (!isMainThread && workerData?.spatialMllmWorker) await serve();
