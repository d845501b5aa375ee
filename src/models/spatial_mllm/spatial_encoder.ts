// The spatial encoder: VGGT's aggregator on the frames Qwen sees (upstream v1.1 `src/qwenvl/model/spatial_encoder.py`
// VGGTSpatialEncoderPreTrainedModel; v1.0 `get_vgg_embeds`). The frames are the processor's resized RGB frames
// divided by 255 (`prepare_spatial_mllm_inputs` in src/inference.py; no 518-px VGGT resize), so both encoders see
// the same 14-px patch grid. VGGT normalizes with ImageNet statistics itself. Only one layer is used.
import * as E from '../../engine/index.ts';
import type { LinearFormat } from '../layers.ts';
import { aggregator, BATCH, FRAMES } from '../vggt/aggregator.ts';
import type { SpatialMllmConfig } from './config.ts';

/**
 * `full` = upstream. `half` (ours, an approximation for CPUs): VGGT sees the frames 2×2-average-pooled, so each of
 * its patches covers the 2×2 patches of one merged token, and each of its tokens stands for those four. A quarter of
 * the tokens: the aggregator's linear layers cost a quarter, its global attention (most of its FLOPs at 16 frames) a
 * sixteenth. The answer changes: README "Speed and memory on CPU" gives the measured cost.
 */
export type SpatialResolution = 'full' | 'half';
export const SPATIAL_RESOLUTIONS: readonly SpatialResolution[] = ['full', 'half'];

/** The aggregator layer index the connector reads (Python-style negative indices count from the end). */
export function selectedLayer(cfg: SpatialMllmConfig): number {
  const { layerIndex } = cfg.connector;
  return layerIndex < 0 ? cfg.vggt.aggregator.depth + layerIndex : layerIndex;
}

/**
 * Declares the `frames` input, uint8 [S, H, W, 3] (decoded RGB), and returns the selected layer [S, 5 + h·w, 2C]
 * for the grid of h = H/14 × w = W/14 patches, whatever the resolution VGGT runs at.
 */
export function spatialEncoder(
  g: E.Graph,
  cfg: SpatialMllmConfig,
  frames: number,
  H: number,
  W: number,
  format?: LinearFormat,
  resolution: SpatialResolution = 'full',
): E.Tensor {
  // The batch and frame dims carry the aggregator's symbols so its internal reshapes resolve at run time.
  const rgb = g.input('frames', 'uint8', [FRAMES, H, W, 3]);
  let images = E.div(E.cast(E.transpose(rgb, [0, 3, 1, 2]), 'float32'), 255); // upstream: float32 / 255.0
  const half = resolution === 'half';
  // H and W are multiples of 28 (Qwen's resize), so the pooled frames still hold whole 14-px patches.
  if (half) images = E.reduce('mean', E.reshape(images, [FRAMES, 3, H / 2, 2, W / 2, 2]), [3, 5]);
  const batched = E.reshape(images, [BATCH, FRAMES, 3, half ? H / 2 : H, half ? W / 2 : W]);
  const layer = selectedLayer(cfg);
  const out = aggregator(g, batched, cfg.vggt, [layer], format).layers.get(layer)!;
  const tokens = E.reshape(out, [frames, out.shape[2], out.shape[3]]);
  return half ? repeatPatches(tokens, 1 + cfg.vggt.aggregator.numRegisterTokens, H / 28, W / 28) : tokens;
}

/** [S, specials + h·w, C] → [S, specials + 2h·2w, C]: each patch token repeated over the 2×2 patches it covers. */
function repeatPatches(tokens: E.Tensor, specials: number, h: number, w: number): E.Tensor {
  const [S, P, C] = tokens.shape;
  const patches = E.reshape(E.slice(tokens, [1], [specials], [P as number]), [S, h, 1, w, 1, C]);
  const repeated = E.reshape(E.expand(patches, [S, h, 2, w, 2, C]), [S, 4 * h * w, C]);
  return E.concat([E.slice(tokens, [1], [0], [specials]), repeated], 1);
}
