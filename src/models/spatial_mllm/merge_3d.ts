// The 3D token merge: VGGT aggregator tokens of S frames, [S, special + h·w, D], become one token per Qwen merged
// token, [S/tm · h/sm · w/sm, tm·sm²·D], rows in Qwen's merged-token order (t, h/sm, w/sm raster). The special
// tokens (camera + registers, `patch_start_idx`) are dropped. Within a merged token the two versions order the
// channels differently:
// - v1.1 `MLPAddConnector.preprocess_spatial_embeds` (src/qwenvl/model/connector/mlp_add_connector.py):
//   (dh, dw, channel, dt), dt fastest: index ((dh·sm + dw)·D + d)·tm + dt;
// - v1.0 `VGGTEmbeddingMerger.merge_tokens` (src/models/modeling_qwen2_5_vl.py): (dt, dh, dw, channel):
//   index ((dt·sm + dh)·sm + dw)·D + d.
// Both are a reshape to [T, dt, H, dh, W, dw, D], one transpose and a reshape.
import * as E from '../../engine/index.ts';
import type { SpatialMllmVersion } from './config.ts';

export interface MergeLayout {
  /** Patch rows and columns of a frame (Qwen's grid h, w). */
  h: number;
  w: number;
  /** Camera + register tokens in front of each frame's patches (VGGT `patch_start_idx` = 5). */
  patchStart: number;
  temporalMerge: number;
  spatialMerge: number;
}

// Axes after the reshape: 0 T, 1 dt, 2 H, 3 dh, 4 W, 5 dw, 6 D.
const PERM: Record<SpatialMllmVersion, number[]> = {
  'v1.1': [0, 2, 4, 3, 5, 6, 1],
  'v1.0': [0, 2, 4, 1, 3, 5, 6],
};

/** [S, patchStart + h·w, D] → [S/tm · h/sm · w/sm, tm·sm²·D] in the channel order of `version`. */
export function merge3d(tokens: E.Tensor, layout: MergeLayout, version: SpatialMllmVersion): E.Tensor {
  const { h, w, patchStart, temporalMerge: tm, spatialMerge: sm } = layout;
  const [frames, count, D] = tokens.shape;
  if (typeof frames !== 'number' || typeof D !== 'number' || count !== patchStart + h * w)
    throw new E.ShapeError(
      `merge3d: tokens [${tokens.shape.join(', ')}] must be [frames, ${patchStart}+${h}·${w}, channels]`,
    );
  if (frames % tm !== 0 || h % sm !== 0 || w % sm !== 0)
    throw new E.ShapeError(
      `merge3d: ${frames} frames of ${h}×${w} patches do not split into ${tm} × ${sm}×${sm} groups`,
    );
  const patches = E.slice(tokens, [1], [patchStart], [count]);
  const grouped = E.reshape(patches, [frames / tm, tm, h / sm, sm, w / sm, sm, D]);
  const merged = E.transpose(grouped, PERM[version]);
  return E.reshape(merged, [(frames / tm) * (h / sm) * (w / sm), tm * sm * sm * D]);
}
