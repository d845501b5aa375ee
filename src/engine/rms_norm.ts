// RMS norm as Qwen2 / Qwen2.5-VL define it (transformers `Qwen2RMSNorm`): statistics in float32,
// y = weight · (x / sqrt(mean(x²) + eps)). Fused: SimplifiedLayerNormalization (ONNX Runtime, default domain).
import { defineComposite } from './composite.ts';
import type { Tensor } from './graph.ts';
import { add, cast, mean, mul, reciprocal, sqrt } from './ops.ts';
import { compatibleDim, fmt, ShapeError } from './shape.ts';

interface Options {
  eps: number;
}

const node = defineComposite<Options>('RmsNorm', {
  primitive(_g, [x, w], { eps }) {
    const xf = cast(x!, 'float32');
    const inv = reciprocal(sqrt(add(mean(mul(xf, xf), [-1], true), eps)));
    return [mul(cast(mul(xf, inv), x!.dtype), w!)];
  },
  fused(g, [x, w], { eps }) {
    return g.node('SimplifiedLayerNormalization', [x, w], [{ dtype: x!.dtype, shape: x!.shape }], {
      axis: -1,
      epsilon: { float: eps },
      stash_type: 1,
    });
  },
});

export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  const d = x.shape[x.shape.length - 1];
  if (weight.shape.length !== 1 || !compatibleDim(weight.shape[0], d))
    throw new ShapeError(`RmsNorm: weight ${fmt(weight.shape)} must be [${d}] for input ${fmt(x.shape)}`);
  if (weight.dtype !== x.dtype) throw new ShapeError(`RmsNorm: weight is ${weight.dtype}, input ${x.dtype}`);
  return node(x.graph, [x, weight], [{ dtype: x.dtype, shape: x.shape }], { eps })[0];
}
