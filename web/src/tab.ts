// The model in a browser tab: the same TypeScript pipeline and graph builder as in Node, bundled with shims for
// node:fs (an in-memory file system holding the checkpoint), node:crypto and onnxruntime-node → onnxruntime-web
// (WASM; WebGPU where the browser has it). The checkpoint's files are fetched from the server once and kept in
// the browser's Cache Storage; every computation after that runs in the tab.
import * as ort from 'onnxruntime-web';
import type { RgbImage } from '../../src/media/image.ts';
import { SpatialMllm } from '../../src/models/spatial_mllm/model.ts';
import { type AskResult, askFrames } from '../../src/pipeline/ask.ts';
import { mount } from '../shims/fs.ts';

interface ModelFile {
  name: string;
  bytes: number;
  version: string;
}

export interface TabFrame {
  index: number;
  timestamp: number;
  image: RgbImage;
}

export interface TabAskOptions {
  maxTokens?: number;
  onToken?: (text: string) => void;
}

const CACHE = 'spatial-mllm-weights';

/** A file of the checkpoint: from Cache Storage when this version is there, else from the server (then cached). */
async function fetchCached(url: string, onBytes: (n: number) => void): Promise<Uint8Array> {
  const cache = 'caches' in globalThis ? await caches.open(CACHE) : undefined;
  let r = await cache?.match(url);
  if (!r) {
    r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    await cache?.put(url, r.clone());
  }
  const bytes = new Uint8Array(await r.arrayBuffer());
  onBytes(bytes.byteLength);
  return bytes;
}

export type TabDevice = 'wasm' | 'webgpu';

/** WebGPU when the browser offers an adapter, else WASM. */
export async function bestDevice(): Promise<TabDevice> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  return gpu && (await gpu.requestAdapter().catch(() => null)) ? 'webgpu' : 'wasm';
}

export class TabModel {
  private constructor(
    readonly id: string,
    readonly device: TabDevice,
    private readonly model: SpatialMllm,
  ) {}

  static async load(
    id: string,
    o: { device?: TabDevice; onProgress?: (loaded: number, total: number) => void } = {},
  ): Promise<TabModel> {
    ort.env.wasm.wasmPaths = '/ort/';
    // Threads need a cross-origin-isolated page (SharedArrayBuffer).
    ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency) : 1;
    const base = `/v1/models/${encodeURIComponent(id)}/files`;
    const r = await fetch(base);
    const list = (await r.json()) as { data?: ModelFile[]; error?: { message: string } };
    if (!r.ok || !list.data) throw new Error(list.error?.message ?? `${base}: HTTP ${r.status}`);
    const total = list.data.reduce((a, f) => a + f.bytes, 0);
    let loaded = 0;
    await Promise.all(
      list.data.map(async (f) => {
        const bytes = await fetchCached(`${base}/${encodeURIComponent(f.name)}?v=${f.version}`, (n) => {
          loaded += n;
          o.onProgress?.(loaded, total);
        });
        mount(`/models/${id}/${f.name}`, bytes);
      }),
    );
    const device = o.device ?? (await bestDevice());
    const model = SpatialMllm.load(`/models/${id}`, { device: device === 'webgpu' ? 'webgpu' : 'cpu' });
    return new TabModel(id, device, model);
  }

  /** Greedy answer about frames decoded in the tab (all of them are given to the model). */
  ask(frames: TabFrame[], question: string, o: TabAskOptions = {}): Promise<AskResult> {
    return askFrames(this.model, frames, question, {
      maxNewTokens: o.maxTokens ?? 32,
      temperature: 0,
      onToken: o.onToken,
    });
  }
}

/** Pixels of a decoded image or video frame, exactly as the browser decoded them (no colour conversion). */
export function pixels(source: CanvasImageSource, width: number, height: number): RgbImage {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(source, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    data[3 * p] = rgba[4 * p];
    data[3 * p + 1] = rgba[4 * p + 1];
    data[3 * p + 2] = rgba[4 * p + 2];
  }
  return { width, height, data };
}

/** Frames of image files (PNG/JPEG) in order, `fps` apart. */
export async function imageFrames(urls: string[], fps = 2): Promise<TabFrame[]> {
  return Promise.all(
    urls.map(async (url, index) => {
      const bitmap = await createImageBitmap(await (await fetch(url)).blob(), {
        colorSpaceConversion: 'none',
        premultiplyAlpha: 'none',
      });
      return { index, timestamp: index / fps, image: pixels(bitmap, bitmap.width, bitmap.height) };
    }),
  );
}

/** `k` frames spread evenly over a video file, decoded by the browser's own decoder. */
export async function videoFrames(file: Blob, k: number): Promise<TabFrame[]> {
  const video = document.createElement('video');
  video.muted = true;
  video.preload = 'auto';
  video.src = URL.createObjectURL(file);
  try {
    await new Promise((resolve, reject) => {
      video.onloadeddata = resolve;
      video.onerror = () => reject(new Error('the browser cannot decode this video'));
    });
    const times = Array.from({ length: k }, (_, i) => (k === 1 ? 0 : (i * video.duration * 0.999) / (k - 1)));
    const out: TabFrame[] = [];
    for (const [index, t] of times.entries()) {
      video.currentTime = t;
      await new Promise((resolve) => {
        video.onseeked = resolve;
      });
      out.push({ index, timestamp: t, image: pixels(video, video.videoWidth, video.videoHeight) });
    }
    return out;
  } finally {
    URL.revokeObjectURL(video.src);
  }
}
