// The Qwen2.5-VL vision tower (transformers `Qwen2_5_VisionTransformerPretrainedModel`) for one image or video
// grid (t, h, w) in 14-px patches. The graph is built per grid: the window layout, frame boundaries and rotary
// angles depend only on it and become constants.
//
// Upstream reorders patches into windows of 2×2-merged tokens before block 0 and restores the order after the
// merger. Attention is block-diagonal: full-attention blocks attend within a frame, the others within a window.
// Rather than an [N, N] mask we batch the blocks: frames are equal-sized, contiguous runs in window order
// ([t, h·w, C]); windows are gathered into [windows, L, C] with padding rows whose keys are masked — the masked
// exp() is exactly 0, so the numbers are those of upstream's per-segment attention.
import * as E from '../../engine/index.ts';
import { tensor } from '../../tensor.ts';
import { dense, FP32, type LinearFormat } from '../layers.ts';
import type { VisionConfig } from './config.ts';
import type { GridThw } from './rope_index.ts';
import { inversePermutation, patchWindowOrder, rotaryAngles, windowIndex } from './vision_index.ts';

export interface VisionOptions {
  format?: LinearFormat;
  /** Also output patch_embed, every block's output and the merger output (window order), for parity tests. */
  debug?: boolean;
  /**
   * Stop before the merger and output `vit_hidden` [t·h·w, C]: the last block's output with its 2×2 merge groups
   * (consecutive rows) in the original merged-token order, what `patchMerger` turns into `visual_embeds`. Training
   * runs the frozen blocks this way once and trains the merger on the cached result.
   */
  beforeMerger?: boolean;
}

/**
 * The PatchMerger (`visual.merger`): RMSNorm, 2×2 groups of consecutive rows → 4C, Linear, exact GELU, Linear to
 * the LLM width. Row-wise per merge group, so it commutes with any reordering of whole groups.
 */
export function patchMerger(g: E.Graph, x: E.Tensor, c: VisionConfig, f: LinearFormat = FP32): E.Tensor {
  const C = c.hiddenSize;
  const unit = c.spatialMergeSize ** 2;
  const normed = E.rmsNorm(x, g.param('visual.merger.ln_q.weight', f.dtype, [C]), 1e-6);
  const rows = x.shape[0];
  const grouped = E.reshape(normed, [typeof rows === 'number' ? rows / unit : -1, unit * C]);
  const hidden = E.gelu(dense(g, grouped, 'visual.merger.mlp.0', unit * C, unit * C, true, f));
  return dense(g, hidden, 'visual.merger.mlp.2', unit * C, c.outHiddenSize, true, f);
}

const MASKED = -3.4028234663852886e38;

export interface WindowLayout {
  /** Patch rows of the input in window order. */
  patchOrder: Int32Array;
  /** Padded windows: index into window-ordered rows, n (= a zero row) for padding; [windows·L]. */
  gather: Int32Array;
  /** Position of each window-ordered row inside the padded layout; [n]. */
  scatter: Int32Array;
  /** Additive key mask [windows, 1, L, L]. */
  bias: Float32Array;
  windows: number;
  length: number;
  /** Inverse of the merged-token window permutation. */
  restore: Int32Array;
}

export function windowLayout(grid: GridThw, c: VisionConfig): WindowLayout {
  const unit = c.spatialMergeSize ** 2;
  const w = windowIndex([grid], c);
  const patchOrder = patchWindowOrder(w.windowIndex, unit);
  const bounds = w.cuWindowSeqlens;
  const windows = bounds.length - 1;
  const n = patchOrder.length;
  let length = 0;
  for (let i = 0; i < windows; i++) length = Math.max(length, bounds[i + 1] - bounds[i]);
  const gather = new Int32Array(windows * length).fill(n);
  const scatter = new Int32Array(n);
  const bias = new Float32Array(windows * length * length);
  for (let i = 0; i < windows; i++) {
    const size = bounds[i + 1] - bounds[i];
    for (let j = 0; j < size; j++) {
      gather[i * length + j] = bounds[i] + j;
      scatter[bounds[i] + j] = i * length + j;
    }
    for (let q = 0; q < length; q++)
      for (let k = size; k < length; k++) bias[(i * length + q) * length + k] = MASKED;
  }
  return { patchOrder, gather, scatter, bias, windows, length, restore: inversePermutation(w.windowIndex) };
}

const int64 = (g: E.Graph, v: Int32Array, shape = [v.length]) => E.constant(g, tensor('int64', shape, v));

export function buildVisionEncoder(c: VisionConfig, grid: GridThw, opts: VisionOptions = {}): E.Graph {
  const f = opts.format ?? FP32;
  const [t, h, w] = grid;
  const n = t * h * w;
  const C = c.hiddenSize;
  const headDim = C / c.numHeads;
  const patchDim = c.inChannels * c.temporalPatchSize * c.patchSize ** 2;
  const g = new E.Graph(`qwen2_5_vl_vision_${t}x${h}x${w}`);
  const pixels = g.input('pixel_values', f.dtype, [n, patchDim]);
  const layout = windowLayout(grid, c);

  // Patch embedding: a Conv3d whose kernel equals its stride is a matmul over the flattened patch.
  const conv = g.param('visual.patch_embed.proj.weight', f.dtype, [
    C,
    c.inChannels,
    c.temporalPatchSize,
    c.patchSize,
    c.patchSize,
  ]);
  const embedded = E.matmul(pixels, E.transpose(E.reshape(conv, [C, patchDim]), [1, 0]));
  if (opts.debug) g.output('patch_embed', embedded);
  let x = E.gather(embedded, int64(g, layout.patchOrder), 0); // window order

  // Rotary tables in window order: cos/sin of cat(angles, angles).
  const angles = rotaryAngles([grid], headDim, c.spatialMergeSize);
  const ordered = new Float32Array(n * (headDim / 2));
  const half = headDim / 2;
  layout.patchOrder.forEach((src, dst) => {
    ordered.set(angles.subarray(src * half, (src + 1) * half), dst * half);
  });
  const a = E.constant(g, tensor('float32', [1, n, headDim / 2], ordered));
  const full = E.concat([a, a], -1);
  const cos = E.cast(E.cos(full), f.dtype);
  const sin = E.cast(E.sin(full), f.dtype);

  const padRow = E.constant(g, tensor(f.dtype, [1, C]));
  const gatherIdx = int64(g, layout.gather);
  const scatterIdx = int64(g, layout.scatter);
  const windowBias = E.constant(
    g,
    tensor('float32', [layout.windows, 1, layout.length, layout.length], layout.bias),
  );

  const attend = (q: E.Tensor, k: E.Tensor, v: E.Tensor, fullAttention: boolean): E.Tensor => {
    if (fullAttention) {
      const frames = (x: E.Tensor) => E.reshape(x, [t, h * w, C]);
      return E.reshape(E.attention(frames(q), frames(k), frames(v), { numHeads: c.numHeads }).out, [n, C]);
    }
    const win = (x: E.Tensor) =>
      E.reshape(E.gather(E.concat([x, padRow], 0), gatherIdx, 0), [layout.windows, layout.length, C]);
    const out = E.attention(win(q), win(k), win(v), { numHeads: c.numHeads, bias: windowBias }).out;
    return E.gather(E.reshape(out, [layout.windows * layout.length, C]), scatterIdx, 0);
  };

  for (let i = 0; i < c.depth; i++) {
    const p = `visual.blocks.${i}`;
    const hN = E.rmsNorm(x, g.param(`${p}.norm1.weight`, f.dtype, [C]), 1e-6);
    const [q, k, v] = E.split(dense(g, hN, `${p}.attn.qkv`, C, 3 * C, true, f), [C, C, C], -1);
    const rope = (y: E.Tensor) => E.reshape(E.rotary(E.unsqueeze(y, [0]), cos, sin, c.numHeads), [n, C]);
    const att = attend(rope(q), rope(k), v, c.fullAttBlockIndexes.includes(i));
    x = E.add(x, dense(g, att, `${p}.attn.proj`, C, C, true, f));
    const h2 = E.rmsNorm(x, g.param(`${p}.norm2.weight`, f.dtype, [C]), 1e-6);
    const gate = E.silu(dense(g, h2, `${p}.mlp.gate_proj`, C, c.intermediateSize, true, f));
    const up = dense(g, h2, `${p}.mlp.up_proj`, C, c.intermediateSize, true, f);
    x = E.add(x, dense(g, E.mul(gate, up), `${p}.mlp.down_proj`, c.intermediateSize, C, true, f));
    if (opts.debug) g.output(`block${i}`, x);
  }

  const unit = c.spatialMergeSize ** 2;
  const restore = int64(g, layout.restore);
  if (opts.beforeMerger) {
    const groups = E.gather(E.reshape(x, [n / unit, unit * C]), restore, 0);
    g.output('vit_hidden', E.reshape(groups, [n, C]));
    return g;
  }
  // Merger on window-ordered groups, then the original order.
  const merged = patchMerger(g, x, c, f);
  if (opts.debug) g.output('merger', merged);
  g.output('visual_embeds', E.gather(merged, restore, 0));
  return g;
}
