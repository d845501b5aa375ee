// Layer helpers shared by the model files: parameters declared under their checkpoint names.
import * as E from '../engine/index.ts';
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
  g: E.Graph,
  x: E.Tensor,
  name: string,
  inF: number,
  outF: number,
  bias: boolean,
  f: LinearFormat = FP32,
): E.Tensor {
  const b = bias ? g.param(`${name}.bias`, f.dtype, [outF]) : null;
  if (!f.quant) return E.linear(x, g.param(`${name}.weight`, f.dtype, [outF, inF]), b);
  const { bits, blockSize, accuracyLevel } = f.quant;
  const blocks = Math.ceil(inF / blockSize);
  const n = quantNames(name);
  const y = E.matmulNBits(
    x,
    g.param(n.qweight, 'uint8', [outF, blocks, (blockSize * bits) / 8]),
    g.param(n.scales, f.dtype, [outF * blocks]),
    g.param(n.zeros, 'uint8', [outF * Math.ceil((blocks * bits) / 8)]),
    { k: inF, n: outF, bits, blockSize, accuracyLevel },
  );
  return b ? E.add(y, b) : y;
}

export interface BlockOptions {
  dim: number;
  numHeads: number;
  mlpRatio: number;
  /** LayerNorm epsilon of norm1/norm2: 1e-6 in DINOv2, 1e-5 (nn.LayerNorm default) elsewhere in VGGT. */
  eps: number;
  /** Applied to q and k ([..., dim] packed heads) before attention: VGGT's QK-norm + RoPE. */
  qk?: (t: E.Tensor, which: 'q' | 'k') => E.Tensor;
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
    E.linear(t, p(`${name}.weight`, [outF, inF]), p(`${name}.bias`, [outF]));

  const [q, k, v] = E.split(linear(norm(x, 'norm1'), 'attn.qkv', dim, 3 * dim), [dim, dim, dim], -1);
  const qq = o.qk ? o.qk(q, 'q') : q;
  const kk = o.qk ? o.qk(k, 'k') : k;
  const attn = linear(E.attention(qq, kk, v, { numHeads: o.numHeads }).out, 'attn.proj', dim, dim);
  const h = E.add(x, E.mul(attn, p('ls1.gamma', [dim])));
  const mlp = linear(E.gelu(linear(norm(h, 'norm2'), 'mlp.fc1', dim, hidden)), 'mlp.fc2', hidden, dim);
  return E.add(h, E.mul(mlp, p('ls2.gamma', [dim])));
}
