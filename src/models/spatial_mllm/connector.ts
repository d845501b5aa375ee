// The connectors that project merged VGGT tokens to the language width (the fusion with Qwen's video embeddings is
// in fusion.ts). Parameters carry the checkpoint names.
// - v1.1 MLPAddConnector (src/qwenvl/model/connector/mlp_add_connector.py): `connector.ln_q` RMSNorm(eps 1e-6) →
//   `connector.mlp.0` Linear(m, m) → exact GELU → `connector.mlp.2` Linear(m, hidden).
// - v1.0 VGGTEmbeddingMerger (branch v1.0, src/models/modeling_qwen2_5_vl.py): `token_merge_ln_q` RMSNorm(m) →
//   `token_merge_mlp.{0,2}` Linear(m, m), GELU, Linear(m, hidden) → `vgg_to_language_ln_q` RMSNorm(hidden) →
//   `vgg_to_language_mlp.{0,2}` Linear(hidden, hidden), GELU, Linear(hidden, hidden). Both norms eps 1e-6.
import * as E from '../../engine/index.ts';
import { dense, FP32, type LinearFormat } from '../layers.ts';
import type { ConnectorConfig } from './config.ts';

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
