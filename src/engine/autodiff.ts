// Reverse-mode automatic differentiation over the primitive graph IR. `gradients(loss, wrt)` appends to the loss's
// graph the nodes that compute d loss / d wrt, using standard ONNX ops only, so the result serializes with toOnnx
// and runs on ONNX Runtime like any other graph. Composite ops are differentiated through their primitive lowering:
// lower the graph first (`backward` does). The heart is RULES, one vector-Jacobian product per ONNX op, written
// with the same ops API as the models. Shapes may be symbolic: rules read sizes at run time with Shape and never
// rely on dim names.
import { tensor } from '../tensor.ts';
import { compositeDef, defineComposite } from './composite.ts';
import type { Graph, Node, Tensor } from './graph.ts';
import { copyNode, lower } from './lower.ts';
import * as op from './ops.ts';
import { orderedAfter, recomputeSegments, type Segment } from './recompute.ts';
import { type Dim, fmt, isStatic, mulDims } from './shape.ts';

// ---------------------------------------------------------------------------------------------------------------
// stop-gradient: identity forward, no gradient backward

const stopNodes = new WeakSet<Node>();

const stopNode = defineComposite<Record<string, never>>('StopGradient', {
  primitive(g, [x]) {
    const [y] = g.node('Identity', [x], [like(x!)]);
    stopNodes.add(producer(y)!);
    return [y];
  },
});

/** x unchanged; no gradient flows back through it (torch `detach`). */
export function stopGradient(x: Tensor): Tensor {
  return stopNode(x.graph, [x], [like(x)], {})[0];
}

// ---------------------------------------------------------------------------------------------------------------
// helpers: run-time shapes

const like = (t: Tensor) => ({ dtype: t.dtype, shape: t.shape });

function producer(t: Tensor): Node | undefined {
  const s = t.graph.sources.get(t.id);
  return s?.kind === 'node' ? s.node : undefined;
}

/** Values of a constant int tensor (axes, pads, sizes …), or undefined when it is computed at run time. */
function constValues(t: Tensor | null | undefined): number[] | undefined {
  if (!t) return undefined;
  const s = t.graph.sources.get(t.id);
  return s?.kind === 'const' ? Array.from(s.value.data as ArrayLike<number | bigint>, Number) : undefined;
}

function mustConst(t: Tensor | null | undefined, what: string): number[] {
  const v = constValues(t);
  if (!v) throw new Error(`autodiff: ${what} must be a constant`);
  return v;
}

const normAxis = (a: number, rank: number) => (a < 0 ? a + rank : a);

/** ref's shape as an int64 tensor: a constant when static, else read at run time. */
const shapeOf = (ref: Tensor): Tensor =>
  isStatic(ref.shape) ? op.constInt64(ref.graph, ref.shape) : op.shape(ref);

/** t reshaped to the run-time shape of `ref` (declared with ref's shape). */
const reshapeLike = (t: Tensor, ref: Tensor): Tensor =>
  t.graph.node('Reshape', [t, shapeOf(ref)], [{ dtype: t.dtype, shape: ref.shape }])[0];

const expandLike = (t: Tensor, ref: Tensor): Tensor =>
  t.graph.node('Expand', [t, shapeOf(ref)], [{ dtype: t.dtype, shape: ref.shape }])[0];

/** A tensor of ref's run-time shape filled with value. */
function fillLike(ref: Tensor, value: number, dtype = ref.dtype): Tensor {
  return ref.graph.node('ConstantOfShape', [shapeOf(ref)], [{ dtype, shape: ref.shape }], {
    value: tensor(dtype, [1], [value]),
  })[0];
}

/** One dim of t as an int64 [1] tensor. */
const dimOf = (t: Tensor, axis: number): Tensor => {
  const d = t.shape[axis];
  return typeof d === 'number' ? op.constInt64(t.graph, [d]) : op.shape(t, axis, axis + 1);
};

/** Reshape to dims given as numbers or int64 [1] tensors (run-time sizes), declared as `declared`. */
function reshapeParts(t: Tensor, parts: (number | Tensor)[], declared: readonly Dim[]): Tensor {
  const g = t.graph;
  const pieces = parts.map((p) => (typeof p === 'number' ? op.constInt64(g, [p]) : p));
  return g.node('Reshape', [t, op.concat(pieces, 0)], [{ dtype: t.dtype, shape: declared }])[0];
}

/**
 * Sum a broadcast gradient back to the shape of x (numpy broadcasting undone). `peers` are the operands x was
 * broadcast with: where they carry a different symbol on an axis, the declared output dim may not be x's (either
 * could be 1 at run time), so the reduced axes are found at run time.
 */
function sumTo(d: Tensor, x: Tensor, peers: readonly (readonly Dim[])[] = []): Tensor {
  const lead = d.shape.length - x.shape.length;
  const axes: number[] = [];
  // A peer of lower rank has no dim (an implicit 1) on the leading axes.
  const peerDims = (i: number) => peers.map((p) => p[p.length - d.shape.length + i] ?? 1);
  let ambiguous = false;
  d.shape.forEach((dim, i) => {
    const own = x.shape[i - lead];
    if (i < lead) axes.push(i);
    else if (own === 1) {
      if (dim !== 1) axes.push(i);
    } else if (own !== dim)
      ambiguous = true; // a symbol against a number or another symbol
    else if (typeof own === 'string' && peerDims(i).some((p) => p !== own && p !== 1)) ambiguous = true;
  });
  if (ambiguous) return sumToDynamic(d, x, lead);
  if (axes.length === 0) return d;
  const kept = op.sum(d, axes, true);
  return lead > 0 ? op.squeeze(kept, [...Array(lead).keys()]) : kept;
}

/** sumTo with the reduced axes found at run time: those where the shapes differ. */
function sumToDynamic(d: Tensor, x: Tensor, lead: number): Tensor {
  const g = d.graph;
  const target = lead > 0 ? op.concat([op.constInt64(g, Array(lead).fill(1)), op.shape(x)], 0) : op.shape(x);
  const differ = op.not(op.equal(op.shape(d), target));
  const [nz] = g.node('NonZero', [differ], [{ dtype: 'int64', shape: [1, g.freshDim('nonzero')] }]);
  const axes = op.reshape(nz, [-1]);
  const [summed] = g.node(
    'ReduceSum',
    [d, axes],
    [{ dtype: d.dtype, shape: d.shape.map(() => g.freshDim('sum')) }],
    {
      keepdims: 1,
      noop_with_empty_axes: 1,
    },
  );
  return reshapeLike(summed, x);
}

/** Indices 0..n-1 laid out in x's run-time shape (int64). */
function iotaLike(x: Tensor): Tensor {
  const g = x.graph;
  const [n] = g.node('Size', [x], [{ dtype: 'int64', shape: [] }]);
  return reshapeLike(op.range(g, 0, n, 1), x);
}

/**
 * Gradient of an op that only moves elements: y = x.flat[idx] with idx the same op applied to iotaLike(x).
 * dx.flat = Σ d over the outputs that read each element (ScatterElements with add).
 */
function scatterBack(x: Tensor, idx: Tensor, d: Tensor): Tensor {
  const g = x.graph;
  const [n] = g.node('Size', [x], [{ dtype: 'int64', shape: [] }]);
  const zeros = g.node(
    'ConstantOfShape',
    [op.reshape(n, [1])],
    [{ dtype: d.dtype, shape: [mulDims(x.shape)] }],
    {
      value: tensor(d.dtype, [1], [0]),
    },
  )[0];
  const flat = op.scatterElements(
    zeros,
    op.reshape(op.cast(idx, 'int64'), [-1]),
    op.reshape(d, [-1]),
    0,
    'add',
  );
  return reshapeLike(flat, x);
}

/** Swap the last two axes. */
function swapLast(t: Tensor): Tensor {
  const r = t.shape.length;
  return op.transpose(t, [...Array(r - 2).keys(), r - 1, r - 2]);
}

/** [..., K] → [rows, K]. */
function rows(t: Tensor): Tensor {
  const r = t.shape.length;
  const k = t.shape[r - 1];
  return reshapeParts(
    t,
    [-1, typeof k === 'number' ? k : dimOf(t, r - 1)],
    [mulDims(t.shape.slice(0, -1)), k],
  );
}

const sign = (x: Tensor) => op.sub(op.cast(op.greater(x, 0), x.dtype), op.cast(op.less(x, 0), x.dtype));

// ---------------------------------------------------------------------------------------------------------------
// the vector-Jacobian products

interface Ctx {
  node: Node;
  /** The node's inputs (null = omitted optional input). */
  x: (Tensor | null)[];
  y: Tensor[];
  /** Gradient of each output (null = the output does not reach the loss). */
  dy: (Tensor | null)[];
}

/** Gradients for each input, in input order; null for inputs without one (indices, shapes, constants). */
type Rule = (c: Ctx) => (Tensor | null)[];

const attr = (n: Node, name: string, fallback: number): number =>
  typeof n.attrs[name] === 'number' ? (n.attrs[name] as number) : fallback;

const attrList = (n: Node, name: string, fallback: number[]): number[] =>
  Array.isArray(n.attrs[name]) ? (n.attrs[name] as number[]) : fallback;

function unary(f: (x: Tensor, y: Tensor, d: Tensor) => Tensor): Rule {
  return ({ x, y, dy }) => [f(x[0]!, y[0], dy[0]!)];
}

function minMax(pick: (a: Tensor, b: Tensor) => Tensor): Rule {
  // Ties split the gradient in half, as torch.maximum / torch.minimum do.
  return ({ x: [a, b], dy: [d] }) => {
    const tie = op.equal(a!, b!);
    const half = op.mul(d!, 0.5);
    const aWins = pick(a!, b!);
    return [
      sumTo(op.where(tie, half, op.where(aWins, d!, 0)), a!, [b!.shape]),
      sumTo(op.where(tie, half, op.where(aWins, 0, d!)), b!, [a!.shape]),
    ];
  };
}

function reduceRule(kind: 'sum' | 'mean' | 'max' | 'min' | 'prod'): Rule {
  return ({ node, x: [x, axesT], y: [y], dy: [d] }) => {
    const r = x!.shape.length;
    const given = constValues(axesT);
    const axes = (given?.length ? given : [...Array(r).keys()]).map((a) => normAxis(a, r));
    const keep = attr(node, 'keepdims', 1) !== 0;
    const dk = keep ? d! : op.unsqueeze(d!, axes);
    switch (kind) {
      case 'sum':
        return [expandLike(dk, x!)];
      case 'mean': {
        const dims = axes.map((a) => x!.shape[a]);
        const count = dims.every((v) => typeof v === 'number')
          ? (mulDims(dims) as number)
          : op.cast(
              op.reduce('prod', op.gather(op.shape(x!), op.constInt64(x!.graph, axes)), [], false),
              d!.dtype,
            );
        return [expandLike(op.div(dk, count), x!)];
      }
      case 'max':
      case 'min': {
        // Even split among tied extremes (torch amax/amin).
        const yk = keep ? y : op.unsqueeze(y, axes);
        const mask = op.cast(op.equal(x!, yk), x!.dtype);
        return [op.mul(op.div(dk, op.sum(mask, axes, true)), mask)];
      }
      case 'prod': {
        const yk = keep ? y : op.unsqueeze(y, axes);
        return [op.div(op.mul(expandLike(dk, x!), yk), x!)];
      }
    }
  };
}

/** Conv weight gradient (any group, stride, dilation): correlate the input with the output gradient. */
function convWeightGrad(x: Tensor, d: Tensor, w: Tensor, n: Node): Tensor {
  const groups = attr(n, 'group', 1);
  const strides = attrList(n, 'strides', [1, 1]);
  const dil = attrList(n, 'dilations', [1, 1]);
  const pads = attrList(n, 'pads', [0, 0, 0, 0]);
  const [outC, inPerGroup, kh, kw] = w.shape as number[];
  const outPerGroup = outC / groups;
  const [batch, , h, wd] = x.shape;
  const [, , oh, ow] = d.shape;
  // x [N, G·icg, H, W] → [icg, G·N, H, W]: the batch becomes the channels, grouped.
  const x5 = reshapeParts(
    x,
    [dimOf(x, 0), groups, inPerGroup, dimOf(x, 2), dimOf(x, 3)],
    [batch, groups, inPerGroup, h, wd],
  );
  const xt = op.transpose(x5, [2, 1, 0, 3, 4]);
  const xIn = reshapeParts(
    xt,
    [inPerGroup, -1, dimOf(x, 2), dimOf(x, 3)],
    [inPerGroup, mulDims([groups, batch]), h, wd],
  );
  // d [N, G·ocg, oh, ow] → [G·ocg, N, oh, ow]: the output gradient is the kernel.
  const d5 = reshapeParts(
    d,
    [dimOf(d, 0), groups, outPerGroup, dimOf(d, 2), dimOf(d, 3)],
    [batch, groups, outPerGroup, oh, ow],
  );
  const dt = op.transpose(d5, [1, 2, 0, 3, 4]);
  const dK = reshapeParts(dt, [outC, -1, dimOf(d, 2), dimOf(d, 3)], [outC, batch, oh, ow]);
  const g = x.graph;
  const [corr] = g.node(
    'Conv',
    [xIn, dK],
    [{ dtype: x.dtype, shape: [inPerGroup, outC, g.freshDim('conv'), g.freshDim('conv')] }],
    {
      strides: dil,
      dilations: strides,
      pads,
      group: groups,
    },
  );
  // The correlation may extend past the kernel (rows the forward never reached): keep kh × kw.
  return op.transpose(op.slice(corr, [2, 3], [0, 0], [kh, kw]), [1, 0, 2, 3]);
}

/** Conv input gradient: a ConvTranspose whose output padding (< stride) restores the input size. */
function convInputGrad(d: Tensor, w: Tensor, x: Tensor, n: Node): Tensor {
  const strides = attrList(n, 'strides', [1, 1]);
  const dil = attrList(n, 'dilations', [1, 1]);
  const pads = attrList(n, 'pads', [0, 0, 0, 0]);
  const [, , kh, kw] = w.shape as number[];
  const [, , oh, ow] = d.shape;
  const [, , h, wd] = x.shape;
  const base = (o: Dim, k: number, i: number) =>
    typeof o === 'number' ? strides[i] * (o - 1) + dil[i] * (k - 1) + 1 - pads[i] - pads[i + 2] : undefined;
  const fullH = base(oh, kh, 0);
  const fullW = base(ow, kw, 1);
  const g = d.graph;
  const attrs = { strides, pads, dilations: dil, group: attr(n, 'group', 1), kernel_shape: [kh, kw] };
  if (typeof h === 'number' && typeof wd === 'number' && fullH !== undefined && fullW !== undefined)
    return g.node('ConvTranspose', [d, w], [like(x)], {
      ...attrs,
      output_padding: [h - fullH, wd - fullW],
    })[0];
  // Sizes known only at run time: no end padding and the largest output padding give an output that covers x
  // (the rows past the forward's reach get zeros); crop it to x's size.
  const [t] = g.node(
    'ConvTranspose',
    [d, w],
    [{ dtype: d.dtype, shape: x.shape.map((v, i) => (i < 2 ? v : g.freshDim('convT'))) }],
    { ...attrs, pads: [pads[0], pads[1], 0, 0], output_padding: [strides[0] - 1, strides[1] - 1] },
  );
  const zeros = op.constInt64(g, [0, 0]);
  return g.node('Slice', [t, zeros, op.shape(x, 2, 4), op.constInt64(g, [2, 3])], [like(x)])[0];
}

/** Interpolation matrix M [in, out] of one axis of a Resize: resized = Mᵀ·line (built by resizing an identity). */
function resizeMatrix(n: Node, x: Tensor, y: Tensor, axis: number): Tensor {
  const g = x.graph;
  const nIn = x.shape[axis];
  const nOut = y.shape[axis];
  const count = typeof nIn === 'number' ? nIn : op.squeeze(dimOf(x, axis), [0]);
  const ids = op.range(g, 0, count, 1);
  const eye = op.cast(op.equal(op.unsqueeze(ids, [1]), op.unsqueeze(ids, [0])), x.dtype);
  const basis = reshapeParts(
    eye,
    [-1, 1, typeof nIn === 'number' ? nIn : dimOf(x, axis), 1],
    [nIn, 1, nIn, 1],
  );
  const sizes = op.concat(
    [typeof nOut === 'number' ? op.constInt64(g, [nOut]) : dimOf(y, axis), op.constInt64(g, [1])],
    0,
  );
  const [m] = g.node(
    'Resize',
    [basis, null, null, sizes],
    [{ dtype: x.dtype, shape: [nIn, 1, nOut, 1] }],
    n.attrs,
  );
  return reshapeParts(m, [typeof nIn === 'number' ? nIn : dimOf(x, axis), -1], [nIn, nOut]);
}

const RULES: Record<string, Rule> = {
  Identity: ({ dy }) => [dy[0]],
  Neg: unary((_x, _y, d) => op.neg(d)),
  Abs: unary((x, _y, d) => op.mul(d, sign(x))),
  Exp: unary((_x, y, d) => op.mul(d, y)),
  Log: unary((x, _y, d) => op.div(d, x)),
  Sqrt: unary((_x, y, d) => op.div(op.mul(d, 0.5), y)),
  Reciprocal: unary((_x, y, d) => op.neg(op.mul(d, op.mul(y, y)))),
  Tanh: unary((_x, y, d) => op.mul(d, op.sub(1, op.mul(y, y)))),
  Sigmoid: unary((_x, y, d) => op.mul(d, op.mul(y, op.sub(1, y)))),
  Erf: unary((x, _y, d) => op.mul(d, op.mul(op.exp(op.neg(op.mul(x, x))), 2 / Math.sqrt(Math.PI)))),
  Sin: unary((x, _y, d) => op.mul(d, op.cos(x))),
  Cos: unary((x, _y, d) => op.neg(op.mul(d, op.sin(x)))),
  Relu: unary((x, _y, d) => op.where(op.greater(x, 0), d, 0)),

  Add: ({ x: [a, b], dy: [d] }) => [sumTo(d!, a!, [b!.shape]), sumTo(d!, b!, [a!.shape])],
  Sub: ({ x: [a, b], dy: [d] }) => [sumTo(d!, a!, [b!.shape]), sumTo(op.neg(d!), b!, [a!.shape])],
  Mul: ({ x: [a, b], dy: [d] }) => [
    sumTo(op.mul(d!, b!), a!, [b!.shape]),
    sumTo(op.mul(d!, a!), b!, [a!.shape]),
  ],
  Div: ({ x: [a, b], y: [y], dy: [d] }) => [
    sumTo(op.div(d!, b!), a!, [b!.shape]),
    sumTo(op.neg(op.div(op.mul(d!, y), b!)), b!, [a!.shape]),
  ],
  // d/db a^b = a^b·ln a, taken as 0 where a ≤ 0 (torch gives 0 at a = 0 and NaN below).
  Pow: ({ x: [a, b], y: [y], dy: [d] }) => [
    sumTo(op.mul(d!, op.mul(b!, op.pow(a!, op.sub(b!, 1)))), a!, [b!.shape]),
    sumTo(op.mul(d!, op.where(op.greater(a!, 0), op.mul(y, op.log(a!)), 0)), b!, [a!.shape]),
  ],
  Max: minMax(op.greater),
  Min: minMax(op.less),
  Where: ({ x: [c, a, b], dy: [d] }) => [
    null,
    sumTo(op.where(c!, d!, 0), a!, [c!.shape, b!.shape]),
    sumTo(op.where(c!, 0, d!), b!, [c!.shape, a!.shape]),
  ],
  Cast: ({ x: [x], dy: [d] }) => [op.isFloat(x!.dtype) ? op.cast(d!, x!.dtype) : null],

  MatMul: ({ x: [a, b], dy: [d] }) => {
    // Only batch dims broadcast; the matrix dims of the peers are masked as 1.
    const batchOf = (t: Tensor): Dim[] => [...t.shape.slice(0, -2), 1, 1];
    const da = sumTo(op.matmul(d!, swapLast(b!)), a!, [batchOf(b!)]);
    if (b!.shape.length === 2 && a!.shape.length > 2) {
      // A 2-D weight shared by a batch of rows (linear layers): one [K, rows]·[rows, N] product. When the weight
      // is itself a transpose (x·Wᵀ), give (dᵀ·x)ᵀ: the Transpose rule's transpose then cancels against it and
      // ONNX Runtime computes W's gradient as one transposed-operand matmul, with no transpose of the result.
      const fromTranspose = producer(b!)?.op === 'Transpose';
      const db = fromTranspose
        ? swapLast(op.matmul(swapLast(rows(d!)), rows(a!)))
        : op.matmul(swapLast(rows(a!)), rows(d!));
      return [da, db];
    }
    return [da, sumTo(op.matmul(swapLast(a!), d!), b!, [batchOf(a!)])];
  },

  ReduceSum: reduceRule('sum'),
  ReduceMean: reduceRule('mean'),
  ReduceMax: reduceRule('max'),
  ReduceMin: reduceRule('min'),
  ReduceProd: reduceRule('prod'),

  Softmax: ({ node, y: [y], dy: [d] }) => {
    const axis = attr(node, 'axis', -1);
    return [op.mul(y, op.sub(d!, op.sum(op.mul(d!, y), [axis], true)))];
  },
  LogSoftmax: ({ node, y: [y], dy: [d] }) => {
    const axis = attr(node, 'axis', -1);
    return [op.sub(d!, op.mul(op.exp(y), op.sum(d!, [axis], true)))];
  },
  LayerNormalization: ({ node, x: [x, scale, bias], dy: [d] }) => {
    const r = x!.shape.length;
    const a = normAxis(attr(node, 'axis', -1), r);
    const eps = (node.attrs.epsilon as { float: number } | undefined)?.float ?? 1e-5;
    const norm = [...Array(r - a).keys()].map((i) => a + i);
    const lead = [...Array(a).keys()];
    const xc = op.sub(x!, op.mean(x!, norm, true));
    const rstd = op.reciprocal(op.sqrt(op.add(op.mean(op.mul(xc, xc), norm, true), eps)));
    const xhat = op.mul(xc, rstd);
    const dxhat = op.mul(d!, scale!);
    const dx = op.mul(
      rstd,
      op.sub(
        op.sub(dxhat, op.mean(dxhat, norm, true)),
        op.mul(xhat, op.mean(op.mul(dxhat, xhat), norm, true)),
      ),
    );
    const overLead = (t: Tensor) => (lead.length ? op.sum(t, lead) : t);
    return [dx, overLead(op.mul(d!, xhat)), bias ? overLead(d!) : null];
  },
  CumSum: ({ node, x: [, axisT], dy: [d] }) => [
    op.cumsum(d!, mustConst(axisT, 'CumSum axis')[0], {
      exclusive: attr(node, 'exclusive', 0) === 1,
      reverse: attr(node, 'reverse', 0) !== 1,
    }),
    null,
  ],
  TopK: ({ node, x: [x], y: [, indices], dy: [d] }) => [
    op.scatterElements(fillLike(x!, 0), indices, d!, attr(node, 'axis', -1), 'add'),
    null,
  ],

  Reshape: ({ x: [x], dy: [d] }) => [reshapeLike(d!, x!), null],
  Squeeze: ({ x: [x], dy: [d] }) => [reshapeLike(d!, x!), null],
  Unsqueeze: ({ x: [x], dy: [d] }) => [reshapeLike(d!, x!), null],
  Transpose: ({ node, dy: [d] }) => {
    const perm = node.attrs.perm as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [op.transpose(d!, inverse)];
  },
  // The target shape is a run-time tensor: symbolic dims of x may be broadcast, so decide at run time then.
  Expand: ({ x: [x], dy: [d] }) => [
    x!.shape.some((v) => typeof v === 'string')
      ? sumToDynamic(d!, x!, d!.shape.length - x!.shape.length)
      : sumTo(d!, x!),
    null,
  ],
  Tile: ({ x: [x, repeatsT], dy: [d] }) => {
    const repeats = mustConst(repeatsT, 'Tile repeats');
    // [r0·x0, r1·x1, …] → [r0, x0, r1, x1, …], summed over the repeat axes.
    const parts = repeats.flatMap((r, i) => [
      r,
      typeof x!.shape[i] === 'number' ? (x!.shape[i] as number) : dimOf(x!, i),
    ]);
    const declared = repeats.flatMap((r, i) => [r, x!.shape[i]]);
    const split = reshapeParts(d!, parts, declared);
    return [
      op.sum(
        split,
        repeats.map((_, i) => 2 * i),
      ),
      null,
    ];
  },
  Concat: ({ node, x, dy: [d] }) => {
    const axis = attr(node, 'axis', 0);
    const g = d!.graph;
    if (x.every((t) => typeof t!.shape[axis] === 'number')) {
      let start = 0;
      return x.map((t) => {
        const end = start + (t!.shape[axis] as number);
        const part = op.slice(d!, [axis], [start], [end]);
        start = end;
        return part;
      });
    }
    let start = op.constInt64(g, [0]);
    return x.map((t) => {
      const end = op.add(start, dimOf(t!, axis));
      const [part] = g.node('Slice', [d, start, end, op.constInt64(g, [axis])], [like(t!)]);
      start = end;
      return part;
    });
  },
  Split: ({ node, y, dy }) => [
    op.concat(
      y.map((o, i) => dy[i] ?? fillLike(o, 0)),
      attr(node, 'axis', 0),
    ),
    null,
  ],
  Slice: ({ node, x: [x, starts, ends, axesT, stepsT], dy: [d] }) => {
    const r = x!.shape.length;
    const [s, e] = [constValues(starts), constValues(ends)];
    const axes = axesT ? constValues(axesT) : s?.map((_, i) => i);
    const steps = stepsT ? constValues(stepsT) : s?.map(() => 1);
    const dims = axes?.map((a) => x!.shape[normAxis(a, r)]);
    if (s && e && axes && steps?.every((v) => v === 1) && dims?.every((v) => typeof v === 'number')) {
      // Unit steps over known sizes: the gradient is d padded with zeros back to x's extent.
      const pads = new Array(2 * r).fill(0);
      axes.forEach((a0, i) => {
        const a = normAxis(a0, r);
        const n = dims[i] as number;
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
        const lo = clamp(s[i]);
        pads[a] = lo;
        pads[a + r] = n - Math.max(lo, clamp(e[i]));
      });
      return [d!.graph.node('Pad', [d, op.constInt64(d!.graph, pads)], [like(x!)], { mode: 'constant' })[0]];
    }
    const idx = d!.graph.node(
      'Slice',
      [iotaLike(x!), ...node.inputs.slice(1)],
      [{ dtype: 'int64', shape: d!.shape }],
    )[0];
    return [scatterBack(x!, idx, d!)];
  },
  Pad: ({ node, x: [x, padsT], dy: [d] }) => {
    const mode = (node.attrs.mode as string | undefined) ?? 'constant';
    const g = x!.graph;
    if (node.inputs[3]) throw new Error('autodiff: no gradient for Pad with an axes input');
    if (mode === 'constant') {
      // Padding with −pads crops (and negative pads, a crop, become zero padding).
      const pads = constValues(padsT);
      const neg = pads
        ? op.constInt64(
            g,
            pads.map((p) => -p),
          )
        : op.neg(padsT!);
      return [g.node('Pad', [d, neg], [like(x!)], { mode: 'constant' })[0], null, null];
    }
    const idx = g.node('Pad', [iotaLike(x!), padsT], [{ dtype: 'int64', shape: d!.shape }], { mode })[0];
    return [scatterBack(x!, idx, d!), null, null];
  },
  Gather: ({ node, x: [x, indices], dy: [d] }) => {
    const axis = normAxis(attr(node, 'axis', 0), x!.shape.length);
    if (axis !== 0) return [scatterBack(x!, op.gather(iotaLike(x!), indices!, axis), d!), null];
    // Embedding-style: add each row gradient into its row (ScatterND with add), negative indices wrapped first.
    const idx = op.cast(indices!, 'int64');
    const wrapped = op.where(op.less(idx, 0), op.add(idx, op.squeeze(dimOf(x!, 0), [0])), idx);
    const [dx] = x!.graph.node('ScatterND', [fillLike(x!, 0), op.unsqueeze(wrapped, [-1]), d], [like(x!)], {
      reduction: 'add',
    });
    return [dx, null];
  },
  GatherElements: ({ node, x: [x, indices], dy: [d] }) => [
    op.scatterElements(fillLike(x!, 0), indices!, d!, attr(node, 'axis', 0), 'add'),
    null,
  ],
  ScatterElements: ({ node, x: [, indices, updates], dy: [d] }) => {
    const axis = attr(node, 'axis', 0);
    const reduction = (node.attrs.reduction as string | undefined) ?? 'none';
    if (reduction !== 'none' && reduction !== 'add')
      throw new Error(`autodiff: no gradient for ScatterElements with reduction ${reduction}`);
    const dx = reduction === 'add' ? d! : op.scatterElements(d!, indices!, fillLike(updates!, 0), axis);
    return [dx, null, op.gatherElements(d!, indices!, axis)];
  },
  ScatterND: ({ node, x: [, indices, updates], dy: [d] }) => {
    const reduction = (node.attrs.reduction as string | undefined) ?? 'none';
    if (reduction !== 'none' && reduction !== 'add')
      throw new Error(`autodiff: no gradient for ScatterND with reduction ${reduction}`);
    const g = d!.graph;
    const dx = reduction === 'add' ? d! : op.scatterND(d!, indices!, fillLike(updates!, 0));
    return [dx, null, g.node('GatherND', [d, indices], [like(updates!)])[0]];
  },

  Conv: ({ node, x: [x, w, b], dy: [d] }) => [
    convInputGrad(d!, w!, x!, node),
    convWeightGrad(x!, d!, w!, node),
    b ? op.sum(d!, [0, 2, 3]) : null,
  ],
  // ConvTranspose is the adjoint of Conv with the same weight: its input gradient is a Conv, its weight gradient
  // the Conv weight gradient with the roles of input and output swapped.
  ConvTranspose: ({ node, x: [x, w, b], dy: [d] }) => [
    d!.graph.node('Conv', [d, w], [like(x!)], {
      strides: attrList(node, 'strides', [1, 1]),
      pads: attrList(node, 'pads', [0, 0, 0, 0]),
      dilations: attrList(node, 'dilations', [1, 1]),
      group: attr(node, 'group', 1),
    })[0],
    convWeightGrad(d!, x!, w!, node),
    b ? op.sum(d!, [0, 2, 3]) : null,
  ],
  Resize: ({ node, x: [x], y: [y], dy: [d] }) => {
    if (node.inputs[2] || node.inputs[1] || fmt(attrList(node, 'axes', [])) !== fmt([2, 3]))
      throw new Error('autodiff: Resize gradient needs the engine form (sizes input, axes [2, 3])');
    if (node.attrs.mode === 'nearest') {
      const g = x!.graph;
      const ids = op.cast(iotaLike(x!), 'int32');
      const [moved] = g.node(
        'Resize',
        [ids, null, null, node.inputs[3]],
        [{ dtype: 'int32', shape: y.shape }],
        node.attrs,
      );
      return [scatterBack(x!, moved, d!)];
    }
    // Linear and cubic resizing are separable linear maps: dx = M_h · d · M_wᵀ.
    const mh = resizeMatrix(node, x!, y, 2);
    const mw = resizeMatrix(node, x!, y, 3);
    return [op.matmul(mh, op.matmul(d!, op.transpose(mw, [1, 0])))];
  },
};

/** Ops whose outputs do not depend differentiably on their inputs (shapes, indices, comparisons, rounding). */
const CONSTANT_OUTPUT = new Set([
  'Shape',
  'Size',
  'Range',
  'ConstantOfShape',
  'NonZero',
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'And',
  'Or',
  'Not',
  'ArgMax',
  'ArgMin',
  'BitwiseAnd',
  'BitShift',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
]);

/** ONNX ops with a gradient rule (for reports and tests). */
export const DIFFERENTIABLE_OPS: readonly string[] = Object.keys(RULES);

// ---------------------------------------------------------------------------------------------------------------
// the pass

export interface GradientOptions {
  /**
   * Activation checkpointing: recompute each segment between recomputeBoundary() marks in the backward pass from
   * its saved input instead of keeping its activations (recompute.ts). Same gradients, one more forward pass.
   */
  recompute?: boolean;
}

/**
 * Appends to loss's graph the gradient of loss with respect to each of wrt (params, inputs or intermediate
 * tensors); null where wrt does not influence the loss. The graph must hold primitive ops only on the paths from
 * wrt to loss. `seed` is d(something)/d loss (default ones: the gradient of the sum of loss's elements).
 */
export function gradients(
  loss: Tensor,
  wrt: readonly Tensor[],
  seed?: Tensor,
  o: GradientOptions = {},
): (Tensor | null)[] {
  const forward = [...loss.graph.nodes];
  // Forward sweep: the float tensors that depend on wrt.
  const active = new Set(wrt.map((t) => t.id));
  markActive(forward, active);
  if (!active.has(loss.id)) return wrt.map(() => null);

  const sums = new GradSums();
  sums.add(loss, seed ?? fillLike(loss, 1));
  const segmentOf = new Map<Node, Segment>();
  if (o.recompute) for (const s of recomputeSegments(forward)) for (const n of s.nodes) segmentOf.set(n, s);
  const recomputed = new Set<Segment>();
  // Backward sweep in reverse build order; a segment is recomputed and differentiated where its last node is met.
  for (let k = forward.length - 1; k >= 0; k--) {
    const segment = segmentOf.get(forward[k]);
    if (!segment) visit(forward[k], active, sums);
    else if (!recomputed.has(segment)) {
      recomputed.add(segment);
      recomputeBackward(segment, active, sums);
    }
  }
  return wrt.map((t) => sums.total(t));
}

/** Marks (in `active`) the float outputs of `nodes` that depend on an active tensor. */
function markActive(nodes: readonly Node[], active: Set<number>): void {
  for (const n of nodes) {
    if (!n.inputs.some((i) => i && active.has(i.id))) continue;
    if (n.composite && !compositeDef(n.composite.kind).vjp)
      throw new Error(
        `autodiff: composite ${n.composite.kind} on a gradient path: lower(graph, 'primitive') first`,
      );
    if (CONSTANT_OUTPUT.has(n.op) || stopNodes.has(n)) continue;
    for (const o of n.outputs) if (op.isFloat(o.dtype)) active.add(o.id);
  }
}

/** Gradient contributions per tensor, summed (in arrival order) when first read. */
class GradSums {
  private readonly parts = new Map<number, Tensor[]>();
  private readonly sums = new Map<number, Tensor>();
  /** Every contribution in arrival order. */
  readonly log: { to: Tensor; d: Tensor }[] = [];

  add(t: Tensor, d: Tensor): void {
    this.log.push({ to: t, d });
    const list = this.parts.get(t.id);
    if (list) list.push(d);
    else this.parts.set(t.id, [d]);
  }

  total(t: Tensor): Tensor | null {
    const done = this.sums.get(t.id);
    if (done) return done;
    const list = this.parts.get(t.id);
    if (!list) return null;
    const sum = list.reduce((a, b) => op.add(a, b));
    this.sums.set(t.id, sum);
    return sum;
  }
}

/** Adds the vector-Jacobian product of one node to its inputs' gradients. */
function visit(n: Node, active: Set<number>, sums: GradSums): void {
  if (!n.outputs.some((o) => active.has(o.id))) return;
  if (!n.inputs.some((i) => i && active.has(i.id))) return;
  const dy = n.outputs.map((o) => (active.has(o.id) ? sums.total(o) : null));
  if (dy.every((d) => d === null)) return;
  const dx = n.composite
    ? compositeDef(n.composite.kind).vjp!(
        n.outputs[0].graph,
        { x: n.inputs, y: n.outputs, dy },
        n.composite.options,
      )
    : ruleOf(n)({ node: n, x: n.inputs, y: n.outputs, dy });
  n.inputs.forEach((input, i) => {
    if (input && active.has(input.id) && !dx[i] && n.composite)
      throw new Error(`autodiff: composite ${n.composite.kind} has no gradient for its input ${i}`);
    if (!input || !active.has(input.id) || !dx[i]) return;
    checkGrad(n.op, input, dx[i]!);
    sums.add(input, dx[i]!);
  });
}

/**
 * The backward pass of one checkpointed segment: its nodes copied to read the saved start (ordered after the end's
 * gradient), then differentiated in reverse; tensors from outside the segment (parameters, shared tables) receive
 * their contributions directly, the start through the copy.
 * The start's gradient, which the backward pass of the segments before reads, is ordered after those contributions
 * (a parameter's gradient is small, but computing it reads the segment's activation-sized gradients and inputs):
 * ONNX Runtime orders nodes depth-first from the graph outputs, and a parameter gradient reached only through the
 * optimizer update would otherwise run after the whole backward pass, every layer's activations kept until then.
 */
function recomputeBackward(s: Segment, active: Set<number>, sums: GradSums): void {
  const dEnd = sums.total(s.end);
  if (!dEnd) return;
  const start = orderedAfter(s.start, dEnd);
  const copyOf = new Map<number, Tensor>([[s.start.id, start]]);
  const copies: Node[] = [];
  for (const n of s.nodes) {
    const outputs = copyNode(
      n,
      n.inputs.map((i) => i && (copyOf.get(i.id) ?? i)),
      start.graph,
    );
    const c = producer(outputs[0])!;
    if (stopNodes.has(n)) stopNodes.add(c);
    n.outputs.forEach((t, i) => {
      copyOf.set(t.id, outputs[i]);
    });
    copies.push(c);
  }
  if (active.has(s.start.id)) active.add(start.id);
  markActive(copies, active);
  sums.add(copyOf.get(s.end.id)!, dEnd);
  const from = sums.log.length;
  for (let k = copies.length - 1; k >= 0; k--) visit(copies[k], active, sums);
  const inside = new Set(copies.flatMap((c) => c.outputs.map((o) => o.id)));
  const outside = sums.log.slice(from).filter((c) => c.to !== start && !inside.has(c.to.id));
  const dStart = sums.total(start);
  const params = outside.map((c) => c.d);
  if (dStart) sums.add(s.start, params.length ? orderedAfter(dStart, params) : dStart);
}

function ruleOf(n: Node): Rule {
  const rule = RULES[n.op];
  if (!rule) throw new Error(`autodiff: no gradient rule for ONNX op ${n.op} (domain '${n.domain}')`);
  return rule;
}

/** Catches rule bugs at build time: a gradient has its input's dtype, rank and known sizes. */
function checkGrad(opName: string, x: Tensor, d: Tensor): void {
  const ok =
    d.dtype === x.dtype &&
    d.shape.length === x.shape.length &&
    d.shape.every((v, i) => typeof v !== 'number' || typeof x.shape[i] !== 'number' || v === x.shape[i]);
  if (!ok)
    throw new Error(
      `autodiff: the ${opName} rule gave a ${d.dtype}${fmt(d.shape)} gradient for a ${x.dtype}${fmt(x.shape)} input`,
    );
}

export interface Backward {
  /** The lowered (primitive) graph holding the forward outputs and the gradient nodes. */
  graph: Graph;
  loss: Tensor;
  /** Gradient of each requested parameter or input, by name (zeros when it does not reach the loss). */
  grads: Map<string, Tensor>;
  /** The lowered tensor of each requested name. */
  values: Map<string, Tensor>;
}

/** Composites autodiff keeps as nodes (they have their own gradient rule). */
export const hasVjp = (kind: string): boolean => compositeDef(kind).vjp !== undefined;

/**
 * Lowers `graph` to primitive ops (except composites with their own gradient rule, e.g. MatMulNBits: lower the
 * result before serializing) and differentiates its output `loss` (summed if not scalar) with respect to the named
 * parameters and inputs. Forward outputs stay outputs; gradients are returned, not added as outputs.
 */
export function backward(
  graph: Graph,
  loss: string,
  wrt: readonly string[],
  o: GradientOptions = {},
): Backward {
  const g = lower(graph, 'primitive', hasVjp);
  const out = g.outputs.find((o) => o.name === loss);
  if (!out) throw new Error(`backward: graph ${graph.name} has no output '${loss}'`);
  const values = new Map<string, Tensor>();
  for (const name of wrt) {
    const t = g.params.get(name) ?? g.inputs.find((i) => g.nameOf(i) === name);
    if (!t)
      throw new Error(
        `backward: '${name}' is neither a parameter nor an input of graph ${graph.name} reaching its outputs`,
      );
    values.set(name, t);
  }
  const ts = [...values.values()];
  const gs = gradients(out.tensor, ts, undefined, o);
  const grads = new Map<string, Tensor>();
  [...values.keys()].forEach((name, i) => {
    grads.set(name, gs[i] ?? fillLike(ts[i], 0));
  });
  return { graph: g, loss: out.tensor, grads, values };
}
