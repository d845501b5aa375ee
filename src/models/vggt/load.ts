// VGGT weights from a checkpoint. Graphs name parameters as facebook/VGGT-1B's state dict does
// (`aggregator.frame_blocks.0.attn.qkv.weight`, `depth_head.scratch.refinenet4...`). The same tensors sit under a
// prefix inside Spatial-MLLM checkpoints: `spatial_encoder.vggt_model.` (v1.1, THU-SI/Spatial-MLLM
// `src/qwenvl/model/spatial_encoder.py`) or `vggt.` (v1.0). Track-head weights are never read.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { WeightSource } from '../../engine/index.ts';
import { InputError } from '../../errors.ts';
import { readJsonFile } from '../../json.ts';
import { type Checkpoint, openCheckpoint, type TensorSource } from '../../weights/safetensors.ts';
import { defaultVggtConfig, parseVggtConfig, type VggtConfig } from './config.ts';

const ANCHOR = 'aggregator.camera_token';

export interface VggtWeights extends WeightSource {
  /** What precedes the VGGT key names in the checkpoint ('' for VGGT-1B itself). */
  prefix: string;
  /** Heads whose weights the checkpoint holds (Spatial-MLLM checkpoints may carry only the aggregator). */
  available: { camera: boolean; depth: boolean; point: boolean };
}

/** Maps graph parameter names onto a checkpoint holding VGGT, at whatever prefix it sits. */
export function vggtWeights(source: TensorSource): VggtWeights {
  const names = source.names();
  const anchor = names.find((n) => n === ANCHOR || n.endsWith(`.${ANCHOR}`));
  if (anchor === undefined)
    throw new InputError(
      `${source.path} holds no VGGT weights (no tensor named "${ANCHOR}" under any prefix); ` +
        'give a facebook/VGGT-1B model.safetensors or a Spatial-MLLM checkpoint',
    );
  const prefix = anchor.slice(0, anchor.length - ANCHOR.length);
  const has = new Set(names);
  return {
    prefix,
    available: {
      camera: has.has(`${prefix}camera_head.embed_pose.weight`),
      depth: has.has(`${prefix}depth_head.norm.weight`),
      point: has.has(`${prefix}point_head.norm.weight`),
    },
    read: (name) => source.read(prefix + name),
  };
}

/** The config.json beside a checkpoint (file or folder), or VGGT-1B's defaults when there is none. */
export function readVggtConfig(pathOrDir: string): VggtConfig {
  const dir = existsSync(pathOrDir) && statSync(pathOrDir).isDirectory() ? pathOrDir : dirname(pathOrDir);
  const file = join(dir, 'config.json');
  if (!existsSync(file)) return defaultVggtConfig();
  return parseVggtConfig(readJsonFile(file, 'fix or remove it'), file);
}

/** Fails early, naming the tensor, when the checkpoint was not made with this config. */
export function checkVggtShapes(source: TensorSource, w: VggtWeights, c: VggtConfig): void {
  const a = c.aggregator;
  const C = a.embedDim;
  const M = c.imgSize / c.patchSize;
  const expect: [string, number[]][] = [
    ['aggregator.camera_token', [1, 2, 1, C]],
    ['aggregator.register_token', [1, 2, a.numRegisterTokens, C]],
    ['aggregator.patch_embed.pos_embed', [1, 1 + M * M, a.patchEmbed.embedDim]],
    [`aggregator.frame_blocks.${a.depth - 1}.attn.q_norm.weight`, [C / a.numHeads]],
    [`aggregator.patch_embed.blocks.${a.patchEmbed.depth - 1}.norm1.weight`, [a.patchEmbed.embedDim]],
  ];
  const names = new Set(source.names());
  for (const [name, shape] of expect) {
    const key = w.prefix + name;
    const got = names.has(key) ? source.info(key).shape : undefined;
    if (!got || got.join() !== shape.join())
      throw new InputError(
        `${source.path}: ${key} is ${got ? `[${got}]` : 'missing'} but the VGGT config expects [${shape}] ` +
          `(embed ${C}, depth ${a.depth}, ${a.numHeads} heads, img ${c.imgSize}); ` +
          'put the matching config.json beside the checkpoint',
      );
  }
  for (const [name, depth] of [
    ['frame_blocks', a.depth],
    ['patch_embed.blocks', a.patchEmbed.depth],
  ] as const)
    if (names.has(`${w.prefix}aggregator.${name}.${depth}.norm1.weight`))
      throw new InputError(
        `${source.path}: the checkpoint has more than ${depth} aggregator.${name}; put the matching config.json beside it`,
      );
}

export interface OpenedVggt {
  config: VggtConfig;
  weights: VggtWeights;
  checkpoint: Checkpoint;
}

/**
 * Opens VGGT weights: a `.safetensors` file, a sharded index or a folder (pickle `.pt` files are refused with
 * how to convert them). The config comes from `config` or the checkpoint's config.json; heads without weights
 * in the checkpoint are switched off.
 */
export function openVggt(pathOrDir: string, config?: VggtConfig): OpenedVggt {
  const checkpoint = openCheckpoint(pathOrDir);
  try {
    const weights = vggtWeights(checkpoint);
    const c = structuredClone(config ?? readVggtConfig(pathOrDir));
    checkVggtShapes(checkpoint, weights, c);
    c.heads = {
      camera: c.heads.camera && weights.available.camera,
      depth: c.heads.depth && weights.available.depth,
      point: c.heads.point && weights.available.point,
    };
    return { config: c, weights, checkpoint };
  } catch (e) {
    checkpoint.close();
    throw e;
  }
}
