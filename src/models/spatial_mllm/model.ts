// Spatial-MLLM as one object: a checkpoint folder → its processor, the Qwen2.5-VL sessions (vision tower, text
// decoder), the fusion sessions (VGGT aggregator → 3D merge → connector, one per video grid) and, on demand,
// VGGT with its heads. `encodeVideo` → fused visual tokens, `forward` → logits, `generate` → tokens (streamed by
// callback or async iterator, stoppable by an AbortSignal). Upstream: THU-SI/Spatial-MLLM
// `src/qwenvl/model/spatial_mllm.py` (SpatialMLLMForConditionalGeneration) and `src/inference.py`.
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type * as E from '../../engine/index.ts';
import { InputError } from '../../errors.ts';
import { readJsonFile } from '../../json.ts';
import type { Device, RunnableSession } from '../../runtime/session.ts';
import { type HostTensor, tensor } from '../../tensor.ts';
import { quantizedSource } from '../../weights/quantized_source.ts';
import { type GenerateResult, generateQwen, type TokenSampling } from '../generate.ts';
import type { LinearFormat } from '../layers.ts';
import { ropeIndexConfig } from '../qwen2_5_vl/config.ts';
import { type ForwardInput, type ForwardOutput, Qwen25VLModel } from '../qwen2_5_vl/model.ts';
import { type ModelInputs, type ProcessedVideo, Qwen25VLProcessor } from '../qwen2_5_vl/processor.ts';
import type { GridThw } from '../qwen2_5_vl/rope_index.ts';
import { GraphSessions } from '../sessions.ts';
import { vggtWeights } from '../vggt/load.ts';
import { VggtModel } from '../vggt/model.ts';
import { openSpatialMllm, type SpatialMllmCheckpoint } from './checkpoint.ts';
import { DEFAULT_MAX_NEW_TOKENS, SPATIAL_MLLM_SAMPLING } from './config.ts';
import { buildSpatialFusion } from './fusion.ts';
import type { SpatialResolution } from './spatial_encoder.ts';

export interface SpatialMllmOptions {
  device?: Device;
  lowering?: E.Lowering;
  threads?: number;
  /** Sessions in a worker thread (see GraphSessionOptions.offMainThread): keeps the event loop free during long
   * runs (Ctrl-C, progress, a server's other requests). */
  offMainThread?: boolean;
  /** Block-quantize the linear layers of Qwen's language model and the connector (MatMulNBits). */
  quant?: { bits: 4 | 8; blockSize: number; accuracyLevel?: 0 | 1 | 2 | 3 | 4 };
  /** How the encoders (Qwen's ViT, VGGT's aggregator) store their linear weights (default float32; VGGT's heads
   * stay float32). Quantized from the checkpoint at load, like `quant`. */
  encoders?: LinearFormat;
  /**
   * A folder where the large prepared graphs (quantized weights included) are kept across processes, so that the
   * next process on the same checkpoint and options skips preparing them (E.storedModel). The CLI's default:
   * ~/.cache/spatial-mllm/sessions for int4/int8.
   */
  sessionStore?: string;
  /** The resolution the spatial encoder sees (default `full`, as upstream; `half` is an approximation for CPUs). */
  spatialResolution?: SpatialResolution;
}

/**
 * What the stored graphs of a checkpoint depend on besides their structure: its weight files (real path, size,
 * modification time) and the options that transform weights.
 */
function storeOf(dir: string, o: SpatialMllmOptions): E.ModelStore | undefined {
  if (!o.sessionStore) return undefined;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors') || f === 'config.json')
    .sort()
    .map((f) => {
      const st = statSync(join(dir, f));
      return [realpathSync(join(dir, f)), st.size, st.mtimeMs];
    });
  const identity = JSON.stringify({ files, quant: o.quant, encoders: o.encoders, lowering: o.lowering });
  return { dir: o.sessionStore, identity };
}

/** The checkpoint's weights as the sessions read them: quantized on the fly where a graph asks for it. */
const sessionWeights = <W extends E.WeightSource>(w: W, o: SpatialMllmOptions) =>
  o.quant || o.encoders?.quant || o.encoders?.w8a8 ? quantizedSource(w, o.quant ?? o.encoders?.quant) : w;

/** One generated token and the text it adds (multi-byte characters come whole, once complete). */
export interface GeneratedToken {
  id: number;
  index: number;
  text: string;
}

export interface GenerationOptions extends TokenSampling {
  /** Default 1024, as upstream. */
  maxNewTokens?: number;
  /** Default: the config's EOS ids, <|im_end|> and <|endoftext|>. */
  stopTokens?: readonly number[];
  /** Precomputed visual features in prompt order (default: embedVision(inputs)). */
  visualEmbeds?: HostTensor;
  onToken?: (token: GeneratedToken) => void;
  signal?: AbortSignal;
  /** Keep every step's raw logits (parity tests). */
  keepLogits?: boolean;
}

export interface Generation extends GenerateResult {
  /** The answer: generated text without special tokens, trimmed. */
  text: string;
  promptTokens: number;
  /** Prompt → first token, and first → last token, in seconds. */
  prefillSeconds: number;
  decodeSeconds: number;
  /** Decode steps (tokens after the first) per second. */
  tokensPerSecond: number;
}

/** What generation starts from: processor output (or the same fields built by hand). */
export type PromptInputs = Pick<ModelInputs, 'inputIds' | 'positionIds' | 'ropeDelta'> &
  Partial<Pick<ModelInputs, 'pixelValues' | 'imageGridThw' | 'pixelValuesVideos' | 'videos'>>;

const rows = (t: HostTensor, start: number, count: number): HostTensor => {
  const cols = t.shape[1];
  return tensor(t.dtype, [count, cols], t.data.subarray(start * cols, (start + count) * cols));
};

function concatRows(parts: HostTensor[]): HostTensor {
  if (parts.length === 1) return parts[0];
  const cols = parts[0].shape[1];
  const out = tensor(parts[0].dtype, [parts.reduce((n, p) => n + p.shape[0], 0), cols]);
  let at = 0;
  for (const p of parts) {
    out.data.set(p.data as never, at);
    at += p.data.length;
  }
  return out;
}

/** generation_config.json's max_new_tokens, the default answer length (else upstream's 1024); the small model
 * (src/train/small) sets 12, as its answers are a letter or a few digits. */
function generationLimit(dir: string): number {
  const path = join(dir, 'generation_config.json');
  const v = existsSync(path)
    ? (readJsonFile(path, 'fix the file or remove it') as { max_new_tokens?: unknown }).max_new_tokens
    : undefined;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : DEFAULT_MAX_NEW_TOKENS;
}

export class SpatialMllm {
  private readonly fusion: GraphSessions;
  private vggt?: VggtModel;
  /** The default answer length: generation_config.json's max_new_tokens, else upstream's 1024. */
  readonly maxNewTokens: number;

  private constructor(
    readonly dir: string,
    readonly checkpoint: SpatialMllmCheckpoint,
    readonly qwen: Qwen25VLModel,
    readonly processor: Qwen25VLProcessor,
    readonly options: SpatialMllmOptions,
    private readonly store?: E.ModelStore,
  ) {
    this.fusion = new GraphSessions(sessionWeights(checkpoint.weights, options), { ...options, store });
    this.maxNewTokens = generationLimit(dir);
  }

  /** Opens a checkpoint folder as published (safetensors, config.json, tokenizer files); nothing is compiled
   * until first use. Missing or unexpected tensors are refused with their list. */
  static load(dir: string, options: SpatialMllmOptions = {}): SpatialMllm {
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new InputError(
        `model folder not found: ${dir} (pass --model with a Spatial-MLLM checkpoint folder)`,
      );
    const checkpoint = openSpatialMllm(dir);
    const format: LinearFormat = { dtype: 'float32', quant: options.quant };
    const store = storeOf(dir, options);
    const qwen = Qwen25VLModel.load(dir, {
      ...options,
      store,
      format,
      visionFormat: options.encoders,
      weights: sessionWeights(checkpoint.weights, options),
    });
    const processor = Qwen25VLProcessor.load(
      dir,
      ropeIndexConfig(checkpoint.config.qwen),
      checkpoint.config.qwen.vision,
    );
    return new SpatialMllm(dir, checkpoint, qwen, processor, options, store);
  }

  get config() {
    return this.checkpoint.config;
  }

  /** Default stop tokens: the config's EOS ids, <|im_end|> and <|endoftext|>. */
  get stopTokens(): number[] {
    const s = this.processor.tokenizer.special;
    return [...new Set([...this.config.qwen.eosTokenIds, s.imEnd, s.endOfText])];
  }

  /** One video's fused visual tokens [t·h·w/4, hidden]: Qwen's ViT on its patches + connector(VGGT on its frames). */
  async encodeVideo(video: ProcessedVideo, pixelValues: HostTensor): Promise<HostTensor> {
    const videoEmbeds = await this.qwen.encodeVision(pixelValues, video.grid);
    const { width: w, height: h } = video.frames[0];
    const frames = tensor('uint8', [video.frames.length, h, w, 3]);
    video.frames.forEach((img, i) => {
      frames.data.set(img.data, i * h * w * 3);
    });
    const fusion = await this.fusionSession(video.grid);
    return (await fusion.run({ frames, video_embeds: videoEmbeds })).fused_video_embeds;
  }

  /** Visual features of all images (Qwen ViT) and videos (fused) of a prompt, in prompt order. */
  async embedVision(inputs: PromptInputs): Promise<HostTensor | undefined> {
    const { visionStart, imagePad } = this.processor.tokenizer.special;
    const perRow = (g: GridThw) => g[0] * g[1] * g[2];
    const images: HostTensor[] = [];
    let row = 0;
    for (const g of inputs.imageGridThw ?? []) {
      images.push(await this.qwen.encodeVision(rows(inputs.pixelValues!, row, perRow(g)), g));
      row += perRow(g);
    }
    const videos: HostTensor[] = [];
    row = 0;
    for (const v of inputs.videos ?? []) {
      videos.push(await this.encodeVideo(v, rows(inputs.pixelValuesVideos!, row, perRow(v.grid))));
      row += perRow(v.grid);
    }
    // Blocks in the order they appear: each <|vision_start|> is followed by its kind of pad token.
    const ordered: HostTensor[] = [];
    const ids = inputs.inputIds;
    for (let i = 0; i + 1 < ids.length; i++)
      if (ids[i] === visionStart) {
        const next = ids[i + 1] === imagePad ? images.shift() : videos.shift();
        if (next) ordered.push(next);
      }
    ordered.push(...images, ...videos);
    return ordered.length ? concatRows(ordered) : undefined;
  }

  /** The language model on a prompt (or one decode step with `cache`). */
  forward(input: ForwardInput): Promise<ForwardOutput> {
    return this.qwen.forward(input);
  }

  /** Generates from processor output until a stop token, maxNewTokens or the signal. */
  async generate(inputs: PromptInputs, o: GenerationOptions = {}): Promise<Generation> {
    const visualEmbeds = o.visualEmbeds ?? (await this.embedVision(inputs));
    const stops = new Set(o.stopTokens ?? this.stopTokens);
    const tokens: number[] = [];
    let shown = '';
    const start = performance.now();
    let first = start;
    const result = await generateQwen(
      this.qwen,
      {
        inputIds: inputs.inputIds,
        positionIds: inputs.positionIds,
        ropeDelta: inputs.ropeDelta,
        visualEmbeds,
      },
      {
        ...SPATIAL_MLLM_SAMPLING,
        ...definedOnly(o),
        maxNewTokens: o.maxNewTokens ?? this.maxNewTokens,
        stopTokens: [...stops],
        signal: o.signal,
        keepLogits: o.keepLogits,
        onToken: (id, index) => {
          if (index === 0) first = performance.now();
          if (!stops.has(id)) tokens.push(id);
          // Text so far minus what was shown; held back while it ends inside a multi-byte character.
          const text = this.processor.decode(tokens);
          const add = text.endsWith('\uFFFD') ? '' : text.slice(shown.length);
          if (add) shown = text;
          o.onToken?.({ id, index, text: add });
        },
      },
    );
    const end = performance.now();
    const decodeSeconds = result.tokens.length ? (end - first) / 1000 : 0;
    return {
      ...result,
      text: this.processor.decode(tokens).trim(),
      promptTokens: inputs.inputIds.length,
      prefillSeconds: ((result.tokens.length ? first : end) - start) / 1000,
      decodeSeconds,
      tokensPerSecond: decodeSeconds > 0 ? (result.tokens.length - 1) / decodeSeconds : 0,
    };
  }

  /** generate() as an async iterator of tokens; its return value is the Generation. Breaking out stops it. */
  async *stream(inputs: PromptInputs, o: GenerationOptions = {}): AsyncGenerator<GeneratedToken, Generation> {
    const stop = new AbortController();
    const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
    const queue: GeneratedToken[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const run = this.generate(inputs, {
      ...o,
      signal,
      onToken: (t) => {
        queue.push(t);
        o.onToken?.(t);
        wake?.();
      },
    }).finally(() => {
      done = true;
      wake?.();
    });
    run.catch(() => {}); // rethrown below
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (done) return await run;
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    } finally {
      stop.abort();
    }
  }

  /** VGGT with its heads from the same checkpoint (space-aware sampling and the saved geometry need them). */
  geometry(): VggtModel {
    if (!this.vggt) {
      const w = vggtWeights(this.checkpoint.checkpoint);
      if (!w.available.point)
        throw new InputError(
          'this checkpoint holds no VGGT point head, which space-aware sampling needs; use --sampling uniform',
        );
      const config = structuredClone(this.config.vggt);
      config.heads = { camera: w.available.camera, depth: w.available.depth, point: true };
      const { device, threads, lowering, offMainThread, encoders: format } = this.options;
      this.vggt = new VggtModel(config, sessionWeights(w, this.options), {
        device,
        threads,
        lowering,
        offMainThread,
        format,
        store: this.store,
      });
    }
    return this.vggt;
  }

  private fusionSession(grid: GridThw): Promise<RunnableSession> {
    const format: LinearFormat = { dtype: 'float32', quant: this.options.quant };
    return this.fusion.get(`fusion:${grid}`, () =>
      buildSpatialFusion(this.config, grid, {
        spatialInput: 'frames',
        format,
        spatialFormat: this.options.encoders,
        spatialResolution: this.options.spatialResolution,
      }),
    );
  }

  /**
   * Frees the encoders' sessions (Qwen's ViT, the fusion graph with VGGT's aggregator, the geometry VGGT): their
   * weights and the activation buffers ONNX Runtime keeps at their largest extent. A one-question run calls this
   * once the visual features exist, so that its peak memory is that of the larger stage, not of both; the next
   * question builds them again.
   */
  async releaseEncoders(): Promise<void> {
    await this.qwen.releaseVision();
    await this.fusion.release();
    await this.vggt?.release();
    this.vggt = undefined;
  }

  async release(): Promise<void> {
    await this.qwen.release();
    await this.fusion.release();
    await this.vggt?.release();
    this.checkpoint.checkpoint.close();
  }
}

/** Sampling options the caller set (an explicit undefined does not override a default). */
function definedOnly(o: TokenSampling): TokenSampling {
  const out: TokenSampling = {};
  for (const k of ['temperature', 'topP', 'topK', 'seed'] as const) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
