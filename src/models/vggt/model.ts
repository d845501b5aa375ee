// VGGT as ONNX Runtime sessions: the aggregator graph (images → requested layers), the camera head (camera
// tokens of the last layer → pose encodings) and the DPT heads (four layers → depth and world points with
// confidences), each built once per image size with dynamic batch and frame counts. The DPT graph runs on
// chunks of frames (8, as upstream) to bound memory; its ops are per frame, so chunking changes no number.
// Graphs whose weights exceed protobuf's 2 GB limit are written with external data to a temporary folder.
import * as E from '../../engine/index.ts';
import { InputError } from '../../errors.ts';
import type { Device } from '../../runtime/session.ts';
import { type HostTensor, numel, tensor } from '../../tensor.ts';
import { quantizedSource } from '../../weights/quantized_source.ts';
import type { LinearFormat } from '../layers.ts';
import { GraphSessions } from '../sessions.ts';
import { aggregator, BATCH, FRAMES } from './aggregator.ts';
import { cameraHead } from './camera_head.ts';
import type { VggtConfig } from './config.ts';
import { type DptKind, dptHead } from './dpt_head.ts';
import { openVggt } from './load.ts';

export type ImageSize = [height: number, width: number];

/** images [batch, frames, 3, H, W] → `aggregated_tokens.{i}` [B, S, P, 2C]; with debug also the DINOv2 outputs. */
export function buildAggregatorGraph(
  c: VggtConfig,
  size: ImageSize,
  layers: readonly number[],
  debug = false,
  format?: LinearFormat,
): E.Graph {
  const g = new E.Graph(`vggt_aggregator_${size.join('x')}`);
  const images = g.input('images', 'float32', [BATCH, FRAMES, 3, ...size]);
  const out = aggregator(g, images, c, layers, format);
  for (const [i, t] of [...out.layers].sort((a, b) => a[0] - b[0])) g.output(`aggregated_tokens.${i}`, t);
  if (debug) {
    g.output('patch_tokens', out.patchTokens);
    g.output('pos_embed', out.posEmbed);
  }
  return g;
}

/** camera_tokens [batch, frames, 2C] → `pose_enc_list.{i}` [B, S, 9]. */
export function buildCameraHeadGraph(c: VggtConfig): E.Graph {
  const g = new E.Graph('vggt_camera_head');
  const tokens = g.input('camera_tokens', 'float32', [BATCH, FRAMES, 2 * c.aggregator.embedDim]);
  cameraHead(g, tokens, c).forEach((t, i) => {
    g.output(`pose_enc_list.${i}`, t);
  });
  return g;
}

const DPT_OUTPUTS: Record<DptKind, [string, string]> = {
  depth: ['depth', 'depth_conf'],
  point: ['world_points', 'world_points_conf'],
};

/** `aggregated_tokens.{l}` for the DPT layers → depth, depth_conf, world_points, world_points_conf. */
export function buildDptGraph(c: VggtConfig, size: ImageSize, kinds: readonly DptKind[]): E.Graph {
  const g = new E.Graph(`vggt_dpt_${kinds.join('_')}_${size.join('x')}`);
  const P = 1 + c.aggregator.numRegisterTokens + (size[0] / c.patchSize) * (size[1] / c.patchSize);
  const layers = c.dpt.layers.map((l) =>
    g.input(`aggregated_tokens.${l}`, 'float32', [BATCH, FRAMES, P, 2 * c.aggregator.embedDim]),
  );
  for (const kind of kinds) {
    const { value, conf } = dptHead(g, kind, layers, c, size);
    g.output(DPT_OUTPUTS[kind][0], value);
    g.output(DPT_OUTPUTS[kind][1], conf);
  }
  return g;
}

/** Copies frames [s0, s1) of a [B, S, ...] tensor. */
export function sliceFrames(t: HostTensor, s0: number, s1: number): HostTensor {
  const [B, S, ...rest] = t.shape;
  const inner = numel(rest);
  const out = tensor(t.dtype, [B, s1 - s0, ...rest]);
  for (let b = 0; b < B; b++)
    (out.data as Float32Array).set(
      (t.data as Float32Array).subarray((b * S + s0) * inner, (b * S + s1) * inner),
      b * (s1 - s0) * inner,
    );
  return out;
}

/** Joins [B, S_i, ...] tensors along frames. */
export function concatFrames(parts: HostTensor[]): HostTensor {
  if (parts.length === 1) return parts[0];
  const [B, , ...rest] = parts[0].shape;
  const inner = numel(rest);
  const S = parts.reduce((s, p) => s + p.shape[1], 0);
  const out = tensor(parts[0].dtype, [B, S, ...rest]);
  let s0 = 0;
  for (const p of parts) {
    const n = p.shape[1];
    for (let b = 0; b < B; b++)
      (out.data as Float32Array).set(
        (p.data as Float32Array).subarray(b * n * inner, (b + 1) * n * inner),
        (b * S + s0) * inner,
      );
    s0 += n;
  }
  return out;
}

/** Token `index` of every frame: [B, S, P, C] → [B, S, C]. */
function tokenAt(t: HostTensor, index: number): HostTensor {
  const [B, S, P, C] = t.shape;
  const out = tensor('float32', [B, S, C]);
  const src = t.data as Float32Array;
  for (let i = 0; i < B * S; i++)
    out.data.set(src.subarray((i * P + index) * C, (i * P + index + 1) * C), i * C);
  return out;
}

export interface VggtOptions {
  device?: Device;
  threads?: number;
  lowering?: E.Lowering;
  /** Sessions in a worker thread (see GraphSessionOptions.offMainThread). */
  offMainThread?: boolean;
  /** Frames per DPT run (default 8, as upstream). */
  chunkFrames?: number;
  /** Where external weight files of > 2 GB graphs are staged (default: the OS temp folder). */
  tempDir?: string;
  /** Keep large prepared graphs across processes (GraphSessionOptions.store). */
  store?: E.ModelStore;
  /** How the aggregator's linear weights are stored (default float32; a quantized format needs weights that
   * provide the quantized tensors, e.g. weights/quantized_source.ts). The heads stay float32. */
  format?: LinearFormat;
}

export interface AggregateResult {
  layers: Map<number, HostTensor>;
  /** With debug: DINOv2 `x_norm_patchtokens` [B·S, h·w, C] and its interpolated position table. */
  patchTokens?: HostTensor;
  posEmbed?: HostTensor;
}

export interface VggtPredictions {
  /** Activated pose encoding after each camera-head iteration, [B, S, 9]; the last is `pose_enc`. */
  poseEncList?: HostTensor[];
  depth?: HostTensor;
  depthConf?: HostTensor;
  worldPoints?: HostTensor;
  worldPointsConf?: HostTensor;
  /** The aggregator layers that were computed (the DPT layers and the last). */
  layers: Map<number, HostTensor>;
}

export class VggtModel {
  private readonly sessions: GraphSessions;

  constructor(
    readonly config: VggtConfig,
    weights: E.WeightSource,
    readonly options: VggtOptions = {},
    private readonly onRelease?: () => void,
  ) {
    this.sessions = new GraphSessions(weights, options);
  }

  /** From a checkpoint (VGGT-1B or a Spatial-MLLM checkpoint); see load.ts. A quantized `format` is derived from
   * the checkpoint's float weights at load. */
  static load(pathOrDir: string, options: VggtOptions & { config?: VggtConfig } = {}): VggtModel {
    const { config, weights, checkpoint } = openVggt(pathOrDir, options.config);
    const f = options.format;
    const source = f?.quant || f?.w8a8 ? quantizedSource(weights, f.quant) : weights;
    return new VggtModel(config, source, options, () => checkpoint.close());
  }

  private async run(key: string, build: () => E.Graph, feeds: Record<string, HostTensor>) {
    return (await this.sessions.get(key, build)).run(feeds);
  }

  /** Images [S, 3, H, W] (one sequence) or [B, S, 3, H, W], values in [0, 1], H and W multiples of the patch. */
  private batched(images: HostTensor): { images: HostTensor; size: ImageSize } {
    const shape = images.shape.length === 4 ? [1, ...images.shape] : images.shape;
    const p = this.config.patchSize;
    if (shape.length !== 5 || shape[2] !== 3 || images.dtype !== 'float32')
      throw new InputError(
        `VGGT takes float32 images [S, 3, H, W] or [B, S, 3, H, W], got ${images.dtype} [${images.shape}]`,
      );
    const size: ImageSize = [shape[3], shape[4]];
    if (size[0] % p !== 0 || size[1] % p !== 0 || size[0] === 0 || size[1] === 0)
      throw new InputError(
        `VGGT needs image sides that are multiples of ${p}, got ${size[0]}×${size[1]}; preprocess the frames (vggt preprocess)`,
      );
    return { images: { ...images, shape }, size };
  }

  /** Aggregator layers (default: the last) for images in [0, 1]. */
  async aggregate(
    images: HostTensor,
    o: { layers?: number[]; debug?: boolean } = {},
  ): Promise<AggregateResult> {
    const { images: x, size } = this.batched(images);
    const depth = this.config.aggregator.depth;
    const layers = [...new Set(o.layers ?? [depth - 1])].sort((a, b) => a - b);
    for (const l of layers)
      if (!Number.isInteger(l) || l < 0 || l >= depth)
        throw new InputError(`aggregator layer ${l} does not exist: use 0..${depth - 1}`);
    const out = await this.run(
      `agg:${size}:${layers}:${!!o.debug}`,
      () => buildAggregatorGraph(this.config, size, layers, o.debug, this.options.format),
      { images: x },
    );
    return {
      layers: new Map(layers.map((l) => [l, out[`aggregated_tokens.${l}`]])),
      patchTokens: out.patch_tokens,
      posEmbed: out.pos_embed,
    };
  }

  /**
   * Every enabled head (or those of `heads` that are enabled: space-aware sampling needs the point head alone, and
   * the depth DPT costs as much again): pose encodings, depth and world points with confidences.
   */
  async predict(
    images: HostTensor,
    o: { heads?: Partial<VggtConfig['heads']> } = {},
  ): Promise<VggtPredictions> {
    const { images: x, size } = this.batched(images);
    const c = this.config;
    const on = (h: keyof VggtConfig['heads']) => c.heads[h] && (o.heads?.[h] ?? true);
    const last = c.aggregator.depth - 1;
    const kinds = (['depth', 'point'] as const).filter(on);
    const needed = [...(kinds.length ? c.dpt.layers : []), last];
    const { layers } = await this.aggregate(x, { layers: needed });
    const result: VggtPredictions = { layers };

    if (on('camera')) {
      const out = await this.run('camera', () => buildCameraHeadGraph(c), {
        camera_tokens: tokenAt(layers.get(last)!, 0),
      });
      result.poseEncList = Array.from(
        { length: c.cameraHead.iterations },
        (_, i) => out[`pose_enc_list.${i}`],
      );
    }
    if (kinds.length) {
      const S = x.shape[1];
      const chunk = this.options.chunkFrames ?? 8;
      const parts: Record<string, HostTensor>[] = [];
      for (let s0 = 0; s0 < S; s0 += chunk) {
        const s1 = Math.min(S, s0 + chunk);
        const feeds = Object.fromEntries(
          c.dpt.layers.map((l) => [`aggregated_tokens.${l}`, sliceFrames(layers.get(l)!, s0, s1)]),
        );
        parts.push(await this.run(`dpt:${size}:${kinds}`, () => buildDptGraph(c, size, kinds), feeds));
      }
      const joined = (name: string) => concatFrames(parts.map((p) => p[name]));
      if (on('depth')) [result.depth, result.depthConf] = DPT_OUTPUTS.depth.map(joined);
      if (on('point')) [result.worldPoints, result.worldPointsConf] = DPT_OUTPUTS.point.map(joined);
    }
    return result;
  }

  async release(): Promise<void> {
    await this.sessions.release();
    this.onRelease?.();
  }
}
