// Qwen2.5-VL loaded from a checkpoint folder: the vision tower (one session per grid) and the text decoder
// (one session for prefill and decode, KV cache carried between calls). Sessions come from a cache keyed by
// graph hash, so the same grid or model is never compiled twice in a process.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as E from '../../engine/index.ts';
import { InputError } from '../../errors.ts';
import type { Device, RunnableSession } from '../../runtime/session.ts';
import { type HostTensor, tensor } from '../../tensor.ts';
import { openCheckpoint, type TensorSource } from '../../weights/safetensors.ts';
import type { LinearFormat } from '../layers.ts';
import { GraphSessions } from '../sessions.ts';
import { qwenWeightSource } from './checkpoint.ts';
import { type Qwen25VLConfig, readQwen25VLConfig } from './config.ts';
import type { GridThw } from './rope_index.ts';
import { buildTextDecoder } from './text_decoder.ts';
import { buildVisionEncoder } from './vision_encoder.ts';

export interface LoadOptions {
  device?: Device;
  lowering?: E.Lowering;
  format?: LinearFormat;
  /** How the vision tower stores its linear weights (default: `format`). */
  visionFormat?: LinearFormat;
  threads?: number;
  /** Sessions in a worker thread (see GraphSessionOptions.offMainThread). */
  offMainThread?: boolean;
  /** Weights other than the folder's own (e.g. a Spatial-MLLM checkpoint mapped onto Qwen names). */
  weights?: E.WeightSource;
  /** Keep large prepared graphs across processes (GraphSessionOptions.store). */
  store?: E.ModelStore;
  /**
   * Keep the KV cache in fixed-size host buffers that ONNX Runtime reads in place and the new positions are written
   * into (default true): a decode step then moves only the token, its key/value rows and its logits instead of
   * copying the whole cache out and back. false = one fresh cache tensor per step (the plain graph).
   */
  cacheBuffers?: boolean;
  /** With a quantized format: quantize the tied embedding table too (lookup and head share it; default true). */
  quantizedTable?: boolean;
}

/**
 * Per-layer key/value tensors [1, KV heads, P, head dim] whose first `length` positions are valid (P = length, or
 * a larger buffer capacity). Buffers are updated in place by the next forward: a cache stays valid as long as no
 * forward is run from an OLDER cache of the same chain (that would overwrite positions past its length).
 */
export interface KvCache {
  keys: HostTensor[];
  values: HostTensor[];
  length: number;
}

/** Writes rows [1, H, S, D] into the cache buffer [1, H, M, D] at positions [at, at + S). */
export function writeRows(buffer: HostTensor, rows: HostTensor, at: number): void {
  const [, h, m, d] = buffer.shape;
  const s = rows.shape[2];
  // Both float arrays of one dtype (float32 or float16 bits); typed as float32 for TypedArray.set.
  const [dst, src] = [buffer.data as Float32Array, rows.data as Float32Array];
  for (let k = 0; k < h; k++) dst.set(src.subarray(k * s * d, (k + 1) * s * d), (k * m + at) * d);
}

/** Cache buffers grow in steps of this many positions. */
const CACHE_CHUNK = 256;

export interface ForwardInput {
  inputIds: readonly number[];
  /** [3, 1, S] int64 M-RoPE positions (rope_index.ts). */
  positionIds: HostTensor;
  /** Features for the image/video pad tokens, in prompt order, [V, hidden]. Pad tokens are visual slots in a
   * forward given these or starting from an empty cache (prefill); in later steps they are plain tokens. */
  visualEmbeds?: HostTensor;
  cache?: KvCache;
  allLogits?: boolean;
  hiddenStates?: boolean;
}

export interface ForwardOutput {
  /** [1, S, vocab] with allLogits, else [1, 1, vocab]. */
  logits: HostTensor;
  cache: KvCache;
  hiddenStates?: HostTensor;
}

export class Qwen25VLModel {
  private constructor(
    readonly dir: string,
    readonly config: Qwen25VLConfig,
    weights: E.WeightSource,
    readonly options: LoadOptions,
    /** The checkpoint `load` opened itself (none when the caller gave the weights): closed by `release`. */
    private readonly opened?: TensorSource,
  ) {
    this.sessions = new GraphSessions(weights, options);
    this.visionSessions = new GraphSessions(weights, options);
  }

  private readonly sessions: GraphSessions;
  /** The vision tower's own sessions, so that they can be freed apart from the language model's. */
  private readonly visionSessions: GraphSessions;

  static load(dir: string, options: LoadOptions = {}): Qwen25VLModel {
    const configPath = join(dir, 'config.json');
    if (!existsSync(configPath))
      throw new InputError(`${dir} has no config.json: pass a Qwen2.5-VL checkpoint folder`);
    const config = readQwen25VLConfig(configPath);
    if (options.weights) return new Qwen25VLModel(dir, config, options.weights, options);
    // Sessions are built on first use and read their weights then: the file stays open until release().
    const source = openCheckpoint(dir);
    return new Qwen25VLModel(dir, config, qwenWeightSource(source), options, source);
  }

  private session(key: string, build: () => E.Graph): Promise<RunnableSession> {
    return this.sessions.get(key, build);
  }

  /** Vision tower on processor output `pixel_values(_videos)` [t·h·w, 1176] → merged features [t·h·w/4, hidden]. */
  async encodeVision(pixelValues: HostTensor, grid: GridThw): Promise<HostTensor> {
    const s = await this.visionSessions.get(`vision:${grid}`, () =>
      buildVisionEncoder(this.config.vision, grid, {
        format: this.options.visionFormat ?? this.options.format,
      }),
    );
    return (await s.run({ pixel_values: pixelValues })).visual_embeds;
  }

  emptyCache(): KvCache {
    const t = this.config.text;
    const empty = () => tensor(this.options.format?.dtype ?? 'float32', [1, t.numKvHeads, 0, t.headDim]);
    return {
      keys: Array.from({ length: t.numLayers }, empty),
      values: Array.from({ length: t.numLayers }, empty),
      length: 0,
    };
  }

  /** The cache with room for `needed` positions: the same buffers when they are big enough, else copied over. */
  private cacheWithRoom(cache: KvCache, needed: number): KvCache {
    const capacity = cache.keys[0]?.shape[2] ?? 0;
    if (needed <= capacity) return cache;
    const t = this.config.text;
    const size = Math.ceil(needed / CACHE_CHUNK) * CACHE_CHUNK;
    const grow = (old: HostTensor) => {
      const dtype = old.dtype;
      const out = tensor(dtype, [1, t.numKvHeads, size, t.headDim]);
      const [row, oldRow] = [size * t.headDim, capacity * t.headDim];
      for (let h = 0; h < t.numKvHeads; h++)
        (out.data as Float32Array).set(
          (old.data as Float32Array).subarray(h * oldRow, h * oldRow + cache.length * t.headDim),
          h * row,
        );
      return out;
    };
    return { keys: cache.keys.map(grow), values: cache.values.map(grow), length: cache.length };
  }

  async forward(input: ForwardInput): Promise<ForwardOutput> {
    const t = this.config.text;
    const dtype = this.options.format?.dtype ?? 'float32';
    // A worker-thread session gets copies of its feeds: buffers could not be updated in place there.
    const buffers = (this.options.cacheBuffers ?? true) && !this.options.offMainThread;
    const s = await this.session(`text:${!!input.allLogits}:${!!input.hiddenStates}:${buffers}`, () =>
      buildTextDecoder(t, {
        allLogits: input.allLogits,
        hiddenStates: input.hiddenStates,
        format: this.options.format,
        quantizedTable: this.options.quantizedTable ?? true,
        cacheBuffer: buffers,
      }),
    );
    const ids = input.inputIds;
    // Pad ids are visual slots only in the forward that carries the visual features (the prefill). Afterwards a
    // generated <|image_pad|>/<|video_pad|> is embedded as a plain token, as upstream: transformers
    // `Qwen2_5_VLForConditionalGeneration.prepare_inputs_for_generation` drops pixel values once the cache is
    // non-empty, and `forward` scatters features only when they are given.
    const visualForward = input.visualEmbeds !== undefined || (input.cache?.length ?? 0) === 0;
    const padIds = new Set([this.config.imageTokenId, this.config.videoTokenId]);
    const positions = visualForward ? ids.flatMap((id, i) => (padIds.has(id) ? [i] : [])) : [];
    const visual = input.visualEmbeds ?? tensor(dtype, [0, t.hiddenSize]);
    if (visual.shape[0] !== positions.length)
      throw new InputError(
        `the prompt has ${positions.length} image/video pad tokens but ${visual.shape[0]} visual features were given`,
      );
    let cache = input.cache ?? this.emptyCache();
    if (buffers) cache = this.cacheWithRoom(cache, cache.length + ids.length);
    const feeds: Record<string, HostTensor> = {
      input_ids: tensor('int64', [1, ids.length], ids),
      position_ids: input.positionIds,
      visual_embeds: visual,
      visual_index: tensor('int64', [positions.length, 1], positions),
    };
    for (let i = 0; i < t.numLayers; i++) {
      feeds[`past_key.${i}`] = cache.keys[i];
      feeds[`past_value.${i}`] = cache.values[i];
    }
    if (buffers) feeds.past_length = tensor('int64', [1], [cache.length]);
    const out = await s.run(feeds);
    const length = cache.length + ids.length;
    if (buffers) {
      for (let i = 0; i < t.numLayers; i++) {
        writeRows(cache.keys[i], out[`new_key.${i}`], cache.length);
        writeRows(cache.values[i], out[`new_value.${i}`], cache.length);
      }
      return { logits: out.logits, hiddenStates: out.hidden_states, cache: { ...cache, length } };
    }
    return {
      logits: out.logits,
      hiddenStates: out.hidden_states,
      cache: {
        keys: Array.from({ length: t.numLayers }, (_, i) => out[`present_key.${i}`]),
        values: Array.from({ length: t.numLayers }, (_, i) => out[`present_value.${i}`]),
        length,
      },
    };
  }

  /** Frees the vision tower's sessions (weights and buffers); the next encodeVision builds them again. */
  async releaseVision(): Promise<void> {
    await this.visionSessions.release();
  }

  async release(): Promise<void> {
    await this.sessions.release();
    await this.visionSessions.release();
    this.opened?.close();
  }
}
