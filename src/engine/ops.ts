// Primitive ops: each checks dtypes and shapes at build time (errors name the op and the shapes) and appends one
// standard ONNX node (default domain, opset 21). Numbers are accepted where a scalar operand makes sense.
import { type DType, type HostTensor, numel, tensor } from '../tensor.ts';
import { describe, type Graph, graphOf, type Tensor } from './graph.ts';
import {
  addDims,
  axisOf,
  broadcast,
  compatibleDim,
  type Dim,
  divDims,
  expectRank,
  fmt,
  isStatic,
  mulDims,
  ShapeError,
} from './shape.ts';

export type Operand = Tensor | number;

const FLOATS: DType[] = ['float32', 'float16', 'bfloat16', 'float64'];
export const isFloat = (d: DType): boolean => FLOATS.includes(d);

// ---------------------------------------------------------------------------------------------------------------
// constants

export function constant(g: Graph, value: HostTensor): Tensor {
  return g.constant(value);
}

export function scalar(g: Graph, value: number, dtype: DType = 'float32'): Tensor {
  return g.constant(tensor(dtype, [], [value]));
}

export function constInt64(g: Graph, values: readonly number[]): Tensor {
  return g.constant(tensor('int64', [values.length], values));
}

/** A 1-D int64 tensor holding the run-time values of dims (numbers as constants, symbols read with Shape). */
export function dimsTensor(g: Graph, dims: readonly Dim[], op = 'shape'): Tensor {
  if (isStatic(dims)) return constInt64(g, dims);
  const parts = dims.map((d) => {
    if (typeof d === 'number') return constInt64(g, [d]);
    const src = g.dimSources.get(d);
    if (!src)
      throw new ShapeError(
        `${op}: unknown dynamic dimension '${d}' in ${fmt(dims)}: no tensor of this graph carries it`,
      );
    return shape(src.tensor, src.axis, src.axis + 1);
  });
  return concat(parts, 0);
}

function operands(op: string, a: Operand, b: Operand): [Tensor, Tensor] {
  const g = graphOf(op, a, b);
  const ref = typeof a === 'number' ? (b as Tensor) : a;
  const ta = typeof a === 'number' ? scalar(g, a, ref.dtype) : a;
  const tb = typeof b === 'number' ? scalar(g, b, ref.dtype) : b;
  if (ta.dtype !== tb.dtype)
    throw new ShapeError(`${op}: dtypes differ (${describe(ta)} vs ${describe(tb)})`);
  return [ta, tb];
}

// ---------------------------------------------------------------------------------------------------------------
// elementwise

function unary(op: string, x: Tensor, floatOnly = true): Tensor {
  if (floatOnly && !isFloat(x.dtype)) throw new ShapeError(`${op}: needs a float tensor, got ${describe(x)}`);
  return x.graph.node(op, [x], [{ dtype: x.dtype, shape: x.shape }])[0];
}

export const identity = (x: Tensor) => unary('Identity', x, false);
export const neg = (x: Tensor) => unary('Neg', x, false);
export const abs = (x: Tensor) => unary('Abs', x, false);
export const exp = (x: Tensor) => unary('Exp', x);
export const log = (x: Tensor) => unary('Log', x);
export const sqrt = (x: Tensor) => unary('Sqrt', x);
export const reciprocal = (x: Tensor) => unary('Reciprocal', x);
export const tanh = (x: Tensor) => unary('Tanh', x);
export const sigmoid = (x: Tensor) => unary('Sigmoid', x);
export const erf = (x: Tensor) => unary('Erf', x);
export const sin = (x: Tensor) => unary('Sin', x);
export const cos = (x: Tensor) => unary('Cos', x);
export const floor = (x: Tensor) => unary('Floor', x);
export const ceil = (x: Tensor) => unary('Ceil', x);
export const relu = (x: Tensor) => unary('Relu', x);

export function not(x: Tensor): Tensor {
  if (x.dtype !== 'bool') throw new ShapeError(`Not: needs bool, got ${describe(x)}`);
  return unary('Not', x, false);
}

function binary(op: string, a: Operand, b: Operand, outDtype?: DType): Tensor {
  const [ta, tb] = operands(op, a, b);
  const shape = broadcast(op, ta.shape, tb.shape);
  return ta.graph.node(op, [ta, tb], [{ dtype: outDtype ?? ta.dtype, shape }])[0];
}

export const add = (a: Operand, b: Operand) => binary('Add', a, b);
export const sub = (a: Operand, b: Operand) => binary('Sub', a, b);
export const mul = (a: Operand, b: Operand) => binary('Mul', a, b);
export const div = (a: Operand, b: Operand) => binary('Div', a, b);
export const pow = (a: Operand, b: Operand) => binary('Pow', a, b);
export const maximum = (a: Operand, b: Operand) => binary('Max', a, b);
export const minimum = (a: Operand, b: Operand) => binary('Min', a, b);
export const equal = (a: Operand, b: Operand) => binary('Equal', a, b, 'bool');
export const less = (a: Operand, b: Operand) => binary('Less', a, b, 'bool');
export const greater = (a: Operand, b: Operand) => binary('Greater', a, b, 'bool');
export const lessOrEqual = (a: Operand, b: Operand) => binary('LessOrEqual', a, b, 'bool');
export const greaterOrEqual = (a: Operand, b: Operand) => binary('GreaterOrEqual', a, b, 'bool');
export const and = (a: Tensor, b: Tensor) => binary('And', a, b, 'bool');
export const or = (a: Tensor, b: Tensor) => binary('Or', a, b, 'bool');

/** Bitwise ops on unsigned integers (used to unpack quantized weights). */
export const bitwiseAnd = (a: Operand, b: Operand) => binary('BitwiseAnd', a, b);
export function bitShift(x: Tensor, bits: number, direction: 'LEFT' | 'RIGHT'): Tensor {
  if (!x.dtype.startsWith('uint'))
    throw new ShapeError(`BitShift: needs an unsigned integer tensor, got ${describe(x)}`);
  return x.graph.node('BitShift', [x, scalar(x.graph, bits, x.dtype)], [{ dtype: x.dtype, shape: x.shape }], {
    direction,
  })[0];
}

export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (cond.dtype !== 'bool') throw new ShapeError(`Where: condition must be bool, got ${describe(cond)}`);
  const [ta, tb] = operands('Where', a, b);
  const shape = broadcast('Where', cond.shape, ta.shape, tb.shape);
  return cond.graph.node('Where', [cond, ta, tb], [{ dtype: ta.dtype, shape }])[0];
}

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return x.graph.node('Cast', [x], [{ dtype, shape: x.shape }], { to: dtype })[0];
}

// ---------------------------------------------------------------------------------------------------------------
// linear algebra and reductions

/** Numpy matmul for rank ≥ 2 operands (batch dims broadcast). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== b.dtype) throw new ShapeError(`MatMul: dtypes differ (${describe(a)} vs ${describe(b)})`);
  if (a.shape.length < 2 || b.shape.length < 2)
    throw new ShapeError(`MatMul: operands need rank ≥ 2, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const k1 = a.shape[a.shape.length - 1];
  const k2 = b.shape[b.shape.length - 2];
  if (!compatibleDim(k1, k2))
    throw new ShapeError(`MatMul: inner dims differ: ${fmt(a.shape)} @ ${fmt(b.shape)} (${k1} vs ${k2})`);
  let batch: Dim[];
  try {
    batch = broadcast('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    throw new ShapeError(`MatMul: batch dims of ${fmt(a.shape)} and ${fmt(b.shape)} do not broadcast`);
  }
  const shape = [...batch, a.shape[a.shape.length - 2], b.shape[b.shape.length - 1]];
  return a.graph.node('MatMul', [a, b], [{ dtype: a.dtype, shape }])[0];
}

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min' | 'prod';
const REDUCE: Record<ReduceOp, string> = {
  sum: 'ReduceSum',
  mean: 'ReduceMean',
  max: 'ReduceMax',
  min: 'ReduceMin',
  prod: 'ReduceProd',
};

export function reduce(op: ReduceOp, x: Tensor, axes: number[], keepdims = false): Tensor {
  const name = REDUCE[op];
  // ONNX reduces every axis when none are given.
  const all = axes.length === 0 ? x.shape.map((_, i) => i) : axes;
  const ax = [...new Set(all.map((a) => axisOf(name, a, x.shape)))].sort((p, q) => p - q);
  const shape = x.shape.flatMap((d, i) => (ax.includes(i) ? (keepdims ? [1] : []) : [d]));
  return x.graph.node(name, [x, constInt64(x.graph, ax)], [{ dtype: x.dtype, shape }], {
    keepdims: keepdims ? 1 : 0,
  })[0];
}

export const sum = (x: Tensor, axes: number[], keepdims = false) => reduce('sum', x, axes, keepdims);
export const mean = (x: Tensor, axes: number[], keepdims = false) => reduce('mean', x, axes, keepdims);
export const max = (x: Tensor, axes: number[], keepdims = false) => reduce('max', x, axes, keepdims);
export const min = (x: Tensor, axes: number[], keepdims = false) => reduce('min', x, axes, keepdims);

export function softmax(x: Tensor, axis = -1): Tensor {
  axisOf('Softmax', axis, x.shape);
  return x.graph.node('Softmax', [x], [{ dtype: x.dtype, shape: x.shape }], { axis })[0];
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  axisOf('LogSoftmax', axis, x.shape);
  return x.graph.node('LogSoftmax', [x], [{ dtype: x.dtype, shape: x.shape }], { axis })[0];
}

/** LayerNormalization over the trailing axes from `axis` (ONNX opset 17 op; computes in float32). */
export function layerNorm(x: Tensor, scale: Tensor, bias: Tensor | null, eps = 1e-5, axis = -1): Tensor {
  const a = axisOf('LayerNormalization', axis, x.shape);
  const normShape = x.shape.slice(a);
  if (scale.shape.length !== normShape.length || !scale.shape.every((d, i) => compatibleDim(d, normShape[i])))
    throw new ShapeError(
      `LayerNormalization: scale ${fmt(scale.shape)} must match normalized dims ${fmt(normShape)}`,
    );
  return x.graph.node(
    'LayerNormalization',
    bias ? [x, scale, bias] : [x, scale],
    [{ dtype: x.dtype, shape: x.shape }],
    {
      axis: a,
      epsilon: { float: eps },
    },
  )[0];
}

export function argmax(x: Tensor, axis = -1, keepdims = false): Tensor {
  const a = axisOf('ArgMax', axis, x.shape);
  const shape = x.shape.flatMap((d, i) => (i === a ? (keepdims ? [1] : []) : [d]));
  return x.graph.node('ArgMax', [x], [{ dtype: 'int64', shape }], { axis: a, keepdims: keepdims ? 1 : 0 })[0];
}

export function topk(x: Tensor, k: number, axis = -1, largest = true): [values: Tensor, indices: Tensor] {
  const a = axisOf('TopK', axis, x.shape);
  const d = x.shape[a];
  if (typeof d === 'number' && k > d)
    throw new ShapeError(`TopK: k=${k} exceeds axis size ${d} of ${fmt(x.shape)}`);
  const shape = x.shape.map((v, i) => (i === a ? k : v));
  const [v, i] = x.graph.node(
    'TopK',
    [x, constInt64(x.graph, [k])],
    [
      { dtype: x.dtype, shape },
      { dtype: 'int64', shape },
    ],
    { axis: a, largest: largest ? 1 : 0, sorted: 1 },
  );
  return [v, i];
}

export function cumsum(
  x: Tensor,
  axis: number,
  opts: { exclusive?: boolean; reverse?: boolean } = {},
): Tensor {
  const a = axisOf('CumSum', axis, x.shape);
  return x.graph.node('CumSum', [x, constInt64(x.graph, [a])], [{ dtype: x.dtype, shape: x.shape }], {
    exclusive: opts.exclusive ? 1 : 0,
    reverse: opts.reverse ? 1 : 0,
  })[0];
}

// ---------------------------------------------------------------------------------------------------------------
// shape manipulation

/** Reshape to dims (numbers or symbols known to the graph); one -1 is inferred. */
export function reshape(x: Tensor, dims: readonly Dim[]): Tensor {
  const g = x.graph;
  const total = mulDims(x.shape);
  const minus = dims.filter((d) => d === -1).length;
  if (minus > 1) throw new ShapeError(`Reshape: more than one -1 in ${fmt(dims)}`);
  let out = [...dims];
  if (minus === 1) {
    const known = mulDims(dims.filter((d) => d !== -1));
    const inferred = divDims(total, known);
    if (inferred === undefined && typeof total === 'number' && typeof known === 'number')
      throw new ShapeError(
        `Reshape: cannot reshape ${fmt(x.shape)} (${total} elements) to ${fmt(dims)}: ${known} does not divide it`,
      );
    const i = dims.indexOf(-1);
    out[i] = inferred ?? g.freshDim('reshape');
  } else {
    const prod = mulDims(dims);
    if (typeof prod === 'number' && typeof total === 'number' && prod !== total)
      throw new ShapeError(
        `Reshape: cannot reshape ${fmt(x.shape)} (${total} elements) to ${fmt(dims)} (${prod})`,
      );
  }
  if (typeof total === 'number' && isStatic(out) && numel(out) !== total)
    throw new ShapeError(`Reshape: cannot reshape ${fmt(x.shape)} to ${fmt(dims)}`);
  // Symbols that are products ('a*b') are not carried by any tensor: pass -1 for them at run time.
  const target = dims.map((d) => (typeof d === 'string' && !g.dimSources.has(d) ? -1 : d));
  if (target.filter((d) => d === -1).length > 1)
    throw new ShapeError(`Reshape: ${fmt(dims)} has more than one dimension unknown at run time`);
  out = out.map((d, i) => (dims[i] === -1 ? d : dims[i]));
  return g.node('Reshape', [x, dimsTensor(g, target, 'Reshape')], [{ dtype: x.dtype, shape: out }])[0];
}

export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.shape.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i))
    throw new ShapeError(`Transpose: perm [${perm}] is not a permutation of the axes of ${fmt(x.shape)}`);
  return x.graph.node('Transpose', [x], [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }], {
    perm: [...perm],
  })[0];
}

export function unsqueeze(x: Tensor, axes: number[]): Tensor {
  const rank = x.shape.length + axes.length;
  const ax = axes.map((a) => axisOf('Unsqueeze', a, x.shape, rank)).sort((a, b) => a - b);
  const shape: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(ax.includes(i) ? 1 : x.shape[j++]);
  return x.graph.node('Unsqueeze', [x, constInt64(x.graph, ax)], [{ dtype: x.dtype, shape }])[0];
}

export function squeeze(x: Tensor, axes: number[]): Tensor {
  const ax = axes.map((a) => axisOf('Squeeze', a, x.shape));
  for (const a of ax)
    if (x.shape[a] !== 1 && typeof x.shape[a] === 'number')
      throw new ShapeError(`Squeeze: axis ${a} of ${fmt(x.shape)} is not 1`);
  const shape = x.shape.filter((_, i) => !ax.includes(i));
  return x.graph.node('Squeeze', [x, constInt64(x.graph, ax)], [{ dtype: x.dtype, shape }])[0];
}

export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ShapeError('Concat: no inputs');
  const g = graphOf('Concat', ...xs);
  const rank = xs[0].shape.length;
  const a = axisOf('Concat', axis, xs[0].shape);
  let along: Dim = 0;
  for (const x of xs) {
    if (
      x.dtype !== xs[0].dtype ||
      x.shape.length !== rank ||
      x.shape.some((d, i) => i !== a && !compatibleDim(d, xs[0].shape[i]))
    )
      throw new ShapeError(`Concat: inputs ${xs.map(describe).join(', ')} differ off axis ${a}`);
    along = addDims(along, x.shape[a]);
  }
  const shape = xs[0].shape.map((d, i) => (i === a ? along : d));
  return g.node('Concat', xs, [{ dtype: xs[0].dtype, shape }], { axis: a })[0];
}

export function split(x: Tensor, sizes: number[], axis: number): Tensor[] {
  const a = axisOf('Split', axis, x.shape);
  const d = x.shape[a];
  const total = sizes.reduce((p, q) => p + q, 0);
  if (typeof d === 'number' && total !== d)
    throw new ShapeError(`Split: sizes [${sizes}] do not sum to ${d} in ${fmt(x.shape)}`);
  return x.graph.node(
    'Split',
    [x, constInt64(x.graph, sizes)],
    sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((v, i) => (i === a ? s : v)) })),
    { axis: a },
  );
}

const INT64_MAX = Number.MAX_SAFE_INTEGER;

/** Python-style slice x[start:end:step] along each given axis (end may exceed the size; negatives count from the end). */
export function slice(x: Tensor, axes: number[], starts: number[], ends: number[], steps?: number[]): Tensor {
  const ax = axes.map((a) => axisOf('Slice', a, x.shape));
  const st = steps ?? ax.map(() => 1);
  const shape = [...x.shape];
  ax.forEach((a, i) => {
    const d = x.shape[a];
    if (st[i] === 0) throw new ShapeError(`Slice: step 0 on axis ${a} of ${fmt(x.shape)}`);
    if (typeof d === 'number') {
      const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
      // ONNX: positive steps clamp to [0, d]; negative steps clamp starts to [0, d-1] and ends to [-1, d-1].
      const [s, e] =
        st[i] > 0
          ? [clamp(starts[i], 0, d), clamp(ends[i], 0, d)]
          : [clamp(starts[i], 0, d - 1), clamp(ends[i], -1, d - 1)];
      shape[a] = Math.max(0, Math.ceil((e - s) / st[i]));
    } else if (starts[i] === 0 && ends[i] >= INT64_MAX && st[i] === 1) shape[a] = d;
    else shape[a] = x.graph.freshDim('slice');
  });
  const g = x.graph;
  const clampEnd = (e: number) => Math.min(e, INT64_MAX);
  return g.node(
    'Slice',
    [x, constInt64(g, starts), constInt64(g, ends.map(clampEnd)), constInt64(g, ax), constInt64(g, st)],
    [{ dtype: x.dtype, shape }],
  )[0];
}

/** Slice with run-time bounds (int64 1-D tensors), e.g. the new tokens of a KV cache. */
export function sliceDynamic(x: Tensor, axes: number[], starts: Tensor, ends: Tensor): Tensor {
  const ax = axes.map((a) => axisOf('Slice', a, x.shape));
  const shape = x.shape.map((d, i) => (ax.includes(i) ? x.graph.freshDim('slice') : d));
  return x.graph.node('Slice', [x, starts, ends, constInt64(x.graph, ax)], [{ dtype: x.dtype, shape }])[0];
}

export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  const a = axisOf('Gather', axis, x.shape);
  if (indices.dtype !== 'int64' && indices.dtype !== 'int32')
    throw new ShapeError(`Gather: indices must be int64 or int32, got ${describe(indices)}`);
  const shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  return x.graph.node('Gather', [x, indices], [{ dtype: x.dtype, shape }], { axis: a })[0];
}

export function gatherElements(x: Tensor, indices: Tensor, axis: number): Tensor {
  const a = axisOf('GatherElements', axis, x.shape);
  if (indices.shape.length !== x.shape.length)
    throw new ShapeError(
      `GatherElements: indices ${fmt(indices.shape)} must have the rank of ${fmt(x.shape)}`,
    );
  return x.graph.node('GatherElements', [x, indices], [{ dtype: x.dtype, shape: indices.shape }], {
    axis: a,
  })[0];
}

export function scatterElements(
  x: Tensor,
  indices: Tensor,
  updates: Tensor,
  axis: number,
  reduction: 'none' | 'add' = 'none',
): Tensor {
  const a = axisOf('ScatterElements', axis, x.shape);
  if (fmt(indices.shape) !== fmt(updates.shape))
    throw new ShapeError(
      `ScatterElements: indices ${fmt(indices.shape)} and updates ${fmt(updates.shape)} differ`,
    );
  return x.graph.node('ScatterElements', [x, indices, updates], [{ dtype: x.dtype, shape: x.shape }], {
    axis: a,
    reduction,
  })[0];
}

/** ScatterND: indices [..., k] address the first k dims of x; updates = indices.shape[:-1] + x.shape[k:]. */
export function scatterND(x: Tensor, indices: Tensor, updates: Tensor): Tensor {
  const k = indices.shape[indices.shape.length - 1];
  if (typeof k !== 'number' || k > x.shape.length)
    throw new ShapeError(
      `ScatterND: last dim of indices ${fmt(indices.shape)} must be a number ≤ rank of ${fmt(x.shape)}`,
    );
  const want = [...indices.shape.slice(0, -1), ...x.shape.slice(k)];
  if (want.length !== updates.shape.length || !want.every((d, i) => compatibleDim(d, updates.shape[i])))
    throw new ShapeError(`ScatterND: updates ${fmt(updates.shape)} must be ${fmt(want)}`);
  return x.graph.node('ScatterND', [x, indices, updates], [{ dtype: x.dtype, shape: x.shape }])[0];
}

export function expand(x: Tensor, dims: readonly Dim[]): Tensor {
  const shape = broadcast('Expand', x.shape, dims);
  return x.graph.node('Expand', [x, dimsTensor(x.graph, dims, 'Expand')], [{ dtype: x.dtype, shape }])[0];
}

export function tile(x: Tensor, repeats: number[]): Tensor {
  if (repeats.length !== x.shape.length)
    throw new ShapeError(`Tile: repeats [${repeats}] must match rank of ${fmt(x.shape)}`);
  const shape = x.shape.map((d, i) => mulDims([d, repeats[i]]));
  return x.graph.node('Tile', [x, constInt64(x.graph, repeats)], [{ dtype: x.dtype, shape }])[0];
}

/** Shape of x (or dims start..end) as int64. */
export function shape(x: Tensor, start = 0, end = x.shape.length): Tensor {
  const attrs: Record<string, number> = {};
  if (start !== 0) attrs.start = start;
  if (end !== x.shape.length) attrs.end = end;
  return x.graph.node('Shape', [x], [{ dtype: 'int64', shape: [end - start] }], attrs)[0];
}

/** arange(start, limit, delta) with numbers (static length) or scalar tensors (dynamic length). */
export function range(
  g: Graph,
  start: Operand,
  limit: Operand,
  delta: Operand = 1,
  dtype: DType = 'int64',
): Tensor {
  const s = (v: Operand) => (typeof v === 'number' ? scalar(g, v, dtype) : v);
  const n =
    typeof start === 'number' && typeof limit === 'number' && typeof delta === 'number'
      ? Math.max(0, Math.ceil((limit - start) / delta))
      : g.freshDim('range');
  return g.node('Range', [s(start), s(limit), s(delta)], [{ dtype, shape: [n] }])[0];
}

/** A tensor of dims filled with value (ConstantOfShape when dims are dynamic). */
export function full(g: Graph, dims: readonly Dim[], value: number, dtype: DType = 'float32'): Tensor {
  if (isStatic(dims)) return g.constant(tensor(dtype, [...dims], new Array(numel(dims)).fill(value)));
  return g.node('ConstantOfShape', [dimsTensor(g, dims, 'ConstantOfShape')], [{ dtype, shape: dims }], {
    value: tensor(dtype, [1], [value]),
  })[0];
}

export function pad(
  x: Tensor,
  pads: number[],
  mode: 'constant' | 'reflect' | 'edge' = 'constant',
  value = 0,
): Tensor {
  const r = x.shape.length;
  if (pads.length !== 2 * r)
    throw new ShapeError(`Pad: pads [${pads}] must have 2×rank = ${2 * r} entries for ${fmt(x.shape)}`);
  const shape = x.shape.map((d, i) =>
    typeof d === 'number' ? d + pads[i] + pads[i + r] : x.graph.freshDim('pad'),
  );
  return x.graph.node(
    'Pad',
    [x, constInt64(x.graph, pads), scalar(x.graph, value, x.dtype)],
    [{ dtype: x.dtype, shape }],
    {
      mode,
    },
  )[0];
}

// ---------------------------------------------------------------------------------------------------------------
// convolution and resampling (NCHW)

const convOut = (g: Graph, d: Dim, k: number, s: number, p0: number, p1: number, dil: number): Dim =>
  typeof d === 'number' ? Math.floor((d + p0 + p1 - dil * (k - 1) - 1) / s) + 1 : g.freshDim('conv');

export interface ConvOptions {
  strides?: [number, number];
  pads?: [number, number, number, number];
  dilations?: [number, number];
  group?: number;
}

export function conv2d(x: Tensor, w: Tensor, b: Tensor | null, o: ConvOptions = {}): Tensor {
  expectRank('Conv', 'input', x.shape, 4);
  expectRank('Conv', 'weight', w.shape, 4);
  const [s, p, dl, group] = [
    o.strides ?? [1, 1],
    o.pads ?? [0, 0, 0, 0],
    o.dilations ?? [1, 1],
    o.group ?? 1,
  ];
  const [oc, icg, kh, kw] = w.shape as number[];
  if (!compatibleDim(x.shape[1], icg * group))
    throw new ShapeError(
      `Conv: input ${fmt(x.shape)} has ${x.shape[1]} channels, weight ${fmt(w.shape)} expects ${icg * group}`,
    );
  const shape = [
    x.shape[0],
    oc,
    convOut(x.graph, x.shape[2], kh, s[0], p[0], p[2], dl[0]),
    convOut(x.graph, x.shape[3], kw, s[1], p[1], p[3], dl[1]),
  ];
  return x.graph.node('Conv', b ? [x, w, b] : [x, w], [{ dtype: x.dtype, shape }], {
    strides: s,
    pads: p,
    dilations: dl,
    group,
    kernel_shape: [kh, kw],
  })[0];
}

export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  o: {
    strides?: [number, number];
    pads?: [number, number, number, number];
    outputPadding?: [number, number];
  } = {},
): Tensor {
  expectRank('ConvTranspose', 'input', x.shape, 4);
  expectRank('ConvTranspose', 'weight', w.shape, 4);
  const [s, p, op] = [o.strides ?? [1, 1], o.pads ?? [0, 0, 0, 0], o.outputPadding ?? [0, 0]];
  const [ic, oc, kh, kw] = w.shape as number[];
  if (!compatibleDim(x.shape[1], ic))
    throw new ShapeError(
      `ConvTranspose: input ${fmt(x.shape)} has ${x.shape[1]} channels, weight ${fmt(w.shape)} expects ${ic}`,
    );
  const out = (d: Dim, k: number, st: number, p0: number, p1: number, opad: number): Dim =>
    typeof d === 'number' ? st * (d - 1) + opad + k - p0 - p1 : x.graph.freshDim('convT');
  const shape = [
    x.shape[0],
    oc,
    out(x.shape[2], kh, s[0], p[0], p[2], op[0]),
    out(x.shape[3], kw, s[1], p[1], p[3], op[1]),
  ];
  return x.graph.node('ConvTranspose', b ? [x, w, b] : [x, w], [{ dtype: x.dtype, shape }], {
    strides: s,
    pads: p,
    output_padding: op,
    kernel_shape: [kh, kw],
  })[0];
}

export interface ResizeOptions {
  mode: 'nearest' | 'linear' | 'cubic';
  /** ONNX coordinate_transformation_mode; 'align_corners' matches PyTorch align_corners=True. */
  coordinates?: 'half_pixel' | 'align_corners' | 'asymmetric' | 'pytorch_half_pixel';
  antialias?: boolean;
  /** Cubic coefficient: -0.75 as PyTorch, -0.5 as Pillow. */
  cubicA?: number;
  nearestMode?: 'floor' | 'round_prefer_floor' | 'round_prefer_ceil' | 'ceil';
}

/** Resize the two trailing (spatial) dims of an NCHW tensor to [height, width]. */
export function resize(x: Tensor, size: [number, number], o: ResizeOptions): Tensor {
  expectRank('Resize', 'input', x.shape, 4);
  const g = x.graph;
  const shape = [x.shape[0], x.shape[1], size[0], size[1]];
  const attrs: Record<string, number | number[] | string | { float: number }> = {
    mode: o.mode,
    coordinate_transformation_mode: o.coordinates ?? 'half_pixel',
    axes: [2, 3],
  };
  if (o.antialias) attrs.antialias = 1;
  if (o.mode === 'cubic') attrs.cubic_coeff_a = { float: o.cubicA ?? -0.75 };
  if (o.mode === 'nearest') attrs.nearest_mode = o.nearestMode ?? 'floor';
  return g.node('Resize', [x, null, null, constInt64(g, size)], [{ dtype: x.dtype, shape }], attrs)[0];
}

// ---------------------------------------------------------------------------------------------------------------
// common compositions of primitives (not separate ops)

/** PyTorch nn.Linear: x @ W^T + b with W stored [out, in]. */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  expectRank('Linear', 'weight', w.shape, 2);
  const y = matmul(x, transpose(w, [1, 0]));
  return b ? add(y, b) : y;
}

export const silu = (x: Tensor): Tensor => mul(x, sigmoid(x));

/** Exact GELU (erf form), as torch.nn.functional.gelu's default. */
export function gelu(x: Tensor): Tensor {
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

export type { Dim, Graph, Tensor };
export { ShapeError };
