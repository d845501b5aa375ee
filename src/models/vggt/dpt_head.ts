// VGGT's DPT heads (vggt `heads/dpt_head.py`, `heads/utils.py`, `heads/head_act.py`): patch tokens of four
// aggregator layers → per-pixel predictions with a confidence. Depth head: 2 channels, exp / 1+exp; point head:
// 4 channels, inv_log (sign·expm1|x|) / 1+exp. Every op works per frame, so upstream's chunks of 8 frames change
// no number: this graph takes whatever frames it is given (model.ts feeds chunks to bound memory).
import * as E from '../../engine/index.ts';
import { torchLinspace32 } from '../../python_compat.ts';
import { tensor } from '../../tensor.ts';
import { BATCH, FRAMES, patchStartIdx } from './aggregator.ts';
import type { VggtConfig } from './config.ts';
import { expm1 } from './ops_extra.ts';
import type { PatchGrid } from './patch_embed.ts';

export type DptKind = 'depth' | 'point';

const HEAD_FEATURES_2 = 32;
const f32 = Math.fround;

/**
 * 0.1 × the sin-cos embedding of a normalized UV grid, [C, h, w] (upstream `create_uv_grid` with the image's
 * aspect ratio, then `position_grid_to_embed`: x embedding then y, each [sin, cos] over C/4 frequencies
 * 1/100^(k/(C/4)); products and sin/cos in float64 as upstream, then float32).
 */
export function uvEmbedding(channels: number, h: number, w: number, aspect: number): Float32Array {
  const diag = Math.sqrt(aspect * aspect + 1);
  const [spanX, spanY] = [aspect / diag, 1 / diag];
  const xs = torchLinspace32((-spanX * (w - 1)) / w, (spanX * (w - 1)) / w, w);
  const ys = torchLinspace32((-spanY * (h - 1)) / h, (spanY * (h - 1)) / h, h);
  const quarter = channels / 4;
  const omega = Array.from({ length: quarter }, (_, k) => 1 / 100 ** (k / quarter));
  const out = new Float32Array(channels * h * w);
  const ratio = f32(0.1);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < quarter; k++) {
        const ax = xs[x] * omega[k];
        const ay = ys[y] * omega[k];
        const values = [Math.sin(ax), Math.cos(ax), Math.sin(ay), Math.cos(ay)];
        values.forEach((v, part) => {
          out[((part * quarter + k) * h + y) * w + x] = f32(f32(v) * ratio);
        });
      }
  return out;
}

interface Ctx {
  g: E.Graph;
  prefix: string;
}

const param = ({ g, prefix }: Ctx, name: string, shape: number[]) =>
  g.param(`${prefix}.${name}`, 'float32', shape);

function conv(
  ctx: Ctx,
  x: E.Tensor,
  name: string,
  inC: number,
  outC: number,
  k: number,
  o: { stride?: number; bias?: boolean } = {},
): E.Tensor {
  const pad = k === 3 ? 1 : 0;
  const bias = o.bias === false ? null : param(ctx, `${name}.bias`, [outC]);
  return E.conv2d(x, param(ctx, `${name}.weight`, [outC, inC, k, k]), bias, {
    strides: [o.stride ?? 1, o.stride ?? 1],
    pads: [pad, pad, pad, pad],
  });
}

const bilinear = (x: E.Tensor, size: [number, number]) =>
  E.resize(x, size, { mode: 'linear', coordinates: 'align_corners' });

/**
 * ResidualConvUnit. Upstream's activation is nn.ReLU(inplace=True) applied to the unit's input first, so the
 * skip connection adds relu(x), not x.
 */
function residualUnit(ctx: Ctx, x: E.Tensor, name: string, features: number): E.Tensor {
  const conv3 = (t: E.Tensor, n: string) => conv(ctx, t, `${name}.${n}`, features, features, 3);
  const r = E.relu(x);
  return E.add(conv3(E.relu(conv3(r, 'conv1')), 'conv2'), r);
}

/** FeatureFusionBlock: (x [+ resConfUnit1(skip)]) → resConfUnit2 → bilinear to `size` → 1×1 out_conv. */
function fusion(
  ctx: Ctx,
  name: string,
  x: E.Tensor,
  skip: E.Tensor | null,
  size: [number, number],
  features: number,
) {
  let out = skip ? E.add(x, residualUnit(ctx, skip, `${name}.resConfUnit1`, features)) : x;
  out = residualUnit(ctx, out, `${name}.resConfUnit2`, features);
  return conv(ctx, bilinear(out, size), `${name}.out_conv`, features, features, 1);
}

/** resize_layers[i]: ×4 and ×2 transposed convs, identity, a stride-2 3×3 conv (pyramid of 4, 2, 1, ½ × the grid). */
function resizeLayer(ctx: Ctx, x: E.Tensor, i: number, channels: number): E.Tensor {
  const name = `resize_layers.${i}`;
  if (i === 2) return x;
  if (i === 3) return conv(ctx, x, name, channels, channels, 3, { stride: 2 });
  const k = i === 0 ? 4 : 2;
  const w = param(ctx, `${name}.weight`, [channels, channels, k, k]);
  return E.convTranspose2d(x, w, param(ctx, `${name}.bias`, [channels]), { strides: [k, k] });
}

export interface DptResult {
  /** depth [B, S, H, W, 1] or world points [B, S, H, W, 3]. */
  value: E.Tensor;
  /** [B, S, H, W]. */
  conf: E.Tensor;
}

/** layers: the aggregator outputs [B, S, P, 2C] at `c.dpt.layers`, in that order; image size [H, W]. */
export function dptHead(
  g: E.Graph,
  kind: DptKind,
  layers: E.Tensor[],
  c: VggtConfig,
  size: [number, number],
): DptResult {
  const ctx: Ctx = { g, prefix: `${kind}_head` };
  const [H, W] = size;
  const grid: PatchGrid = { h: H / c.patchSize, w: W / c.patchSize };
  const dim = 2 * c.aggregator.embedDim;
  const { features, outChannels: oc } = c.dpt;
  const start = patchStartIdx(c);
  const P = start + grid.h * grid.w;
  const posEmbed = (x: E.Tensor) => {
    const [ch, h, w] = x.shape.slice(1) as number[];
    return E.add(x, E.constant(g, tensor('float32', [1, ch, h, w], uvEmbedding(ch, h, w, W / H))));
  };
  const norm = [param(ctx, 'norm.weight', [dim]), param(ctx, 'norm.bias', [dim])] as const;

  const pyramid = layers.map((tokens, i) => {
    const patches = E.slice(E.reshape(tokens, [`${BATCH}*${FRAMES}`, P, dim]), [1], [start], [P]);
    const normed = E.layerNorm(patches, norm[0], norm[1], 1e-5);
    const map = E.reshape(E.transpose(normed, [0, 2, 1]), [`${BATCH}*${FRAMES}`, dim, grid.h, grid.w]);
    const x = posEmbed(conv(ctx, map, `projects.${i}`, dim, oc[i], 1));
    const resized = resizeLayer(ctx, x, i, oc[i]);
    return conv(ctx, resized, `scratch.layer${i + 1}_rn`, oc[i], features, 3, { bias: false });
  });
  const sizeOf = (t: E.Tensor) => t.shape.slice(2) as [number, number];
  const [l1, l2, l3, l4] = pyramid;
  let out = fusion(ctx, 'scratch.refinenet4', l4, null, sizeOf(l3), features);
  out = fusion(ctx, 'scratch.refinenet3', out, l3, sizeOf(l2), features);
  out = fusion(ctx, 'scratch.refinenet2', out, l2, sizeOf(l1), features);
  const [h1, w1] = sizeOf(l1);
  out = fusion(ctx, 'scratch.refinenet1', out, l1, [2 * h1, 2 * w1], features);
  out = conv(ctx, out, 'scratch.output_conv1', features, features / 2, 3);
  out = posEmbed(bilinear(out, [grid.h * c.patchSize, grid.w * c.patchSize]));
  const outDim = kind === 'depth' ? 2 : 4;
  out = E.relu(conv(ctx, out, 'scratch.output_conv2.0', features / 2, HEAD_FEATURES_2, 3));
  out = conv(ctx, out, 'scratch.output_conv2.2', HEAD_FEATURES_2, outDim, 1);

  const hwc = E.reshape(E.transpose(out, [0, 2, 3, 1]), [BATCH, FRAMES, H, W, outDim]);
  const [raw, confRaw] = E.split(hwc, [outDim - 1, 1], -1);
  const value =
    kind === 'depth' ? E.exp(raw) : E.where(E.less(raw, 0), E.neg(expm1(E.abs(raw))), expm1(E.abs(raw)));
  const conf = E.add(E.exp(E.squeeze(confRaw, [-1])), 1);
  return { value, conf };
}
