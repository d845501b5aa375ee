// A plain-JS reference for the engine's ops: float64 math over row-major arrays, written from the ONNX operator
// specs (onnx/onnx docs/Operators.md, onnx/reference/ops) and independent of the engine and of ONNX Runtime.
// Index-valued arrays hold integers as float64. Sizes in tests are small, so clarity wins over speed.
import { type DType, type HostTensor, toFloat32 } from '../../src/tensor.ts';

export interface NDArray {
  shape: number[];
  data: Float64Array;
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function array(shape: readonly number[], data: ArrayLike<number>): NDArray {
  if (data.length !== size(shape))
    throw new Error(`array: shape [${shape}] needs ${size(shape)} values, got ${data.length}`);
  return { shape: [...shape], data: Float64Array.from(data) };
}

export function fromHost(t: HostTensor): NDArray {
  const d = t.data;
  if (d instanceof BigInt64Array) return array(t.shape, Array.from(d, Number));
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') return array(t.shape, toFloat32(t));
  return array(t.shape, d as ArrayLike<number>);
}

/** Visits every multi-index of shape in row-major order (idx is reused between calls). */
function forEachIndex(shape: readonly number[], f: (idx: number[], flat: number) => void): void {
  const idx = shape.map(() => 0);
  for (let i = 0; i < size(shape); i++) {
    f(idx, i);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/** An array of shape filled with f(multi-index). */
export function generate(shape: readonly number[], f: (idx: number[]) => number): NDArray {
  const data = new Float64Array(size(shape));
  forEachIndex(shape, (idx, i) => {
    data[i] = f(idx);
  });
  return { shape: [...shape], data };
}

const offset = (shape: readonly number[], idx: readonly number[]): number => {
  let o = 0;
  for (let i = 0; i < shape.length; i++) o = o * shape[i] + idx[i];
  return o;
};

export const at = (a: NDArray, idx: readonly number[]): number => a.data[offset(a.shape, idx)];

const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);
const wrap = (i: number, d: number): number => (i < 0 ? i + d : i);
const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);

// ---------------------------------------------------------------------------------------------------------------
// broadcasting elementwise

export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const e = s[s.length - rank + i] ?? 1;
      if (e !== 1 && d !== 1 && e !== d)
        throw new Error(`shapes ${shapes.map((x) => `[${x}]`).join(', ')} do not broadcast`);
      if (e !== 1) d = e;
    }
    out.push(d);
  }
  return out;
}

/** The element of a that broadcasts to idx (a's dims aligned right, size-1 dims repeated). */
function atBroadcast(a: NDArray, idx: readonly number[]): number {
  const skip = idx.length - a.shape.length;
  let o = 0;
  for (let i = 0; i < a.shape.length; i++) o = o * a.shape[i] + (a.shape[i] === 1 ? 0 : idx[skip + i]);
  return a.data[o];
}

export function elementwise(f: (...v: number[]) => number, ...xs: NDArray[]): NDArray {
  return generate(broadcastShape(...xs.map((x) => x.shape)), (idx) =>
    f(...xs.map((x) => atBroadcast(x, idx))),
  );
}

export const map = (a: NDArray, f: (v: number) => number): NDArray => array(a.shape, a.data.map(f));

export const add = (a: NDArray, b: NDArray) => elementwise((x, y) => x + y, a, b);
export const sub = (a: NDArray, b: NDArray) => elementwise((x, y) => x - y, a, b);
export const mul = (a: NDArray, b: NDArray) => elementwise((x, y) => x * y, a, b);
export const div = (a: NDArray, b: NDArray) => elementwise((x, y) => x / y, a, b);
/** Integer division truncates toward zero (C semantics, what ONNX Runtime's Div does on integers). */
export const intDiv = (a: NDArray, b: NDArray) => elementwise((x, y) => Math.trunc(x / y), a, b);
export const pow = (a: NDArray, b: NDArray) => elementwise((x, y) => x ** y, a, b);
export const maximum = (a: NDArray, b: NDArray) => elementwise(Math.max, a, b);
export const minimum = (a: NDArray, b: NDArray) => elementwise(Math.min, a, b);
const bool = (c: boolean): number => (c ? 1 : 0);
export const equal = (a: NDArray, b: NDArray) => elementwise((x, y) => bool(x === y), a, b);
export const less = (a: NDArray, b: NDArray) => elementwise((x, y) => bool(x < y), a, b);
export const greater = (a: NDArray, b: NDArray) => elementwise((x, y) => bool(x > y), a, b);
export const lessOrEqual = (a: NDArray, b: NDArray) => elementwise((x, y) => bool(x <= y), a, b);
export const greaterOrEqual = (a: NDArray, b: NDArray) => elementwise((x, y) => bool(x >= y), a, b);
export const and = (a: NDArray, b: NDArray) => elementwise((x, y) => bool(x !== 0 && y !== 0), a, b);
export const or = (a: NDArray, b: NDArray) => elementwise((x, y) => bool(x !== 0 || y !== 0), a, b);
export const not = (a: NDArray) => map(a, (x) => bool(x === 0));
export const bitwiseAnd = (a: NDArray, b: NDArray) => elementwise((x, y) => x & y, a, b);
/** BitShift on unsigned integers of `bits` width: bits shifted out are lost. */
export const bitShift = (a: NDArray, by: number, direction: 'LEFT' | 'RIGHT', bits = 8) =>
  map(a, (x) => (direction === 'LEFT' ? (x * 2 ** by) % 2 ** bits : Math.floor(x / 2 ** by)));
export const where = (c: NDArray, a: NDArray, b: NDArray) => elementwise((p, x, y) => (p ? x : y), c, a, b);
export const scalar = (v: number): NDArray => array([], [v]);

/** erf by its Maclaurin series (|x| < 5; cancellation costs at most ~1e-9 there) and ±1 beyond (erfc(5) ≈ 1.5e-12). */
export function erf(x: number): number {
  if (Math.abs(x) >= 5) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum) || n < 3; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Scalar functions of the engine's unary ops. */
export const UNARY = {
  neg: (x: number) => -x,
  abs: Math.abs,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  reciprocal: (x: number) => 1 / x,
  tanh: Math.tanh,
  sigmoid,
  erf,
  sin: Math.sin,
  cos: Math.cos,
  floor: Math.floor,
  ceil: Math.ceil,
  relu: (x: number) => Math.max(0, x),
  silu: (x: number) => x * sigmoid(x),
  gelu: (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
} satisfies Record<string, (x: number) => number>;

/** Cast semantics of ONNX Runtime: float → integer truncates toward zero, anything → bool is `!= 0`. */
export function cast(a: NDArray, to: DType): NDArray {
  switch (to) {
    case 'float32':
      return map(a, Math.fround);
    case 'float64':
      return a;
    case 'bool':
      return map(a, (x) => bool(x !== 0));
    case 'int64':
    case 'int32':
      return map(a, Math.trunc);
    default:
      throw new Error(`reference cast to ${to} not implemented`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// linear algebra, reductions, normalization

/** Numpy matmul for rank ≥ 2 operands; batch dims broadcast. */
export function matmul(a: NDArray, b: NDArray): NDArray {
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) throw new Error(`matmul: inner dims ${k} vs ${k2}`);
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const r = batch.length + 2;
  return generate([...batch, m, n], (idx) => {
    const ia = [...idx];
    const ib = [...idx];
    let s = 0;
    for (let j = 0; j < k; j++) {
      ia[r - 1] = j;
      ib[r - 2] = j;
      s += atBroadcast(a, ia) * atBroadcast(b, ib);
    }
    return s;
  });
}

export type ReduceKind = 'sum' | 'mean' | 'max' | 'min' | 'prod';

/** ONNX Reduce*: empty axes reduce everything (noop_with_empty_axes = 0). */
export function reduce(kind: ReduceKind, a: NDArray, axes: number[], keepdims = false): NDArray {
  const r = a.shape.length;
  const ax = axes.length ? axes.map((x) => normAxis(x, r)) : a.shape.map((_, i) => i);
  const kept = a.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const init = { sum: 0, mean: 0, max: -Infinity, min: Infinity, prod: 1 }[kind];
  const out = array(kept, new Float64Array(size(kept)).fill(init));
  const step: Record<ReduceKind, (acc: number, v: number) => number> = {
    sum: (p, v) => p + v,
    mean: (p, v) => p + v,
    max: Math.max,
    min: Math.min,
    prod: (p, v) => p * v,
  };
  forEachIndex(a.shape, (idx, i) => {
    const o = offset(
      kept,
      idx.map((v, j) => (ax.includes(j) ? 0 : v)),
    );
    out.data[o] = step[kind](out.data[o], a.data[i]);
  });
  if (kind === 'mean') {
    const count = size(a.shape) / size(kept);
    out.data.forEach((v, i) => {
      out.data[i] = v / count;
    });
  }
  return keepdims ? out : { shape: a.shape.filter((_, i) => !ax.includes(i)), data: out.data };
}

/** Applies f to every 1-D line of a along axis; f may return a line of another length (topk, argmax). */
export function alongAxis(a: NDArray, axis: number, f: (line: number[]) => number[]): NDArray {
  const ax = normAxis(axis, a.shape.length);
  const outer = size(a.shape.slice(0, ax));
  const len = a.shape[ax];
  const inner = size(a.shape.slice(ax + 1));
  let outLen = -1;
  let out = new Float64Array(0);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const line = Array.from({ length: len }, (_, j) => a.data[(o * len + j) * inner + i]);
      const res = f(line);
      if (outLen < 0) {
        outLen = res.length;
        out = new Float64Array(outer * outLen * inner);
      }
      res.forEach((v, j) => {
        out[(o * outLen + j) * inner + i] = v;
      });
    }
  return { shape: a.shape.map((d, i) => (i === ax ? Math.max(outLen, 0) : d)), data: out };
}

export function softmax(a: NDArray, axis = -1): NDArray {
  return alongAxis(a, axis, (line) => {
    const m = Math.max(...line);
    const e = line.map((v) => Math.exp(v - m));
    const s = e.reduce((p, q) => p + q, 0);
    return e.map((v) => v / s);
  });
}

export function logSoftmax(a: NDArray, axis = -1): NDArray {
  return alongAxis(a, axis, (line) => {
    const m = Math.max(...line);
    const lse = m + Math.log(line.reduce((p, v) => p + Math.exp(v - m), 0));
    return line.map((v) => v - lse);
  });
}

/** ONNX LayerNormalization: normalize over axes [axis, rank) with biased variance, then scale and shift. */
export function layerNorm(x: NDArray, scale: NDArray, bias: NDArray | null, eps: number, axis = -1): NDArray {
  const ax = normAxis(axis, x.shape.length);
  const cols = size(x.shape.slice(ax));
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / cols; r++) {
    const row = x.data.subarray(r * cols, (r + 1) * cols);
    const mean = row.reduce((p, v) => p + v, 0) / cols;
    const variance = row.reduce((p, v) => p + (v - mean) ** 2, 0) / cols;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < cols; c++)
      out[r * cols + c] = (row[c] - mean) * inv * scale.data[c] + (bias ? bias.data[c] : 0);
  }
  return { shape: [...x.shape], data: out };
}

export function cumsum(
  a: NDArray,
  axis: number,
  o: { exclusive?: boolean; reverse?: boolean } = {},
): NDArray {
  return alongAxis(a, axis, (line) => {
    const src = o.reverse ? [...line].reverse() : line;
    let acc = 0;
    const res = src.map((v) => {
      const before = acc;
      acc += v;
      return o.exclusive ? before : acc;
    });
    return o.reverse ? res.reverse() : res;
  });
}

/** Index of the first maximum (ArgMax with select_last_index = 0). */
export function argmax(a: NDArray, axis = -1, keepdims = false): NDArray {
  const ax = normAxis(axis, a.shape.length);
  const r = alongAxis(a, ax, (line) => [line.indexOf(Math.max(...line))]);
  return keepdims ? r : { shape: r.shape.filter((_, i) => i !== ax), data: r.data };
}

/** Sorted top-k values and indices; equal values keep the lower index first. */
export function topk(a: NDArray, k: number, axis = -1, largest = true): [values: NDArray, indices: NDArray] {
  const order = (line: number[]) =>
    line
      .map((v, i) => [v, i])
      .sort((p, q) => (p[0] === q[0] ? p[1] - q[1] : largest ? q[0] - p[0] : p[0] - q[0]))
      .slice(0, k);
  return [
    alongAxis(a, axis, (l) => order(l).map((p) => p[0])),
    alongAxis(a, axis, (l) => order(l).map((p) => p[1])),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// shape manipulation and indexing

/** Reshape with at most one -1 (inferred). */
export function reshape(a: NDArray, dims: readonly number[]): NDArray {
  const known = size(dims.filter((d) => d !== -1));
  const shape = dims.map((d) => (d === -1 ? a.data.length / known : d));
  if (size(shape) !== a.data.length || !shape.every(Number.isInteger))
    throw new Error(`reshape: [${a.shape}] to [${dims}]`);
  return { shape, data: a.data };
}

export function transpose(a: NDArray, perm: readonly number[]): NDArray {
  return generate(
    perm.map((p) => a.shape[p]),
    (idx) => {
      const src = new Array<number>(perm.length);
      perm.forEach((p, j) => {
        src[p] = idx[j];
      });
      return at(a, src);
    },
  );
}

export function concat(xs: NDArray[], axis: number): NDArray {
  const ax = normAxis(axis, xs[0].shape.length);
  const starts = xs.map((_, i) => xs.slice(0, i).reduce((p, x) => p + x.shape[ax], 0));
  const shape = xs[0].shape.map((d, i) =>
    i === ax ? starts[xs.length - 1] + xs[xs.length - 1].shape[ax] : d,
  );
  return generate(shape, (idx) => {
    let k = xs.length - 1;
    while (starts[k] > idx[ax]) k--;
    return at(
      xs[k],
      idx.map((v, i) => (i === ax ? v - starts[k] : v)),
    );
  });
}

/** ONNX Slice: negative starts/ends count from the end; clamped to [0, d] (step > 0) or [0, d-1] / [-1, d-1] (step < 0). */
export function slice(
  a: NDArray,
  axes: number[],
  starts: number[],
  ends: number[],
  steps?: number[],
): NDArray {
  const r = a.shape.length;
  const begin = a.shape.map(() => 0);
  const step = a.shape.map(() => 1);
  const shape = [...a.shape];
  axes.forEach((axis, i) => {
    const ax = normAxis(axis, r);
    const d = a.shape[ax];
    const st = steps?.[i] ?? 1;
    const s = wrap(starts[i], d);
    const e = wrap(ends[i], d);
    const [b, f] = st > 0 ? [clamp(s, 0, d), clamp(e, 0, d)] : [clamp(s, 0, d - 1), clamp(e, -1, d - 1)];
    begin[ax] = b;
    step[ax] = st;
    shape[ax] = Math.max(0, Math.ceil((f - b) / st));
  });
  return generate(shape, (idx) =>
    at(
      a,
      idx.map((v, i) => begin[i] + v * step[i]),
    ),
  );
}

export function split(a: NDArray, sizes: number[], axis: number): NDArray[] {
  let start = 0;
  return sizes.map((s) => {
    const part = slice(a, [axis], [start], [start + s]);
    start += s;
    return part;
  });
}

export function gather(a: NDArray, indices: NDArray, axis = 0): NDArray {
  const ax = normAxis(axis, a.shape.length);
  const q = indices.shape.length;
  const shape = [...a.shape.slice(0, ax), ...indices.shape, ...a.shape.slice(ax + 1)];
  return generate(shape, (idx) => {
    const i = wrap(at(indices, idx.slice(ax, ax + q)), a.shape[ax]);
    return at(a, [...idx.slice(0, ax), i, ...idx.slice(ax + q)]);
  });
}

export function gatherElements(a: NDArray, indices: NDArray, axis: number): NDArray {
  const ax = normAxis(axis, a.shape.length);
  return generate(indices.shape, (idx) =>
    at(
      a,
      idx.map((v, i) => (i === ax ? wrap(at(indices, idx), a.shape[ax]) : v)),
    ),
  );
}

export function scatterElements(
  data: NDArray,
  indices: NDArray,
  updates: NDArray,
  axis: number,
  reduction: 'none' | 'add' = 'none',
): NDArray {
  const ax = normAxis(axis, data.shape.length);
  const out = Float64Array.from(data.data);
  forEachIndex(indices.shape, (idx, k) => {
    const o = offset(
      data.shape,
      idx.map((v, i) => (i === ax ? wrap(indices.data[k], data.shape[ax]) : v)),
    );
    out[o] = reduction === 'add' ? out[o] + updates.data[k] : updates.data[k];
  });
  return { shape: [...data.shape], data: out };
}

/** ScatterND (reduction none): indices [..., k] address data's first k dims; each gets a slice of updates. */
export function scatterND(data: NDArray, indices: NDArray, updates: NDArray): NDArray {
  const k = indices.shape[indices.shape.length - 1];
  const sliceLen = size(data.shape.slice(k));
  const out = Float64Array.from(data.data);
  const count = size(indices.shape.slice(0, -1));
  for (let u = 0; u < count; u++) {
    const target = Array.from(indices.data.subarray(u * k, (u + 1) * k), (v, i) => wrap(v, data.shape[i]));
    const base = offset(data.shape.slice(0, k), target) * sliceLen;
    out.set(updates.data.subarray(u * sliceLen, (u + 1) * sliceLen), base);
  }
  return { shape: [...data.shape], data: out };
}

/** ONNX Expand: bidirectional broadcast of a against shape. */
export const expand = (a: NDArray, shape: readonly number[]): NDArray =>
  generate(broadcastShape(a.shape, shape), (idx) => atBroadcast(a, idx));

export const tile = (a: NDArray, repeats: readonly number[]): NDArray =>
  generate(
    a.shape.map((d, i) => d * repeats[i]),
    (idx) =>
      at(
        a,
        idx.map((v, i) => v % a.shape[i]),
      ),
  );

export const full = (shape: readonly number[], value: number): NDArray =>
  array(shape, new Float64Array(size(shape)).fill(value));

export function range(start: number, limit: number, delta: number): NDArray {
  const n = Math.max(0, Math.ceil((limit - start) / delta));
  return array(
    [n],
    Array.from({ length: n }, (_, i) => start + i * delta),
  );
}

/** ONNX Pad with pads = [begin_0, …, begin_r-1, end_0, …, end_r-1] (non-negative here). */
export function pad(
  a: NDArray,
  pads: number[],
  mode: 'constant' | 'reflect' | 'edge' = 'constant',
  value = 0,
): NDArray {
  const r = a.shape.length;
  const shape = a.shape.map((d, i) => d + pads[i] + pads[i + r]);
  const source = (i: number, d: number): number => {
    if (mode === 'edge') return clamp(i, 0, d - 1);
    if (mode === 'reflect') return i < 0 ? -i : i >= d ? 2 * (d - 1) - i : i;
    return i;
  };
  return generate(shape, (idx) => {
    const src = idx.map((v, i) => source(v - pads[i], a.shape[i]));
    return src.every((v, i) => v >= 0 && v < a.shape[i]) ? at(a, src) : value;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// convolution (NCHW; pads = [top, left, bottom, right] as ONNX orders them)

export interface ConvParams {
  strides?: [number, number];
  pads?: [number, number, number, number];
  dilations?: [number, number];
  group?: number;
}

export function conv2d(x: NDArray, w: NDArray, b: NDArray | null, o: ConvParams = {}): NDArray {
  const [s, p, dl, group] = [
    o.strides ?? [1, 1],
    o.pads ?? [0, 0, 0, 0],
    o.dilations ?? [1, 1],
    o.group ?? 1,
  ];
  const [n, , h, wd] = x.shape;
  const [oc, icg, kh, kw] = w.shape;
  const oh = Math.floor((h + p[0] + p[2] - dl[0] * (kh - 1) - 1) / s[0]) + 1;
  const ow = Math.floor((wd + p[1] + p[3] - dl[1] * (kw - 1) - 1) / s[1]) + 1;
  const ocg = oc / group;
  return generate([n, oc, oh, ow], ([bn, c, y, xo]) => {
    const g = Math.floor(c / ocg);
    let acc = b ? b.data[c] : 0;
    for (let ic = 0; ic < icg; ic++)
      for (let ky = 0; ky < kh; ky++)
        for (let kx = 0; kx < kw; kx++) {
          const iy = y * s[0] - p[0] + ky * dl[0];
          const ix = xo * s[1] - p[1] + kx * dl[1];
          if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
          acc += at(x, [bn, g * icg + ic, iy, ix]) * at(w, [c, ic, ky, kx]);
        }
    return acc;
  });
}

/** ConvTranspose (group 1, no dilation): each input pixel scatters kernel × value into the output. */
export function convTranspose2d(
  x: NDArray,
  w: NDArray,
  b: NDArray | null,
  o: {
    strides?: [number, number];
    pads?: [number, number, number, number];
    outputPadding?: [number, number];
  } = {},
): NDArray {
  const [s, p, op] = [o.strides ?? [1, 1], o.pads ?? [0, 0, 0, 0], o.outputPadding ?? [0, 0]];
  const [n, ic, h, wd] = x.shape;
  const [, oc, kh, kw] = w.shape;
  const oh = s[0] * (h - 1) + op[0] + kh - p[0] - p[2];
  const ow = s[1] * (wd - 1) + op[1] + kw - p[1] - p[3];
  const out = generate([n, oc, oh, ow], ([, c]) => (b ? b.data[c] : 0));
  for (let bn = 0; bn < n; bn++)
    for (let c = 0; c < ic; c++)
      for (let y = 0; y < h; y++)
        for (let xi = 0; xi < wd; xi++)
          for (let d = 0; d < oc; d++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const oy = y * s[0] - p[0] + ky;
                const ox = xi * s[1] - p[1] + kx;
                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                out.data[offset(out.shape, [bn, d, oy, ox])] += at(x, [bn, c, y, xi]) * at(w, [c, d, ky, kx]);
              }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// resize (ONNX Resize-18 on the two trailing axes, exclude_outside = 0)

export interface ResizeParams {
  mode: 'nearest' | 'linear' | 'cubic';
  coordinates?: 'half_pixel' | 'align_corners';
  antialias?: boolean;
  cubicA?: number;
  nearestMode?: 'floor' | 'round_prefer_floor' | 'round_prefer_ceil' | 'ceil';
}

const f32 = Math.fround;

/**
 * Source coordinate of output index x. Computed in float32 the way ONNX Runtime does (scale = out/in as a float),
 * so that nearest-mode rounding agrees on coordinates that are integers in exact arithmetic.
 */
function sourceCoordinate(
  x: number,
  inLen: number,
  outLen: number,
  mode: ResizeParams['coordinates'],
): number {
  if (mode === 'align_corners') return outLen === 1 ? 0 : f32(f32(x * (inLen - 1)) / (outLen - 1));
  return f32(f32(f32(x + 0.5) / f32(outLen / inLen)) - 0.5);
}

function nearestIndex(c: number, mode: ResizeParams['nearestMode']): number {
  const fl = Math.floor(c);
  switch (mode ?? 'round_prefer_floor') {
    case 'floor':
      return fl;
    case 'ceil':
      return Math.ceil(c);
    case 'round_prefer_floor':
      return c - fl === 0.5 ? fl : Math.round(c);
    case 'round_prefer_ceil':
      return c - fl === 0.5 ? fl + 1 : Math.round(c);
  }
}

const cubicKernel =
  (a: number) =>
  (t: number): number => {
    const x = Math.abs(t);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((x - 5) * x + 8) * x * a - 4 * a;
    return 0;
  };

const linearKernel = (t: number): number => Math.max(0, 1 - Math.abs(t));

/**
 * Taps (input indices, clamped to the edge) and weights for one output coordinate. With antialias and a
 * downscale (scale < 1), the kernel is stretched by 1/scale: weight(j) = K((j - c)·scale), normalized to sum 1,
 * as onnx/reference/ops/op_resize.py (_linear/_cubic_coeffs_antialias, edge-padded neighbours) defines it.
 */
function taps(c: number, inLen: number, scale: number, p: ResizeParams): [index: number, weight: number][] {
  if (p.mode === 'nearest') return [[clamp(nearestIndex(c, p.nearestMode), 0, inLen - 1), 1]];
  const [kernel, radius] = p.mode === 'linear' ? [linearKernel, 1] : [cubicKernel(p.cubicA ?? -0.75), 2];
  const s = p.antialias ? Math.min(scale, 1) : 1;
  const out: [number, number][] = [];
  for (let j = Math.ceil(c - radius / s); j <= Math.floor(c + radius / s); j++)
    out.push([j, kernel((j - c) * s)]);
  const total = out.reduce((q, [, w]) => q + w, 0);
  return out.map(([j, w]) => [clamp(j, 0, inLen - 1), w / total]);
}

function resizeAxis(a: NDArray, axis: number, outLen: number, p: ResizeParams): NDArray {
  const inLen = a.shape[axis];
  const weights = Array.from({ length: outLen }, (_, x) =>
    taps(sourceCoordinate(x, inLen, outLen, p.coordinates ?? 'half_pixel'), inLen, outLen / inLen, p),
  );
  return alongAxis(a, axis, (line) => weights.map((ts) => ts.reduce((q, [j, w]) => q + w * line[j], 0)));
}

/** Resize the two trailing axes to [height, width] (separable, as the ONNX reference interpolates axis by axis). */
export function resize(x: NDArray, sizes: [number, number], p: ResizeParams): NDArray {
  const r = x.shape.length;
  return resizeAxis(resizeAxis(x, r - 2, sizes[0], p), r - 1, sizes[1], p);
}
