// The spatial encoder: VGGT's aggregator on the frames Qwen sees (upstream v1.1 `src/qwenvl/model/spatial_encoder.py`
// VGGTSpatialEncoderPreTrainedModel; v1.0 `get_vgg_embeds`). The frames are the processor's resized RGB frames
// divided by 255 (`prepare_spatial_mllm_inputs` in src/inference.py; no 518-px VGGT resize), so both encoders see
// the same 14-px patch grid. VGGT normalizes with ImageNet statistics itself. Only one layer is used.
import * as E from '../../engine/index.ts';
import type { LinearFormat } from '../layers.ts';
import { aggregator, BATCH, FRAMES } from '../vggt/aggregator.ts';
import type { SpatialMllmConfig } from './config.ts';

/** The aggregator layer index the connector reads (Python-style negative indices count from the end). */
export function selectedLayer(cfg: SpatialMllmConfig): number {
  const { layerIndex } = cfg.connector;
  return layerIndex < 0 ? cfg.vggt.aggregator.depth + layerIndex : layerIndex;
}

/** Declares the `frames` input, uint8 [S, H, W, 3] (decoded RGB), and returns the selected layer [S, 5 + h·w, 2C]. */
export function spatialEncoder(
  g: E.Graph,
  cfg: SpatialMllmConfig,
  frames: number,
  H: number,
  W: number,
  format?: LinearFormat,
): E.Tensor {
  // The batch and frame dims carry the aggregator's symbols so its internal reshapes resolve at run time.
  const rgb = g.input('frames', 'uint8', [FRAMES, H, W, 3]);
  const images = E.div(E.cast(E.transpose(rgb, [0, 3, 1, 2]), 'float32'), 255); // upstream: float32 / 255.0
  const batched = E.reshape(images, [BATCH, FRAMES, 3, H, W]);
  const layer = selectedLayer(cfg);
  const out = aggregator(g, batched, cfg.vggt, [layer], format).layers.get(layer)!;
  return E.reshape(out, [frames, out.shape[2], out.shape[3]]);
}
