// Index bookkeeping of the Qwen2.5-VL vision tower, on the host: which patches attend together (full attention
// per frame, or windows of merged tokens), the window reordering, and the 2D rotary positions/angles.
// Upstream: transformers 4.51 `models/qwen2_5_vl/modeling_qwen2_5_vl.py`,
// `Qwen2_5_VisionTransformerPretrainedModel.get_window_index`, `.rot_pos_emb`, `.forward` (cu_seqlens).
// Patch order everywhere is the processor's: (t, h/2, w/2, 2, 2), so each 2×2 merge group is 4 consecutive rows.

import type { GridThw } from './rope_index.ts';

export interface WindowConfig {
  /** Window side in pixels (112 in Qwen2.5-VL), patch side (14) and spatial merge (2). */
  windowSize: number;
  patchSize: number;
  spatialMergeSize: number;
}

export interface WindowIndex {
  /** Permutation of merged-token indices into window order (window by window, row-major inside a window). */
  windowIndex: Int32Array;
  /** Cumulative window boundaries in patches as upstream returns them, empty windows repeating a value. */
  cuWindowSeqlensRaw: number[];
  /** The same with repeats removed (torch.unique_consecutive): what the windowed blocks attend over. */
  cuWindowSeqlens: Int32Array;
}

/**
 * Windows of (window side / merge / patch)² merged tokens tiling each frame. Like upstream, the grid is padded by
 * side − (n mod side) cells, so a whole empty row/column of windows is added even when n divides evenly; those
 * windows contribute zero-length entries that unique_consecutive removes.
 */
export function windowIndex(grids: readonly GridThw[], config: WindowConfig): WindowIndex {
  const m = config.spatialMergeSize;
  const side = Math.floor(Math.floor(config.windowSize / m) / config.patchSize);
  const order: number[] = [];
  const raw = [0];
  let offset = 0;
  for (const [t, h, w] of grids) {
    const [lh, lw] = [Math.floor(h / m), Math.floor(w / m)];
    const windowsH = (lh + side - (lh % side)) / side;
    const windowsW = (lw + side - (lw % side)) / side;
    for (let f = 0; f < t; f++) {
      for (let wh = 0; wh < windowsH; wh++) {
        for (let ww = 0; ww < windowsW; ww++) {
          let count = 0;
          for (let r = wh * side; r < Math.min((wh + 1) * side, lh); r++) {
            for (let c = ww * side; c < Math.min((ww + 1) * side, lw); c++) {
              order.push(offset + (f * lh + r) * lw + c);
              count++;
            }
          }
          raw.push(raw[raw.length - 1] + count * m * m);
        }
      }
    }
    offset += t * lh * lw;
  }
  const unique = raw.filter((v, i) => i === 0 || v !== raw[i - 1]);
  return {
    windowIndex: Int32Array.from(order),
    cuWindowSeqlensRaw: raw,
    cuWindowSeqlens: Int32Array.from(unique),
  };
}

/** Full-attention boundaries in patches: one segment of h·w patches per temporal step of every grid. */
export function cuSeqlens(grids: readonly GridThw[]): Int32Array {
  const out = [0];
  for (const [t, h, w] of grids) for (let f = 0; f < t; f++) out.push(out[out.length - 1] + h * w);
  return Int32Array.from(out);
}

/** Patch rows in window order: each merged token of the window index brings its `mergeUnit` (4) patches. */
export function patchWindowOrder(windowIdx: Int32Array, mergeUnit: number): Int32Array {
  const out = new Int32Array(windowIdx.length * mergeUnit);
  windowIdx.forEach((token, i) => {
    for (let j = 0; j < mergeUnit; j++) out[i * mergeUnit + j] = token * mergeUnit + j;
  });
  return out;
}

/** The inverse permutation (upstream's argsort(window_index), which restores the merger output's order). */
export function inversePermutation(perm: Int32Array): Int32Array {
  const out = new Int32Array(perm.length);
  perm.forEach((p, i) => {
    out[p] = i;
  });
  return out;
}

/** (row, column) patch position of every patch, [N, 2], in the processor's patch order. */
export function rotaryPositionIds(grids: readonly GridThw[], spatialMergeSize: number): Int32Array {
  const m = spatialMergeSize;
  const out: number[] = [];
  for (const [t, h, w] of grids) {
    for (let f = 0; f < t; f++)
      for (let bh = 0; bh < h / m; bh++)
        for (let bw = 0; bw < w / m; bw++)
          for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) out.push(bh * m + i, bw * m + j);
  }
  return Int32Array.from(out);
}

/**
 * Rotary angles per patch, [N, headDim/2]: the first headDim/4 columns are row · inv_freq, the rest column ·
 * inv_freq, inv_freq_k = 1 / θ^(2k / (headDim/2)), all in float32 like upstream's rot_pos_emb.
 */
export function rotaryAngles(
  grids: readonly GridThw[],
  headDim: number,
  spatialMergeSize: number,
  theta = 10000,
): Float32Array {
  const f = Math.fround;
  const dim = headDim / 2;
  const invFreq = Array.from({ length: dim / 2 }, (_, k) => f(1 / f(theta ** f((2 * k) / dim))));
  const pos = rotaryPositionIds(grids, spatialMergeSize);
  const out = new Float32Array((pos.length / 2) * dim);
  for (let n = 0; n < pos.length / 2; n++) {
    for (let k = 0; k < dim / 2; k++) {
      out[n * dim + k] = pos[n * 2] * invFreq[k];
      out[n * dim + dim / 2 + k] = pos[n * 2 + 1] * invFreq[k];
    }
  }
  return out;
}
