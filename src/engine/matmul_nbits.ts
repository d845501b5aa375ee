// 4-bit (or 8-bit) block-quantized matmul y = x · dequant(W)ᵀ with W stored as ONNX Runtime's MatMulNBits expects
// (com.microsoft, see onnxruntime docs/ContribOperators.md): B uint8 [N, blocks, blockSize·bits/8] (two 4-bit
// values per byte, low nibble first), scales [N·blocks], zero points packed uint8 (absent = 2^(bits−1)).
// Primitive lowering dequantizes in the graph with standard ops; fused emits MatMulNBits.

import { tensor } from '../tensor.ts';
import { defineComposite } from './composite.ts';
import type { Tensor } from './graph.ts';
import {
  bitShift,
  bitwiseAnd,
  cast,
  concat,
  constant,
  matmul,
  mul,
  reshape,
  slice,
  sub,
  transpose,
  unsqueeze,
} from './ops.ts';
import { fmt, ShapeError } from './shape.ts';

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

const node = defineComposite<NBitsOptions>('MatMulNBits', {
  primitive(g, [x, qw, scales, zp], o) {
    const blocks = blocksOf(o);
    const values = o.bits === 4 ? unpack4(qw!) : qw!; // [N, blocks, blockSize]
    let zero: Tensor;
    if (zp) {
      const z = o.bits === 4 ? unpack4(reshape(zp, [o.n, -1])) : reshape(zp, [o.n, -1]);
      zero = unsqueeze(slice(z, [1], [0], [blocks]), [-1]);
    } else zero = constant(g, tensor('uint8', [], [1 << (o.bits - 1)]));
    const centred = sub(cast(values, 'float32'), cast(zero, 'float32'));
    const w = mul(centred, reshape(cast(scales!, 'float32'), [o.n, blocks, 1]));
    const full = slice(reshape(w, [o.n, blocks * o.blockSize]), [1], [0], [o.k]);
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

/** x [..., K] times a quantized [N, K] weight → [..., N]. */
export function matmulNBits(
  x: Tensor,
  qweight: Tensor,
  scales: Tensor,
  zeroPoints: Tensor | null,
  o: NBitsOptions,
): Tensor {
  const blocks = blocksOf(o);
  const blob = (o.blockSize * o.bits) / 8;
  if (x.shape[x.shape.length - 1] !== o.k)
    throw new ShapeError(`MatMulNBits: x ${fmt(x.shape)} must end in K=${o.k}`);
  if (fmt(qweight.shape) !== fmt([o.n, blocks, blob]) || qweight.dtype !== 'uint8')
    throw new ShapeError(
      `MatMulNBits: weight must be uint8 [${o.n}, ${blocks}, ${blob}], got ${qweight.dtype}${fmt(qweight.shape)}`,
    );
  if (fmt(scales.shape) !== fmt([o.n * blocks]))
    throw new ShapeError(`MatMulNBits: scales must be [${o.n * blocks}], got ${fmt(scales.shape)}`);
  if (o.blockSize < 16 || (o.blockSize & (o.blockSize - 1)) !== 0)
    throw new ShapeError(`MatMulNBits: block size ${o.blockSize} must be a power of two ≥ 16`);
  return node(
    x.graph,
    [x, qweight, scales, zeroPoints],
    [{ dtype: x.dtype, shape: [...x.shape.slice(0, -1), o.n] }],
    o,
  )[0];
}
