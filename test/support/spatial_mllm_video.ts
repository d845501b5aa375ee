// A `spatial_mllm` fixture's video through the loaders used for real checkpoints: Qwen's ViT on the stored
// processor output, then the fusion graph (VGGT aggregator + 3D merge + connector) on the stored raw frames.
import type * as E from '../../src/engine/index.ts';
import { toOnnx } from '../../src/engine/index.ts';
import { Qwen25VLModel } from '../../src/models/qwen2_5_vl/model.ts';
import type { GridThw } from '../../src/models/qwen2_5_vl/rope_index.ts';
import { openSpatialMllm } from '../../src/models/spatial_mllm/checkpoint.ts';
import { buildSpatialFusion } from '../../src/models/spatial_mllm/fusion.ts';
import { Session } from '../../src/runtime/session.ts';
import type { HostTensor } from '../../src/tensor.ts';
import type { SafetensorsFile } from '../../src/weights/safetensors.ts';

const ints = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);

/** The fixture's checkpoint and Qwen model (the caller releases `qwen` and closes `ckpt.checkpoint`), the video's
 * grid and its fused embeddings [t·h·w/4, hidden]. `io` = the fixture's io.safetensors. */
export async function fusedFixtureVideo(dir: string, io: SafetensorsFile, lowering: E.Lowering) {
  const ckpt = openSpatialMllm(dir);
  const qwen = Qwen25VLModel.load(dir, { lowering, weights: ckpt.weights });
  const grid = ints(io.read('video.video_grid_thw')) as unknown as GridThw;
  const videoEmbeds = await qwen.encodeVision(io.read('video.pixel_values_videos'), grid);
  const fusion = await Session.create(
    toOnnx(buildSpatialFusion(ckpt.config, grid, { spatialInput: 'frames' }), {
      weights: ckpt.weights,
      lowering,
    }).bytes,
  );
  const fused = (await fusion.run({ frames: io.read('video.frames_uint8'), video_embeds: videoEmbeds }))
    .fused_video_embeds;
  await fusion.release();
  return { ckpt, qwen, grid, fused };
}
