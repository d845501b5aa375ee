// ONNX Runtime sessions (onnxruntime-node) with typed host-tensor I/O. The runtime knows nothing of models:
// it takes ONNX bytes or a path and runs them on a device.
import ort from 'onnxruntime-node';
import { InputError } from '../errors.ts';
import { type DType, type HostTensor, tensor } from '../tensor.ts';

export type Device = 'cpu' | 'webgpu' | 'cuda';
export const DEVICES: Device[] = ['cpu', 'webgpu', 'cuda'];

export interface SessionOptions {
  device?: Device;
  /** Intra-op threads (default: ONNX Runtime's choice, all cores). */
  threads?: number;
  /** Graph optimization level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Whether idle intra-op threads spin (busy-wait) for the next parallel section (ONNX Runtime's default, true):
   * lowest latency on an idle machine, wasted cores when other processes compete for them.
   */
  spinning?: boolean;
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

export function toOrt(t: HostTensor): ort.Tensor {
  const type = ORT_TYPE[t.dtype];
  if (!type)
    throw new Error(`ONNX Runtime's JS API has no ${t.dtype} tensors: cast to float32 or float16 first`);
  return new ort.Tensor(type, t.data as any, t.shape);
}

export function fromOrt(t: ort.Tensor): HostTensor {
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

export class Session {
  private constructor(
    readonly inner: ort.InferenceSession,
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
    if (options.threads) opts.intraOpNumThreads = options.threads;
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

  /**
   * Runs the model. `outputs`: the outputs to compute (all by default), or outputs bound to host tensors that ONNX
   * Runtime writes into (shape and dtype must match; null = allocated as usual). A bound output may be the very
   * tensor fed as an input (e.g. a KV cache buffer updated in place); it comes back as that same tensor.
   */
  async run(
    feeds: Feeds,
    outputs?: string[] | Record<string, HostTensor | null>,
  ): Promise<Record<string, HostTensor>> {
    const missing = this.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new Error(`session run: missing inputs ${missing.join(', ')}`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const n of this.inputNames) ortFeeds[n] = toOrt(feeds[n]);
    let fetches: string[] | Record<string, ort.Tensor | null> | undefined;
    if (outputs && !Array.isArray(outputs)) {
      fetches = {};
      for (const [n, t] of Object.entries(outputs)) fetches[n] = t && toOrt(t);
    } else fetches = outputs;
    const res = fetches ? await this.inner.run(ortFeeds, fetches) : await this.inner.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(res)) {
      const bound = outputs && !Array.isArray(outputs) ? outputs[k] : null;
      out[k] = bound ?? fromOrt(v);
    }
    return out;
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
