// The connectors that project merged VGGT tokens to the language width, and the fusion with Qwen's video embeddings
// (element-wise sum; no extra tokens, so Qwen's rope index is unchanged). Parameters carry the checkpoint names.
// - v1.1 MLPAddConnector (src/qwenvl/model/connector/mlp_add_connector.py): `connector.ln_q` RMSNorm(eps 1e-6) →
//   `connector.mlp.0` Linear(m, m) → exact GELU → `connector.mlp.2` Linear(m, hidden).
// - v1.0 VGGTEmbeddingMerger (branch v1.0, src/models/modeling_qwen2_5_vl.py): `token_merge_ln_q` RMSNorm(m) →
//   `token_merge_mlp.{0,2}` Linear(m, m), GELU, Linear(m, hidden) → `vgg_to_language_ln_q` RMSNorm(hidden) →
//   `vgg_to_language_mlp.{0,2}` Linear(hidden, hidden), GELU, Linear(hidden, hidden). Both norms eps 1e-6.
import * as E from '../../engine/index.ts';
import { dense, FP32, type LinearFormat } from '../layers.ts';
import type { GridThw } from '../qwen2_5_vl/rope_index.ts';
import type { ConnectorConfig, SpatialMllmConfig } from './config.ts';
import { merge3d } from './merge_3d.ts';
import { spatialEncoder } from './spatial_encoder.ts';

const EPS = 1e-6;

/** RMSNorm → Linear(inF, inF) → GELU → Linear(inF, outF), the block both versions are made of. */
function normMlp(
  g: E.Graph,
  x: E.Tensor,
  norm: string,
  mlp: string,
  inF: number,
  outF: number,
  f: LinearFormat,
): E.Tensor {
  const h = E.rmsNorm(x, g.param(`${norm}.weight`, f.dtype, [inF]), EPS);
  return dense(g, E.gelu(dense(g, h, `${mlp}.0`, inF, inF, true, f)), `${mlp}.2`, inF, outF, true, f);
}

export interface ConnectorOutputs {
  /** [N, hidden]: what is added to Qwen's video embeddings. */
  projection: E.Tensor;
  /** v1.0 only: the output of the token-merge MLP, before `vgg_to_language` (fixture `merger.token_merge_out`). */
  tokenMerge?: E.Tensor;
}

/** Merged spatial tokens [N, mergedDim] → their projection to the language width [N, hidden]. */
export function connector(
  g: E.Graph,
  merged: E.Tensor,
  c: ConnectorConfig,
  f: LinearFormat = FP32,
): ConnectorOutputs {
  const { mergedDim: m, hiddenSize: hidden } = c;
  if (c.version === 'v1.1')
    return { projection: normMlp(g, merged, 'connector.ln_q', 'connector.mlp', m, hidden, f) };
  const p = 'vggt_embedding_merger';
  const tokenMerge = normMlp(g, merged, `${p}.token_merge_ln_q`, `${p}.token_merge_mlp`, m, hidden, f);
  const projection = normMlp(
    g,
    tokenMerge,
    `${p}.vgg_to_language_ln_q`,
    `${p}.vgg_to_language_mlp`,
    hidden,
    hidden,
    f,
  );
  return { projection, tokenMerge };
}

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
  const g = new E.Graph(`spatial_mllm_${c.version}_fusion_${t}x${h}x${w}_${opts.spatialInput ?? 'tokens'}`);
  let tokens: E.Tensor;
  if (opts.spatialInput === 'frames') {
    const p = cfg.vggt.patchSize;
    tokens = E.cast(spatialEncoder(g, cfg, frames, h * p, w * p, opts.spatialFormat), f.dtype);
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
