// W8A8 matmul y = x · (Wq · diag(c)) for inference on CPU: int8 weights Wq [K, N] with one scale per output
// column c [N] (symmetric, zero point 0), activations quantized to uint8 at run time (zero point 128), an int32
// product, then the scales. ONNX Runtime runs MatMulInteger u8×s8 with its integer GEMM (VNNI where the CPU has it:
// ~2.5–3× the float32 MatMul on this project's 2-core AVX-512 machine, bench/op_profile.bench.ts), where
// MatMulNBits' int8 path reaches ~1.6×.
// Activation scales (`activations`):
//   'token'  — one per row of x: max|x_row| / 127 (rounded half to even, as QuantizeLinear): an outlier token
//              costs only its own row's precision. Standard ops in both lowerings.
//   'tensor' — one for the whole of x, asymmetric over [min(x, 0), max(x, 0)] (DynamicQuantizeLinear): one fused
//              op (com.microsoft.DynamicQuantizeMatMul) in the fused lowering, ~15% faster, but one outlier
//              coarsens every row.
// No gradient: a format for frozen inference weights only.
import { tensor } from '../tensor.ts';
import { defineComposite } from './composite.ts';
import type { Graph, Tensor } from './graph.ts';
import { cast, constant, div, max, maximum, min, mul, neg, reshape, shape, unsqueeze } from './ops.ts';
import { fmt, ShapeError } from './shape.ts';

export type ActivationScale = 'token' | 'tensor';

interface Options {
  activations: ActivationScale;
}

function integerProduct(q: Tensor, w: Tensor, zero: Tensor): Tensor {
  const shape = [...q.shape.slice(0, -1), w.shape[1]];
  return q.graph.node('MatMulInteger', [q, w, zero], [{ dtype: 'int32', shape }])[0];
}

/**
 * Per-token quantization of x [..., K] as rows [R, K]: scales [R] = max|row| / 127 (floored so that an all-zero row
 * stays 0), uint8 codes with zero point 128 by one QuantizeLinear along axis 0 (round half to even, saturating).
 */
function quantizeRows(g: Graph, x: Tensor): { q: Tensor; scale: Tensor } {
  const rows = x.shape.length === 2 ? x : reshape(x, [-1, x.shape[x.shape.length - 1]]);
  // max|x| as max(max x, −min x): two reductions that write nothing, where Abs would write a copy of x.
  const peak = maximum(max(rows, [1]), neg(min(rows, [1])));
  const scale = maximum(div(peak, 127), 1e-30);
  const [zero] = g.node('Expand', [u8(g, [128]), shape(scale)], [{ dtype: 'uint8', shape: scale.shape }]);
  const [q] = g.node('QuantizeLinear', [rows, scale, zero], [{ dtype: 'uint8', shape: rows.shape }], {
    axis: 0,
  });
  return { q, scale };
}

/** The [R, N] product of quantized rows back in x's leading dims. */
const unrows = (y: Tensor, x: Tensor) =>
  x.shape.length === 2 ? y : reshape(y, [...x.shape.slice(0, -1), y.shape[1]]);

const u8 = (g: Graph, v: number[]) => constant(g, tensor('uint8', v.length === 1 ? [] : [v.length], v));

function primitive(g: Graph, [x, w, c]: (Tensor | null)[], o: Options): Tensor[] {
  if (o.activations === 'tensor') {
    const [q, scale, zero] = g.node(
      'DynamicQuantizeLinear',
      [x],
      [
        { dtype: 'uint8', shape: x!.shape },
        { dtype: 'float32', shape: [] },
        { dtype: 'uint8', shape: [] },
      ],
    );
    return [mul(mul(cast(integerProduct(q, w!, zero), 'float32'), scale), c!)];
  }
  const { q, scale } = quantizeRows(g, x!);
  const y = mul(mul(cast(integerProduct(q, w!, u8(g, [128])), 'float32'), unsqueeze(scale, [1])), c!);
  return [unrows(y, x!)];
}

function fused(g: Graph, [x, w, c]: (Tensor | null)[], o: Options): Tensor[] | undefined {
  const N = w!.shape[1];
  const ms = { domain: 'com.microsoft' };
  if (o.activations === 'tensor') {
    const out = { dtype: 'float32' as const, shape: [...x!.shape.slice(0, -1), N] };
    return g.node('DynamicQuantizeMatMul', [x, w, c], [out], {}, ms);
  }
  // The column scales applied inside the integer GEMM's output stage, the row scales after it.
  const { q, scale } = quantizeRows(g, x!);
  const one = constant(g, tensor('float32', [], [1]));
  const out = { dtype: 'float32' as const, shape: [q.shape[0], N] };
  const [y] = g.node('MatMulIntegerToFloat', [q, w, one, c, u8(g, [128])], [out], {}, ms);
  return [unrows(mul(y, unsqueeze(scale, [1])), x!)];
}

const node = defineComposite<Options>('MatMulInt8', { primitive, fused });

/** x [..., K] float32 · int8 weights w [K, N] with column scales c [N] → float32 [..., N] (see above). */
export function matmulInt8(x: Tensor, w: Tensor, c: Tensor, activations: ActivationScale = 'token'): Tensor {
  const K = x.shape[x.shape.length - 1];
  if (
    x.dtype !== 'float32' ||
    w.dtype !== 'int8' ||
    c.dtype !== 'float32' ||
    w.shape.length !== 2 ||
    w.shape[0] !== K ||
    fmt(c.shape) !== fmt([w.shape[1]])
  )
    throw new ShapeError(
      `MatMulInt8: needs x float32 [..., K], w int8 [K, N], scales float32 [N]; got x ${x.dtype}${fmt(x.shape)}, ` +
        `w ${w.dtype}${fmt(w.shape)}, scales ${c.dtype}${fmt(c.shape)}`,
    );
  const shape = [...x.shape.slice(0, -1), w.shape[1]];
  return node(x.graph, [x, w, c], [{ dtype: 'float32', shape }], { activations })[0];
}
