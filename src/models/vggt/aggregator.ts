// VGGT's aggregator (vggt `models/aggregator.py`, `layers/rope.py`): DINOv2 patch tokens of every frame, one
// camera and R register tokens prepended, then alternating frame attention (within each frame) and global
// attention (across all frames of a batch element). Output layer i = frame block i output ‖ global block i
// output → 2C channels, tokens = [camera, registers, patches] (patch_start_idx = 1 + R).
import * as E from '../../engine/index.ts';
import { tensor } from '../../tensor.ts';
import { transformerBlock } from '../layers.ts';
import type { VggtConfig } from './config.ts';
import { type PatchGrid, patchEmbed } from './patch_embed.ts';

/** ImageNet statistics; VGGT normalizes [0, 1] images itself. */
const RESNET_MEAN = [0.485, 0.456, 0.406];
const RESNET_STD = [0.229, 0.224, 0.225];

/** Symbols of the dynamic batch and frame dims of every VGGT graph. */
export const BATCH = 'batch';
export const FRAMES = 'frames';
const IMAGES = `${BATCH}*${FRAMES}`;

export const patchStartIdx = (c: VggtConfig): number => 1 + c.aggregator.numRegisterTokens;

/**
 * cos/sin tables [P, 1, D] of VGGT's 2D RoPE for one frame's tokens: the first half of each head dim rotates by
 * the patch row, the second by the column, each half rotate-half style with frequencies 1/f^(2j/(D/2)) repeated
 * twice. Patches sit at (row + 1, col + 1), special tokens at (0, 0). float32 steps as upstream's tables.
 */
export function ropeTables(c: VggtConfig, grid: PatchGrid): { cos: Float32Array; sin: Float32Array } {
  const D = c.aggregator.embedDim / c.aggregator.numHeads;
  const half = D / 2;
  const f32 = Math.fround;
  const invFreq = Array.from({ length: half / 2 }, (_, j) =>
    f32(1 / f32(c.aggregator.ropeFreq ** f32((2 * j) / half))),
  );
  const start = patchStartIdx(c);
  const P = start + grid.h * grid.w;
  const cos = new Float32Array(P * D);
  const sin = new Float32Array(P * D);
  for (let t = 0; t < P; t++) {
    const k = t - start;
    const pos = k < 0 ? [0, 0] : [Math.floor(k / grid.w) + 1, (k % grid.w) + 1];
    for (let axis = 0; axis < 2; axis++)
      for (let j = 0; j < half; j++) {
        const angle = f32(pos[axis] * invFreq[j % (half / 2)]);
        cos[t * D + axis * half + j] = Math.cos(angle);
        sin[t * D + axis * half + j] = Math.sin(angle);
      }
  }
  return { cos, sin };
}

/** x [N, P, H, D] → x·cos + rotate(x)·sin, rotate = (−x1, x0) within each half of D. */
function rope2d(x: E.Tensor, cos: E.Tensor, sin: E.Tensor): E.Tensor {
  const D = x.shape[3] as number;
  const [a, b, cc, d] = E.split(x, [D / 4, D / 4, D / 4, D / 4], -1);
  const rotated = E.concat([E.neg(b), a, E.neg(d), cc], -1);
  return E.add(E.mul(x, cos), E.mul(rotated, sin));
}

/** The first frame of each batch element uses slot 0 of a special token, the others slot 1. */
function specialTokens(g: E.Graph, param: E.Tensor, images: E.Tensor, count: number, C: number): E.Tensor {
  const frames = E.squeeze(E.shape(images, 1, 2), [0]);
  const slot = E.minimum(E.range(g, 0, frames, 1), 1); // [S]: 0, 1, 1, …
  const perFrame = E.gather(E.reshape(param, [2, count, C]), slot, 0); // [S, count, C]
  const batch = E.expand(E.unsqueeze(perFrame, [0]), [images.shape[0], images.shape[1], count, C]);
  return E.reshape(batch, [IMAGES, count, C]);
}

export interface AggregatorResult {
  /** Requested layers, [B, S, P, 2C] each. */
  layers: Map<number, E.Tensor>;
  /** DINOv2 outputs for parity checks: patch tokens [B·S, h·w, C], position table [1, 1 + h·w, C]. */
  patchTokens: E.Tensor;
  posEmbed: E.Tensor;
}

/** images [B, S, 3, H, W] in [0, 1] → the requested aggregator layers. */
export function aggregator(
  g: E.Graph,
  images: E.Tensor,
  c: VggtConfig,
  layers: readonly number[],
): AggregatorResult {
  const a = c.aggregator;
  const C = a.embedDim;
  const [H, W] = images.shape.slice(3) as number[];
  const grid = { h: H / c.patchSize, w: W / c.patchSize };
  const P = patchStartIdx(c) + grid.h * grid.w;
  const D = C / a.numHeads;
  const last = Math.max(...layers);

  const mean = E.constant(g, tensor('float32', [1, 1, 3, 1, 1], RESNET_MEAN));
  const std = E.constant(g, tensor('float32', [1, 1, 3, 1, 1], RESNET_STD));
  const normalized = E.reshape(E.div(E.sub(images, mean), std), [IMAGES, 3, H, W]);
  const dino = patchEmbed(g, normalized, 'aggregator.patch_embed', c, grid);

  const camera = g.param('aggregator.camera_token', 'float32', [1, 2, 1, C]);
  const register = g.param('aggregator.register_token', 'float32', [1, 2, a.numRegisterTokens, C]);
  let x = E.concat(
    [
      specialTokens(g, camera, images, 1, C),
      specialTokens(g, register, images, a.numRegisterTokens, C),
      dino.tokens,
    ],
    1,
  ); // [B·S, P, C]

  const tables = ropeTables(c, grid);
  const cos = E.constant(g, tensor('float32', [P, 1, D], tables.cos));
  const sin = E.constant(g, tensor('float32', [P, 1, D], tables.sin));
  // QK-norm (LayerNorm over the head dim, eps 1e-5) then RoPE, per frame whatever the attention layout.
  const qk = (prefix: string) => (t: E.Tensor, which: 'q' | 'k') => {
    const heads = E.reshape(t, [IMAGES, P, a.numHeads, D]);
    const w = g.param(`${prefix}.attn.${which}_norm.weight`, 'float32', [D]);
    const b = g.param(`${prefix}.attn.${which}_norm.bias`, 'float32', [D]);
    return E.reshape(rope2d(E.layerNorm(heads, w, b, 1e-5), cos, sin), t.shape);
  };
  const run = (t: E.Tensor, prefix: string) =>
    transformerBlock(g, t, prefix, {
      dim: C,
      numHeads: a.numHeads,
      mlpRatio: a.mlpRatio,
      eps: 1e-5,
      qk: qk(prefix),
    });
  const perFrame = (t: E.Tensor) => E.reshape(t, [BATCH, FRAMES, P, C]);

  const out = new Map<number, E.Tensor>();
  for (let i = 0; i <= last; i++) {
    const frame = run(E.reshape(x, [IMAGES, P, C]), `aggregator.frame_blocks.${i}`);
    x = run(E.reshape(frame, [BATCH, `${P}*${FRAMES}`, C]), `aggregator.global_blocks.${i}`);
    if (layers.includes(i)) out.set(i, E.concat([perFrame(frame), perFrame(x)], -1));
  }
  return { layers: out, patchTokens: dino.tokens, posEmbed: dino.posEmbed };
}
