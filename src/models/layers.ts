// Layer helpers shared by the model files: parameters declared under their checkpoint names.
import { add, type Graph, linear, matmulNBits, type NBitsOptions, type Tensor } from '../engine/index.ts';
import type { DType } from '../tensor.ts';

/** How linear weights are stored in the graph: as floats, or block-quantized for MatMulNBits. */
export interface LinearFormat {
  dtype: DType;
  /** accuracyLevel: see NBitsOptions (4 = int8 activations, fast on CPU). */
  quant?: { bits: 4 | 8; blockSize: number; accuracyLevel?: 0 | 1 | 2 | 3 | 4 };
}

export const FP32: LinearFormat = { dtype: 'float32' };

/** Names under which a quantized linear weight `<name>.weight` is bound (see weights/quantized_source.ts). */
export const quantNames = (name: string) => ({
  qweight: `${name}.weight.qweight`,
  scales: `${name}.weight.scales`,
  zeros: `${name}.weight.zero_points`,
});

/** nn.Linear(inF, outF) named `name` (`name.weight` [out, in], optional `name.bias`). */
export function dense(
  g: Graph,
  x: Tensor,
  name: string,
  inF: number,
  outF: number,
  bias: boolean,
  f: LinearFormat = FP32,
): Tensor {
  const b = bias ? g.param(`${name}.bias`, f.dtype, [outF]) : null;
  if (!f.quant) return linear(x, g.param(`${name}.weight`, f.dtype, [outF, inF]), b);
  const { qweight, scales, zeros, options } = quantizedWeight(g, name, inF, outF, f);
  const y = matmulNBits(x, qweight, scales, zeros, options);
  return b ? add(y, b) : y;
}

/** The parameters of a quantized weight `<name>.weight` [outF, inF] as MatMulNBits (and GatherNBits) read them. */
export function quantizedWeight(g: Graph, name: string, inF: number, outF: number, f: LinearFormat) {
  if (!f.quant) throw new Error(`${name}: not a quantized format`);
  const { bits, blockSize, accuracyLevel } = f.quant;
  const blocks = Math.ceil(inF / blockSize);
  const n = quantNames(name);
  const options: NBitsOptions = { k: inF, n: outF, bits, blockSize, accuracyLevel };
  return {
    qweight: g.param(n.qweight, 'uint8', [outF, blocks, (blockSize * bits) / 8]),
    scales: g.param(n.scales, f.dtype, [outF * blocks]),
    zeros: g.param(n.zeros, 'uint8', [outF * Math.ceil((blocks * bits) / 8)]),
    options,
  };
}
