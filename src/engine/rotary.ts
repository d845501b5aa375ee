// Rotary position embedding on packed heads x [B, S, H·D] with per-token cos/sin [1|B, S, D] (HF layout: the two
// halves of D repeat the same frequencies; rotate_half pairs channel i with i + D/2). Per-token tables cover
// M-RoPE (Qwen2.5-VL), whose positions are not the token index.
// Fused: com.microsoft.RotaryEmbedding with position_ids = 0..S-1 and the per-token tables as its cache, valid
// when the tables have batch 1 (one prompt at a time).
import { defineComposite } from './composite.ts';
import type { Tensor } from './graph.ts';
import { add, concat, mul, neg, range, reshape, shape, slice, split, squeeze, unsqueeze } from './ops.ts';
import { compatibleDim, fmt, ShapeError } from './shape.ts';

interface Options {
  numHeads: number;
  headDim: number;
}

const node = defineComposite<Options>('Rotary', {
  primitive(_g, [x, cos, sin], { numHeads, headDim }) {
    const [b, s] = x!.shape;
    const xh = reshape(x!, [b, s, numHeads, headDim]);
    const [x1, x2] = split(xh, [headDim / 2, headDim / 2], -1);
    const rotated = concat([neg(x2), x1], -1);
    const c = unsqueeze(cos!, [2]);
    const sn = unsqueeze(sin!, [2]);
    return [reshape(add(mul(xh, c), mul(rotated, sn)), [b, s, numHeads * headDim])];
  },
  fused(g, [x, cos, sin], { numHeads, headDim }) {
    if (cos!.shape[0] !== 1) return undefined;
    const half = (t: Tensor) => squeeze(slice(t, [-1], [0], [headDim / 2]), [0]);
    const positions = unsqueeze(range(g, 0, squeeze(shape(x!, 1, 2), [0]), 1), [0]);
    return g.node(
      'RotaryEmbedding',
      [x, positions, half(cos!), half(sin!)],
      [{ dtype: x!.dtype, shape: x!.shape }],
      { interleaved: 0, num_heads: numHeads },
      { domain: 'com.microsoft' },
    );
  },
});

export function rotary(x: Tensor, cos: Tensor, sin: Tensor, numHeads: number): Tensor {
  if (x.shape.length !== 3) throw new ShapeError(`Rotary: x must be [B, S, H·D], got ${fmt(x.shape)}`);
  const d = cos.shape[cos.shape.length - 1];
  if (typeof d !== 'number' || d % 2 !== 0)
    throw new ShapeError(`Rotary: cos ${fmt(cos.shape)} needs an even static last dim`);
  if (!compatibleDim(x.shape[2], numHeads * d))
    throw new ShapeError(`Rotary: x ${fmt(x.shape)} is not ${numHeads} heads × ${d}`);
  if (
    cos.shape.length !== 3 ||
    sin.shape.length !== 3 ||
    !cos.shape.every((d, i) => compatibleDim(d, sin.shape[i]))
  )
    throw new ShapeError(`Rotary: cos ${fmt(cos.shape)} and sin ${fmt(sin.shape)} must both be [1|B, S, D]`);
  return node(x.graph, [x, cos, sin], [{ dtype: x.dtype, shape: x.shape }], { numHeads, headDim: d })[0];
}
