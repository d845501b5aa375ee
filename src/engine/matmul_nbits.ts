// 4-bit (or 8-bit) block-quantized matmul y = x · dequant(W)ᵀ with W stored as ONNX Runtime's MatMulNBits expects
// (com.microsoft, see onnxruntime docs/ContribOperators.md): B uint8 [N, blocks, blockSize·bits/8] (two 4-bit
// values per byte, low nibble first), scales [N·blocks], zero points packed uint8 (absent = 2^(bits−1)).
// Primitive lowering dequantizes in the graph with standard ops; fused emits MatMulNBits.
// Training through a frozen quantized weight (QLoRA): autodiff keeps the composite (its vjp below), so a training
// graph runs the forward as MatMulNBits and no float copy of W outlives one product. The input gradient
// dX = dY·W needs W along the other axis; MatMulNBits cannot contract over N (its blocks run along K), and
// re-quantizing Wᵀ would change the values, so the gradient dequantizes W (GatherBlockQuantized of every row: the
// exact values the forward used) right where it is consumed, and ONNX Runtime frees it after that one MatMul.

import { tensor } from '../tensor.ts';
import { defineComposite } from './composite.ts';
import type { Graph, Tensor } from './graph.ts';
import {
  bitShift,
  bitwiseAnd,
  cast,
  concat,
  constant,
  gather,
  matmul,
  mul,
  pad,
  range,
  reshape,
  shape,
  slice,
  sub,
  sum,
  transpose,
  unsqueeze,
} from './ops.ts';
import { type Dim, fmt, ShapeError } from './shape.ts';

export interface NBitsOptions {
  k: number;
  n: number;
  bits: 4 | 8;
  blockSize: number;
  /**
   * MatMulNBits `accuracy_level` (fused lowering only): 0 = compute in the activation type (exact dequantized
   * matmul, the default); 4 = quantize activations to int8 per block and use integer kernels (much faster on CPU,
   * small extra error).
   */
  accuracyLevel?: 0 | 1 | 2 | 3 | 4;
}

const blocksOf = (o: NBitsOptions) => Math.ceil(o.k / o.blockSize);

/** uint8 [..., m] of packed nibbles → uint8 [..., 2m], low nibble first. */
function unpack4(q: Tensor): Tensor {
  const lo = bitwiseAnd(q, 0x0f);
  const hi = bitShift(q, 4, 'RIGHT');
  const pairs = concat([unsqueeze(lo, [-1]), unsqueeze(hi, [-1])], -1);
  return reshape(pairs, [...q.shape.slice(0, -1), (q.shape[q.shape.length - 1] as number) * 2]);
}

/**
 * Dequantized rows (code − zero point) · scale, float32 [R, K], of R rows given as qweight [R, blocks, blob],
 * scales [R, blocks] and packed zero points [R, ceil(blocks·bits/8)] (null = the default 2^(bits−1)).
 */
function dequantRows(g: Graph, qw: Tensor, scales: Tensor, zp: Tensor | null, o: NBitsOptions): Tensor {
  const blocks = blocksOf(o);
  const values = o.bits === 4 ? unpack4(qw) : qw; // [R, blocks, blockSize]
  let zero: Tensor;
  if (zp) {
    const z = o.bits === 4 ? unpack4(zp) : zp;
    zero = unsqueeze(slice(z, [-1], [0], [blocks]), [-1]);
  } else zero = constant(g, tensor('uint8', [], [1 << (o.bits - 1)]));
  const centred = sub(cast(values, 'float32'), cast(zero, 'float32'));
  const w = mul(centred, unsqueeze(cast(scales, 'float32'), [-1]));
  return slice(reshape(w, [qw.shape[0], blocks * o.blockSize]), [1], [0], [o.k]);
}

const zeroRows = (zp: Tensor | null, rows: Dim) => (zp ? reshape(zp, [rows, -1]) : null);

const node = defineComposite<NBitsOptions>('MatMulNBits', {
  vjp(g, { x: [x, qw, scales, zp], dy: [d] }, o) {
    // Rows 0..N−1 counted from dY's run-time shape: the dequantization cannot run before dY exists. ONNX Runtime
    // would otherwise be free to schedule it (and hold its float copy of W) from the start of the run: with every
    // layer's rows independent of the data, its default order dequantized all of them before the forward pass.
    const count = gather(shape(d!), constant(g, tensor('int64', [], [d!.shape.length - 1])), 0);
    const w = reshape(gatherNBits(qw!, scales!, zp, range(g, 0, count, 1), o), [o.n, o.k]);
    const dx = matmul(d!, w.dtype === x!.dtype ? w : cast(w, x!.dtype));
    // d scales[n, b] = Σ over block b of dW ⊙ (code − zero point), dW = dYᵀ·X (built always, kept only when a
    // scale trains: lowering prunes what reaches no output).
    const blocks = blocksOf(o);
    const dw = matmul(transpose(reshape(d!, [-1, o.n]), [1, 0]), reshape(x!, [-1, o.k]));
    const one = constant(g, tensor(scales!.dtype, [1, 1], [1]));
    const codes = dequantRows(g, qw!, one, zeroRows(zp, o.n), o); // [N, K], unit scales
    const prod = pad(mul(cast(dw, codes.dtype), codes), [0, 0, 0, blocks * o.blockSize - o.k]);
    const ds = reshape(sum(reshape(prod, [o.n, blocks, o.blockSize]), [2]), [o.n * blocks]);
    return [dx, null, cast(ds, scales!.dtype), null];
  },
  primitive(g, [x, qw, scales, zp], o) {
    const full = dequantRows(g, qw!, reshape(scales!, [o.n, blocksOf(o)]), zeroRows(zp, o.n), o);
    return [matmul(x!, cast(transpose(full, [1, 0]), x!.dtype))];
  },
  fused(g, [x, qw, scales, zp], o) {
    return g.node(
      'MatMulNBits',
      zp ? [x, qw, scales, zp] : [x, qw, scales],
      [{ dtype: x!.dtype, shape: [...x!.shape.slice(0, -1), o.n] }],
      {
        K: o.k,
        N: o.n,
        bits: o.bits,
        block_size: o.blockSize,
        ...(o.accuracyLevel ? { accuracy_level: o.accuracyLevel } : {}),
      },
      { domain: 'com.microsoft' },
    );
  },
});

function checkQuantized(op: string, qweight: Tensor, scales: Tensor, o: NBitsOptions): void {
  const blocks = blocksOf(o);
  const blob = (o.blockSize * o.bits) / 8;
  if (fmt(qweight.shape) !== fmt([o.n, blocks, blob]) || qweight.dtype !== 'uint8')
    throw new ShapeError(
      `${op}: weight must be uint8 [${o.n}, ${blocks}, ${blob}], got ${qweight.dtype}${fmt(qweight.shape)}`,
    );
  if (fmt(scales.shape) !== fmt([o.n * blocks]))
    throw new ShapeError(`${op}: scales must be [${o.n * blocks}], got ${fmt(scales.shape)}`);
  if (o.blockSize < 16 || (o.blockSize & (o.blockSize - 1)) !== 0)
    throw new ShapeError(`${op}: block size ${o.blockSize} must be a power of two ≥ 16`);
}

/** x [..., K] times a quantized [N, K] weight → [..., N]. */
export function matmulNBits(
  x: Tensor,
  qweight: Tensor,
  scales: Tensor,
  zeroPoints: Tensor | null,
  o: NBitsOptions,
): Tensor {
  if (x.shape[x.shape.length - 1] !== o.k)
    throw new ShapeError(`MatMulNBits: x ${fmt(x.shape)} must end in K=${o.k}`);
  checkQuantized('MatMulNBits', qweight, scales, o);
  return node(
    x.graph,
    [x, qweight, scales, zeroPoints],
    [{ dtype: x.dtype, shape: [...x.shape.slice(0, -1), o.n] }],
    o,
  )[0];
}

const gatherNode = defineComposite<NBitsOptions>('GatherNBits', {
  // No float input but the scales, which never train: autodiff keeps the node (and refuses a trainable scale).
  vjp: () => [null, null, null, null],
  primitive(g, [qw, scales, zp, indices], o) {
    const flat = reshape(indices!, [-1]);
    const rows = (t: Tensor) => gather(t, flat, 0);
    const dq = dequantRows(
      g,
      rows(qw!),
      rows(reshape(scales!, [o.n, blocksOf(o)])),
      zp && rows(zeroRows(zp, o.n)!),
      o,
    );
    return [cast(reshape(dq, [...indices!.shape, o.k]), scales!.dtype)];
  },
  fused(g, [qw, scales, zp, indices], o) {
    // com.microsoft.GatherBlockQuantized reads uint8 data [N, K·bits/8] quantized along the last axis with the
    // same packing, scales [N, blocks] and zero points [N, ceil(blocks·bits/8)] (onnxruntime
    // contrib_ops/cpu/quantization/gather_block_quantized.cc): views of MatMulNBits' tensors.
    const blocks = blocksOf(o);
    const out = g.node(
      'GatherBlockQuantized',
      [reshape(qw!, [o.n, -1]), indices, reshape(scales!, [o.n, blocks]), zeroRows(zp, o.n)],
      [{ dtype: scales!.dtype, shape: [...indices!.shape, blocks * o.blockSize] }],
      { gather_axis: 0, quantize_axis: 1, block_size: o.blockSize, bits: o.bits },
      { domain: 'com.microsoft' },
    )[0];
    return [blocks * o.blockSize === o.k ? out : slice(out, [-1], [0], [o.k])];
  },
});

/**
 * Rows `indices` of a quantized [N, K] table stored as for MatMulNBits → float [...indices, K] (an embedding
 * lookup that shares its table with a tied MatMulNBits head: no float copy of the table exists).
 */
export function gatherNBits(
  qweight: Tensor,
  scales: Tensor,
  zeroPoints: Tensor | null,
  indices: Tensor,
  o: NBitsOptions,
): Tensor {
  checkQuantized('GatherNBits', qweight, scales, o);
  if (indices.dtype !== 'int64' && indices.dtype !== 'int32')
    throw new ShapeError(`GatherNBits: indices must be int64 or int32, got ${indices.dtype}`);
  return gatherNode(
    qweight.graph,
    [qweight, scales, zeroPoints, indices],
    [{ dtype: scales.dtype, shape: [...indices.shape, o.k] }],
    o,
  )[0];
}
