// Layer helpers shared by the model files: parameters declared under their checkpoint names.
import * as E from '../engine/index.ts';
import type { DType } from '../tensor.ts';

/** How linear weights are stored in the graph: as floats, block-quantized for MatMulNBits, or W8A8. */
export interface LinearFormat {
  dtype: DType;
  /** accuracyLevel: see NBitsOptions (4 = int8 activations, fast on CPU). */
  quant?: { bits: 4 | 8; blockSize: number; accuracyLevel?: 0 | 1 | 2 | 3 | 4 };
  /**
   * int8 weights per output channel and int8 activations scaled per token or per tensor (engine/matmul_int8.ts:
   * ONNX Runtime's integer GEMM, the fastest CPU path for the encoders' many-token products); float32 only.
   */
  w8a8?: E.ActivationScale;
}

export const FP32: LinearFormat = { dtype: 'float32' };

/** W8A8 with per-token activation scales. */
export const W8A8: LinearFormat = { dtype: 'float32', w8a8: 'token' };

/** Names under which a quantized linear weight `<name>.weight` is bound (see weights/quantized_source.ts). */
export const quantNames = (name: string) => ({
  qweight: `${name}.weight.qweight`,
  scales: `${name}.weight.scales`,
  zeros: `${name}.weight.zero_points`,
});

/** Names under which a W8A8 weight `<name>.weight` is bound (see weights/quantized_source.ts). */
export const int8Names = (name: string) => ({
  weight: `${name}.weight.int8`,
  scales: `${name}.weight.int8_scales`,
});

/** nn.Linear(inF, outF) named `name` (`name.weight` [out, in], optional `name.bias`). */
export function dense(
  g: E.Graph,
  x: E.Tensor,
  name: string,
  inF: number,
  outF: number,
  bias: boolean,
  f: LinearFormat = FP32,
): E.Tensor {
  const b = bias ? g.param(`${name}.bias`, f.dtype, [outF]) : null;
  if (f.w8a8) {
    const n = int8Names(name);
    const y = E.matmulInt8(
      x,
      g.param(n.weight, 'int8', [inF, outF]),
      g.param(n.scales, 'float32', [outF]),
      f.w8a8,
    );
    return b ? E.add(y, b) : y;
  }
  if (!f.quant) return E.linear(x, g.param(`${name}.weight`, f.dtype, [outF, inF]), b);
  const { qweight, scales, zeros, options } = quantizedWeight(g, name, inF, outF, f);
  const y = E.matmulNBits(x, qweight, scales, zeros, options);
  return b ? E.add(y, b) : y;
}

/** The parameters of a quantized weight `<name>.weight` [outF, inF] as MatMulNBits (and GatherNBits) read them. */
export function quantizedWeight(g: E.Graph, name: string, inF: number, outF: number, f: LinearFormat) {
  if (!f.quant) throw new Error(`${name}: not a quantized format`);
  const { bits, blockSize, accuracyLevel } = f.quant;
  const blocks = Math.ceil(inF / blockSize);
  const n = quantNames(name);
  const options: E.NBitsOptions = { k: inF, n: outF, bits, blockSize, accuracyLevel };
  return {
    qweight: g.param(n.qweight, 'uint8', [outF, blocks, (blockSize * bits) / 8]),
    scales: g.param(n.scales, f.dtype, [outF * blocks]),
    zeros: g.param(n.zeros, 'uint8', [outF * Math.ceil((blocks * bits) / 8)]),
    options,
  };
}

export interface BlockOptions {
  dim: number;
  numHeads: number;
  mlpRatio: number;
  /** LayerNorm epsilon of norm1/norm2: 1e-6 in DINOv2, 1e-5 (nn.LayerNorm default) elsewhere in VGGT. */
  eps: number;
  /** Applied to q and k ([..., dim] packed heads) before attention: VGGT's QK-norm + RoPE. */
  qk?: (t: E.Tensor, which: 'q' | 'k') => E.Tensor;
  /** How the linear weights are stored (default float32). */
  format?: LinearFormat;
}

/** Pre-norm transformer block with LayerScale: x + ls1·attn(norm1(x)); x + ls2·mlp(norm2(x)). DINOv2 and VGGT
 * (vggt `layers/block.py`): the patch embed, the aggregator's frame/global blocks and the camera head trunk. */
export function transformerBlock(g: E.Graph, x: E.Tensor, prefix: string, o: BlockOptions): E.Tensor {
  const { dim } = o;
  const hidden = Math.floor(dim * o.mlpRatio);
  const p = (name: string, shape: number[]) => g.param(`${prefix}.${name}`, 'float32', shape);
  const norm = (t: E.Tensor, name: string) =>
    E.layerNorm(t, p(`${name}.weight`, [dim]), p(`${name}.bias`, [dim]), o.eps);
  const linear = (t: E.Tensor, name: string, inF: number, outF: number) =>
    dense(g, t, `${prefix}.${name}`, inF, outF, true, o.format);

  const [q, k, v] = E.split(linear(norm(x, 'norm1'), 'attn.qkv', dim, 3 * dim), [dim, dim, dim], -1);
  const qq = o.qk ? o.qk(q, 'q') : q;
  const kk = o.qk ? o.qk(k, 'k') : k;
  const attn = linear(E.attention(qq, kk, v, { numHeads: o.numHeads }).out, 'attn.proj', dim, dim);
  const h = E.add(x, E.mul(attn, p('ls1.gamma', [dim])));
  const mlp = linear(E.gelu(linear(norm(h, 'norm2'), 'mlp.fc1', dim, hidden)), 'mlp.fc2', hidden, dim);
  return E.add(h, E.mul(mlp, p('ls2.gamma', [dim])));
}
