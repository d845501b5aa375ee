// A micro geometry setup shared by the geometry tests: a Spatial-MLLM checkpoint whose VGGT is tiny (width 16,
// 4 frame/global block pairs, 2 camera-head iterations) and 2 rendered rooms of 4 frames at 56×28 (4×2 patches).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { synthesize } from '../../src/data/synth/cli.ts';
import { writeInitCheckpoint } from '../../src/models/spatial_mllm/init_checkpoint.ts';
import { smallConfig } from '../../src/train/small/model_config.ts';

export const MICRO_FRAME = { width: 56, height: 28 } as const;

/** The small config scaled down further; its VGGT is what the geometry stage trains. */
export function microConfig(): Record<string, unknown> {
  const c = smallConfig(
    { merges: [] },
    {
      hidden: 32,
      layers: 1,
      intermediate: 64,
      heads: 2,
      kvHeads: 1,
      visionHidden: 32,
      visionDepth: 1,
      vggtDim: 16,
      vggtDepth: 4,
    },
  );
  return {
    ...c,
    Aggregator_extra: { depth: 4, num_heads: 2 },
    patch_embed_dinov2_tiny: { embed_dim: 16, depth: 1, num_heads: 2, mlp_ratio: 2 },
    CameraHead_extra: { trunk_depth: 1, num_heads: 2, mlp_ratio: 1, 'forward.num_iterations': 2 },
    DPTHead_extra: { features: 8, out_channels: [4, 8, 8, 8], intermediate_layer_idx: [0, 1, 2, 3] },
  };
}

/** Writes the micro checkpoint at `<dir>/init` and `rooms` rendered rooms at `<dir>/rooms`. */
export async function writeMicro(dir: string, rooms = 2, seed = 5): Promise<{ model: string; data: string }> {
  const model = join(dir, 'init');
  const data = join(dir, 'rooms');
  mkdirSync(dir, { recursive: true });
  writeInitCheckpoint(model, { config: microConfig(), vocab: { merges: [] }, seed: 3, gain: 0.5 });
  await synthesize({ ...MICRO_FRAME, frames: 4, fps: 1, scenes: rooms, out: data, seed, log: () => {} });
  return { model, data };
}
