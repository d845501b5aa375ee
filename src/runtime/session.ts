// ONNX Runtime sessions (onnxruntime-node) with typed host-tensor I/O. The runtime knows nothing of models:
// it takes ONNX bytes or a path and runs them on a device.
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { InputError } from '../errors.ts';
import { type DType, type HostTensor, tensor } from '../tensor.ts';

export type Device = 'cpu' | 'webgpu' | 'cuda';
export const DEVICES: Device[] = ['cpu', 'webgpu', 'cuda'];

export interface SessionOptions {
  device?: Device;
  /**
   * Intra-op threads (default: the cores Node sees, os.availableParallelism()). ONNX Runtime's own default chose 1 on
   * this project's 2-core VM (a 36-layer decode step ran as slowly as with threads 1: 160 vs 95–105 ms with 2).
   */
  threads?: number;
  /** Graph optimization level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Whether idle intra-op threads spin (busy-wait) for the next parallel section (ONNX Runtime's default, true):
   * lowest latency on an idle machine, wasted cores when other processes compete for them.
   */
  spinning?: boolean;
  /**
   * Return each intermediate buffer to the system allocator when its last reader ran, instead of ONNX Runtime's
   * CPU arena and its per-shape memory pattern (both keep the largest extent they ever reached, and across the
   * differently sized buffers of a training step's forward and backward passes that extent grows well past what is
   * alive at once: 0.46 vs 0.18 GB per layer at Qwen2.5-VL-3B width, bench/sft.bench.ts).
   */
  releaseBuffers?: boolean;
  /** Record a per-node timing profile (ONNX Runtime's chrome-trace JSON) under this file prefix; see endProfiling. */
  profilePrefix?: string;
}

export type Feeds = Record<string, HostTensor>;

const ORT_TYPE: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32',
  float16: 'float16',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  int16: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

function toOrt(t: HostTensor): ort.Tensor {
  const type = ORT_TYPE[t.dtype];
  if (!type)
    throw new Error(`ONNX Runtime's JS API has no ${t.dtype} tensors: cast to float32 or float16 first`);
  return new ort.Tensor(type, t.data as any, t.shape);
}

function fromOrt(t: ort.Tensor): HostTensor {
  const dtype = (t.type === 'float16' ? 'float16' : t.type) as DType;
  let data = t.data as any;
  if (dtype === 'bool' && !(data instanceof Uint8Array))
    data = Uint8Array.from(data as ArrayLike<number>, Number);
  if (dtype === 'float16' && !(data instanceof Uint16Array))
    data = new Uint16Array(data.buffer, data.byteOffset, data.length);
  return tensor(dtype, [...t.dims], data);
}

function providers(device: Device): ort.InferenceSession.ExecutionProviderConfig[] {
  return device === 'cpu' ? ['cpu'] : [device, 'cpu'];
}

const HINT: Record<Device, string> = {
  cpu: '',
  webgpu:
    'WebGPU needs a GPU with a Vulkan driver (Linux x64 builds bundle Dawn); use --device cpu otherwise.',
  cuda: 'CUDA needs the provider binaries: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --foreground-scripts, with CUDA 12 and cuDNN 9 installed; use --device cpu otherwise.',
};

/** ONNX Runtime's messages carry source paths and lambdas; keep the readable tail of the first line. */
export function conciseOrtError(message: string): string {
  const first = message.split('\n')[0];
  const tail = first.match(
    /(?:was false\.|\] : \d+ : \w+ : |: )\s*([^:]*(?:Failed|failed|not|No |cannot).*)$/,
  );
  const text = (tail?.[1] ?? first).trim();
  return /[.!]$/.test(text) ? text : `${text}.`;
}

/** What callers of a session use; a Session and a session in a worker thread (runtime/worker.ts) both are one. */
export interface RunnableSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Feeds, outputs?: string[]): Promise<Record<string, HostTensor>>;
  /** Outputs written in place into host tensors (see Session.runInto); absent where buffers cannot be shared. */
  runInto?(feeds: Feeds, into: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

export class Session implements RunnableSession {
  private constructor(
    private readonly inner: ort.InferenceSession,
    readonly device: Device,
  ) {}

  static async create(model: Uint8Array | string, options: SessionOptions = {}): Promise<Session> {
    const device = options.device ?? 'cpu';
    if (!DEVICES.includes(device))
      throw new InputError(`unknown device '${device}': use one of ${DEVICES.join(', ')}`);
    const opts: ort.InferenceSession.SessionOptions = {
      executionProviders: providers(device),
      graphOptimizationLevel: options.optimization ?? 'all',
      logSeverityLevel: 3,
    };
    opts.intraOpNumThreads = options.threads || availableParallelism();
    if (options.profilePrefix) {
      opts.enableProfiling = true;
      opts.profileFilePrefix = options.profilePrefix;
    }
    if (options.releaseBuffers) {
      opts.enableCpuMemArena = false;
      opts.enableMemPattern = false;
    }
    // Flattened by onnxruntime-node into session config entries (onnxruntime_session_options_config_keys.h).
    if (options.spinning === false) opts.extra = { session: { intra_op: { allow_spinning: '0' } } };
    try {
      const inner =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, opts)
          : await ort.InferenceSession.create(model, opts);
      return new Session(inner, device);
    } catch (e) {
      const msg = conciseOrtError((e as Error).message);
      if (device !== 'cpu' && /provider|EP|cuda|webgpu|dawn|vulkan|adapter|library/i.test(msg))
        throw new InputError(`the ${device} execution provider could not start: ${msg} ${HINT[device]}`);
      throw e;
    }
  }

  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  private ortFeeds(feeds: Feeds): Record<string, ort.Tensor> {
    const missing = this.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new Error(`session run: missing inputs ${missing.join(', ')}`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const n of this.inputNames) ortFeeds[n] = toOrt(feeds[n]);
    return ortFeeds;
  }

  async run(feeds: Feeds, outputs?: string[]): Promise<Record<string, HostTensor>> {
    const ortFeeds = this.ortFeeds(feeds);
    const res = outputs ? await this.inner.run(ortFeeds, outputs) : await this.inner.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(res)) out[k] = fromOrt(v);
    return out;
  }

  /**
   * Runs with the outputs named in `into` written in place into those tensors' buffers (ONNX Runtime's
   * preallocated outputs: no copy, no allocation per step — the trainer's parameter/optimizer buffers); returns
   * the other outputs.
   */
  async runInto(feeds: Feeds, into: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const name of this.outputNames) fetches[name] = into[name] ? toOrt(into[name]) : null;
    const res = await this.inner.run(this.ortFeeds(feeds), fetches);
    const out: Record<string, HostTensor> = {};
    for (const name of this.outputNames) if (!into[name]) out[name] = fromOrt(res[name]);
    return out;
  }

  /** Stops a profile started by `profilePrefix` and writes it (ONNX Runtime names the file: prefix + date). */
  endProfiling(): void {
    this.inner.endProfiling();
  }

  async release(): Promise<void> {
    await this.inner.release();
  }
}

/** Whether a provider can actually start a session (runs a one-node model). */
export async function probeDevice(
  device: Device,
  model: Uint8Array,
): Promise<{ ok: boolean; error?: string }> {
  try {
    const s = await Session.create(model, { device });
    await s.release();
    return { ok: true };
  } catch (e) {
    return { ok: false, error: (e as Error).message.split('\n')[0] };
  }
}

export const ortVersion = (): string => ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown';

export function listBackends(): { name: string; bundled: boolean }[] {
  return (ort as any).listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
}
