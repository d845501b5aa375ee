// DINOv2 ViT-L/14 with 4 register tokens, VGGT's patch embedding (vggt `layers/vision_transformer.py`); its blocks
// are the shared transformerBlock (models/layers.ts).
//
// Position table: DINOv2 resizes its 37×37 table to the patch grid with F.interpolate(bicubic, antialias=True,
// size=grid). ONNX Resize cannot express that kernel for every grid: PyTorch's antialiased path uses Pillow's
// cubic (a = −0.5) with weights clipped at the border and renormalized, also when upsampling, while ONNX applies
// antialias only when downscaling. The resize is linear in the table, so we compute its weights on the host
// (they depend on the grid only) and apply them in the graph as two matmuls: the graph stays weight-free.
import * as E from '../../engine/index.ts';
import { tensor } from '../../tensor.ts';
import { transformerBlock } from '../layers.ts';
import type { VggtConfig } from './config.ts';

/** Pillow's bicubic filter (a = −0.5), used by PyTorch's antialiased bicubic (`aten/src/ATen/native/cpu/UpSampleKernel.cpp`). */
function cubicAA(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/**
 * Row-major [outSize, inSize] weights of PyTorch's F.interpolate(mode='bicubic', antialias=True,
 * align_corners=False) along one axis: support 2·max(scale, 1) around the source centre scale·(i + 0.5), taps
 * clipped to the input and renormalized to sum 1.
 */
export function bicubicAAWeights(inSize: number, outSize: number): Float32Array {
  const scale = inSize / outSize;
  const support = scale >= 1 ? 2 * scale : 2;
  const invScale = scale >= 1 ? 1 / scale : 1;
  const w = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const taps: number[] = [];
    for (let j = lo; j < hi; j++) taps.push(cubicAA((j - center + 0.5) * invScale));
    const total = taps.reduce((s, v) => s + v, 0);
    taps.forEach((v, k) => {
      w[i * inSize + lo + k] = total !== 0 ? v / total : v;
    });
  }
  return w;
}

export interface PatchGrid {
  /** Patch rows (H / 14) and columns (W / 14). */
  h: number;
  w: number;
}

/**
 * DINOv2 position embeddings for a patch grid: [1, 1 + h·w, C] (cls entry first), from the parameter
 * `pos_embed` [1, 1 + M², C] (upstream `interpolate_pos_encoding` with interpolate_offset 0).
 */
export function interpolatedPosEmbed(g: E.Graph, prefix: string, c: VggtConfig, grid: PatchGrid): E.Tensor {
  const C = c.aggregator.patchEmbed.embedDim;
  const M = c.imgSize / c.patchSize;
  const table = g.param(`${prefix}.pos_embed`, 'float32', [1, 1 + M * M, C]);
  const cls = E.slice(table, [1], [0], [1]);
  const patches = E.reshape(E.slice(table, [1], [1], [1 + M * M]), [M, M, C]);
  const wx = E.constant(g, tensor('float32', [grid.w, M], bicubicAAWeights(M, grid.w)));
  const wy = E.constant(g, tensor('float32', [grid.h, M], bicubicAAWeights(M, grid.h)));
  // Horizontal pass (per table row), then vertical, as PyTorch's separable kernel.
  const rows = E.matmul(wx, patches); // [M, w, C]
  const resized = E.matmul(wy, E.reshape(rows, [M, grid.w * C])); // [h, w·C]
  return E.concat([cls, E.reshape(resized, [1, grid.h * grid.w, C])], 1);
}

export interface PatchEmbedResult {
  /** `x_norm_patchtokens`: [N, h·w, C]. */
  tokens: E.Tensor;
  posEmbed: E.Tensor;
}

/** Normalized images [N, 3, H, W] → DINOv2 patch tokens. `prefix` is the module path (`aggregator.patch_embed`). */
export function patchEmbed(
  g: E.Graph,
  images: E.Tensor,
  prefix: string,
  c: VggtConfig,
  grid: PatchGrid,
): PatchEmbedResult {
  const d = c.aggregator.patchEmbed;
  const C = d.embedDim;
  const ps = c.patchSize;
  const R = c.aggregator.numRegisterTokens;
  const n = images.shape[0];
  const p = (name: string, shape: number[]) => g.param(`${prefix}.${name}`, 'float32', shape);

  const conv = E.conv2d(
    images,
    p('patch_embed.proj.weight', [C, 3, ps, ps]),
    p('patch_embed.proj.bias', [C]),
    {
      strides: [ps, ps],
    },
  );
  const patches = E.transpose(E.reshape(conv, [n, C, grid.h * grid.w]), [0, 2, 1]);
  const cls = E.expand(p('cls_token', [1, 1, C]), [n, 1, C]);
  const posEmbed = interpolatedPosEmbed(g, prefix, c, grid);
  const withPos = E.add(E.concat([cls, patches], 1), posEmbed);
  // Registers join after the position embedding (they get none), between cls and the patches.
  const registers = E.expand(p('register_tokens', [1, R, C]), [n, R, C]);
  let x = E.concat(
    [E.slice(withPos, [1], [0], [1]), registers, E.slice(withPos, [1], [1], [1 + grid.h * grid.w])],
    1,
  );
  for (let i = 0; i < d.depth; i++)
    x = transformerBlock(g, x, `${prefix}.blocks.${i}`, {
      dim: C,
      numHeads: d.numHeads,
      mlpRatio: d.mlpRatio,
      eps: 1e-6,
    });
  const normed = E.layerNorm(x, p('norm.weight', [C]), p('norm.bias', [C]), 1e-6);
  return { tokens: E.slice(normed, [1], [1 + R], [1 + R + grid.h * grid.w]), posEmbed };
}
