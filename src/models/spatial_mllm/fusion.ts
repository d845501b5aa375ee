// The spatial fusion graph of Spatial-MLLM: spatial encoder (VGGT aggregator, optional) → 3D merge → connector,
// added element-wise to Qwen's video embeddings — no extra tokens, so Qwen's rope index is unchanged.
// Upstream: THU-SI/Spatial-MLLM `src/qwenvl/model/spatial_mllm.py` (v1.1) and branch v1.0
// `src/models/modeling_qwen2_5_vl.py`.
import * as E from '../../engine/index.ts';
import { FP32, type LinearFormat } from '../layers.ts';
import type { GridThw } from '../qwen2_5_vl/rope_index.ts';
import type { SpatialMllmConfig } from './config.ts';
import { connector } from './connector.ts';
import { merge3d } from './merge_3d.ts';
import { type SpatialResolution, spatialEncoder } from './spatial_encoder.ts';

export interface FusionOptions {
  format?: LinearFormat;
  /**
   * What the graph starts from: `tokens` — input `spatial_tokens` [2t, 5 + h·w, 2C], the selected aggregator
   * layer; `frames` — input `frames` uint8 [2t, 14h, 14w, 3], the resized RGB frames, run through VGGT's
   * aggregator inside the graph. Default `tokens`.
   */
  spatialInput?: 'tokens' | 'frames';
  /** With `frames`: how VGGT's aggregator stores its linear weights (default float32). */
  spatialFormat?: LinearFormat;
  /** With `frames`: the resolution VGGT sees (default `full`, as upstream; see SpatialResolution). */
  spatialResolution?: SpatialResolution;
  /** Also output `merged_spatial_tokens`, `spatial_projection` (v1.0 also `token_merge_out`; from frames also
   * `spatial_tokens`), for parity tests. */
  debug?: boolean;
}

/**
 * The fusion for one video grid (t, h, w) in 14-px patches: the spatial input (see FusionOptions) and
 * `video_embeds` [t·h·w/4, hidden] (Qwen's vision output) → `fused_video_embeds` = video_embeds +
 * connector(merge3d(spatial tokens)), what fills the <|video_pad|> slots.
 */
export function buildSpatialFusion(cfg: SpatialMllmConfig, grid: GridThw, opts: FusionOptions = {}): E.Graph {
  const f = opts.format ?? FP32;
  const c = cfg.connector;
  const [t, h, w] = grid;
  const frames = t * c.temporalMerge;
  const patchStart = 1 + cfg.vggt.aggregator.numRegisterTokens;
  const g = new E.Graph(
    `spatial_mllm_${c.version}_fusion_${t}x${h}x${w}_${opts.spatialInput ?? 'tokens'}${opts.spatialResolution === 'half' ? '_half' : ''}`,
  );
  let tokens: E.Tensor;
  if (opts.spatialInput === 'frames') {
    const p = cfg.vggt.patchSize;
    tokens = E.cast(
      spatialEncoder(g, cfg, frames, h * p, w * p, opts.spatialFormat, opts.spatialResolution),
      f.dtype,
    );
    if (opts.debug) g.output('spatial_tokens', tokens);
  } else tokens = g.input('spatial_tokens', f.dtype, [frames, patchStart + h * w, c.tokenDim]);
  const video = g.input('video_embeds', f.dtype, [(t * h * w) / c.spatialMerge ** 2, c.hiddenSize]);
  const layout = { h, w, patchStart, temporalMerge: c.temporalMerge, spatialMerge: c.spatialMerge };
  const merged = merge3d(tokens, layout, c.version);
  const { projection, tokenMerge } = connector(g, merged, c, f);
  if (opts.debug) {
    g.output('merged_spatial_tokens', merged);
    g.output('spatial_projection', projection);
    if (tokenMerge) g.output('token_merge_out', tokenMerge);
  }
  g.output('fused_video_embeds', E.add(video, projection));
  return g;
}
