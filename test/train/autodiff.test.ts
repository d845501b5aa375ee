// Gradient checks for every rule of the autodiff table (src/engine/autodiff.ts): analytic gradients computed by
// ONNX Runtime from the emitted gradient graph (float32) against central differences of the float64 references
// of test/engine/reference.ts. Symbolic dims are bound to several sizes to exercise the run-time shape paths.
// Tolerance: max |analytic − numeric| ≤ 1e-5 · max |numeric| + 1e-5 per input unless a case says otherwise.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backward, DIFFERENTIABLE_OPS, gradients, stopGradient } from '../../src/engine/autodiff.ts';
import { Graph } from '../../src/engine/graph.ts';
import { toOnnx } from '../../src/engine/onnx.ts';
import * as op from '../../src/engine/ops.ts';
import { rmsNorm } from '../../src/engine/rms_norm.ts';
import { Session } from '../../src/runtime/session.ts';
import { tensor } from '../../src/tensor.ts';
import { ints } from '../engine/helpers.ts';
import * as R from '../engine/reference.ts';
import { awayFromZero, formatGradStats, type GradCase, gradCheck, uniform } from './gradcheck.ts';

const positive = uniform(0.3, 2);
const BATCH = [{ batch: 2 }, { batch: 3 }];

/** A permutation of 0..n-1 per row (unique scatter targets). */
const permutation =
  (n: number) => (shape: number[], dtype: 'int64' | 'float32' | string, random: () => number) => {
    const rows = shape.reduce((a, b) => a * b, 1) / shape[shape.length - 1];
    const out: number[] = [];
    for (let r = 0; r < rows; r++) {
      const p = [...Array(n).keys()];
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [p[i], p[j]] = [p[j], p[i]];
      }
      out.push(...p.slice(0, shape[shape.length - 1]));
    }
    return tensor(dtype as 'int64', shape, out);
  };

const unaryCases: GradCase[] = (
  [
    ['neg', op.neg, uniform(-2, 2)],
    ['abs', op.abs, awayFromZero()],
    ['exp', op.exp, uniform(-2, 2)],
    ['log', op.log, positive],
    ['sqrt', op.sqrt, positive],
    ['reciprocal', op.reciprocal, positive],
    ['tanh', op.tanh, uniform(-2, 2)],
    ['sigmoid', op.sigmoid, uniform(-3, 3)],
    ['erf', op.erf, uniform(-2, 2)],
    ['sin', op.sin, uniform(-3, 3)],
    ['cos', op.cos, uniform(-3, 3)],
    ['relu', op.relu, awayFromZero()],
    ['silu', op.silu, uniform(-3, 3)],
    ['gelu', op.gelu, uniform(-3, 3)],
  ] as const
).map(([name, f, gen]) => ({
  name,
  inputs: { x: { dims: ['batch', 5], gen } },
  build: ({ x }) => f(x),
  ref: (v) => R.map(v.x, R.UNARY[name]),
  bindings: BATCH,
}));

const binaryCases: GradCase[] = [
  {
    name: 'add (broadcast [batch,3,4] + [3,1])',
    inputs: { a: { dims: ['batch', 3, 4] }, b: { dims: [3, 1] } },
    build: ({ a, b }) => op.add(a, b),
    ref: (v) => R.add(v.a, v.b),
    bindings: BATCH,
  },
  {
    name: 'sub (broadcast [4] − [batch,3,4])',
    inputs: { a: { dims: [4] }, b: { dims: ['batch', 3, 4] } },
    build: ({ a, b }) => op.sub(a, b),
    ref: (v) => R.sub(v.a, v.b),
    bindings: BATCH,
  },
  {
    name: 'mul (broadcast [batch,1,4] · [3,1])',
    inputs: { a: { dims: ['batch', 1, 4] }, b: { dims: [3, 1] } },
    build: ({ a, b }) => op.mul(a, b),
    ref: (v) => R.mul(v.a, v.b),
    bindings: BATCH,
  },
  {
    name: 'div (broadcast, positive divisor)',
    inputs: { a: { dims: ['batch', 3] }, b: { dims: [1, 3], gen: positive } },
    build: ({ a, b }) => op.div(a, b),
    ref: (v) => R.div(v.a, v.b),
    bindings: BATCH,
  },
  {
    name: 'pow (positive base, both operands)',
    inputs: { a: { dims: ['batch', 3], gen: positive }, b: { dims: [3], gen: uniform(-1.5, 1.5) } },
    build: ({ a, b }) => op.pow(a, b),
    ref: (v) => R.pow(v.a, v.b),
    bindings: BATCH,
  },
  {
    name: 'max (broadcast)',
    inputs: { a: { dims: ['batch', 3] }, b: { dims: [3] } },
    build: ({ a, b }) => op.maximum(a, b),
    ref: (v) => R.maximum(v.a, v.b),
    bindings: BATCH,
  },
  {
    name: 'min (broadcast)',
    inputs: { a: { dims: ['batch', 3] }, b: { dims: ['batch', 1] } },
    build: ({ a, b }) => op.minimum(a, b),
    ref: (v) => R.minimum(v.a, v.b),
    bindings: BATCH,
  },
  {
    name: 'where (3-way broadcast)',
    inputs: {
      c: { dtype: 'bool', dims: ['batch', 1, 4], gen: ints(0, 1) },
      a: { dims: [3, 1] },
      b: { dims: ['batch', 3, 4] },
    },
    build: ({ c, a, b }) => op.where(c, a, b),
    ref: (v) => R.where(v.c, v.a, v.b),
    bindings: BATCH,
  },
  {
    name: 'cast float32 → float64 → float32',
    inputs: { x: { dims: ['batch', 3] } },
    build: ({ x }) => op.cast(op.mul(op.cast(x, 'float64'), 3), 'float32'),
    ref: (v) => R.mul(v.x, R.scalar(3)),
    bindings: BATCH,
  },
  {
    name: 'ambiguous broadcast of two symbolic dims (run-time unbroadcast)',
    inputs: { a: { dims: ['n', 3] }, b: { dims: ['m', 3] } },
    build: ({ a, b }) => op.mul(a, b),
    ref: (v) => R.mul(v.a, v.b),
    bindings: [
      { n: 4, m: 1 },
      { n: 1, m: 4 },
      { n: 2, m: 2 },
    ],
  },
];

const linalgCases: GradCase[] = [
  {
    name: 'matmul [batch,3,4] @ [4,5] (linear layer path)',
    inputs: { a: { dims: ['batch', 3, 4] }, b: { dims: [4, 5] } },
    build: ({ a, b }) => op.matmul(a, b),
    ref: (v) => R.matmul(v.a, v.b),
    bindings: BATCH,
  },
  {
    name: 'matmul batched [2,3,4] @ [2,4,5]',
    inputs: { a: { dims: [2, 3, 4] }, b: { dims: [2, 4, 5] } },
    build: ({ a, b }) => op.matmul(a, b),
    ref: (v) => R.matmul(v.a, v.b),
  },
  {
    name: 'matmul broadcast batch [1,3,4] @ [batch,4,2]',
    inputs: { a: { dims: [1, 3, 4] }, b: { dims: ['batch', 4, 2] } },
    build: ({ a, b }) => op.matmul(a, b),
    ref: (v) => R.matmul(v.a, v.b),
    bindings: BATCH,
  },
  {
    name: 'matmul [3,4] @ [batch,4,2]',
    inputs: { a: { dims: [3, 4] }, b: { dims: ['batch', 4, 2] } },
    build: ({ a, b }) => op.matmul(a, b),
    ref: (v) => R.matmul(v.a, v.b),
    bindings: BATCH,
  },
  {
    name: 'linear with bias (PyTorch layout)',
    inputs: { x: { dims: ['batch', 2, 4] }, w: { dims: [3, 4] }, b: { dims: [3] } },
    build: ({ x, w, b }) => op.linear(x, w, b),
    ref: (v) => R.add(R.matmul(v.x, R.transpose(v.w, [1, 0])), v.b),
    bindings: BATCH,
  },
  ...(['sum', 'mean', 'max', 'min', 'prod'] as const).flatMap((kind): GradCase[] => [
    {
      name: `reduce ${kind} over [1] keepdims`,
      inputs: { x: { dims: ['batch', 4, 3], gen: kind === 'prod' ? awayFromZero(0.5, 1.5) : uniform() } },
      build: ({ x }) => op.reduce(kind, x, [1], true),
      ref: (v) => R.reduce(kind, v.x, [1], true),
      bindings: BATCH,
    },
    {
      name: `reduce ${kind} over [0, 2] (symbolic axis)`,
      inputs: { x: { dims: ['batch', 4, 3], gen: kind === 'prod' ? awayFromZero(0.5, 1.5) : uniform() } },
      build: ({ x }) => op.reduce(kind, x, [0, -1]),
      ref: (v) => R.reduce(kind, v.x, [0, 2]),
      bindings: BATCH,
    },
  ]),
  {
    name: 'reduce sum over all axes',
    inputs: { x: { dims: ['batch', 3] } },
    build: ({ x }) => op.sum(x, []),
    ref: (v) => R.reduce('sum', v.x, []),
    bindings: BATCH,
  },
  {
    name: 'softmax last axis',
    inputs: { x: { dims: ['batch', 3, 5], gen: uniform(-3, 3) } },
    build: ({ x }) => op.softmax(x, -1),
    ref: (v) => R.softmax(v.x, -1),
    bindings: BATCH,
  },
  {
    name: 'softmax axis 1',
    inputs: { x: { dims: [2, 'n', 3], gen: uniform(-3, 3) } },
    build: ({ x }) => op.softmax(x, 1),
    ref: (v) => R.softmax(v.x, 1),
    bindings: [{ n: 4 }],
  },
  {
    name: 'logSoftmax',
    inputs: { x: { dims: ['batch', 6], gen: uniform(-3, 3) } },
    build: ({ x }) => op.logSoftmax(x),
    ref: (v) => R.logSoftmax(v.x),
    bindings: BATCH,
  },
  {
    name: 'layerNorm last axis with bias',
    inputs: { x: { dims: ['batch', 3, 6], gen: uniform(-2, 2) }, s: { dims: [6] }, b: { dims: [6] } },
    build: ({ x, s, b }) => op.layerNorm(x, s, b, 1e-5),
    ref: (v) => R.layerNorm(v.x, v.s, v.b, 1e-5),
    bindings: BATCH,
  },
  {
    name: 'layerNorm over two axes, no bias',
    inputs: { x: { dims: ['batch', 3, 4], gen: uniform(-2, 2) }, s: { dims: [3, 4] } },
    build: ({ x, s }) => op.layerNorm(x, s, null, 1e-5, 1),
    ref: (v) => R.layerNorm(v.x, v.s, null, 1e-5, 1),
    bindings: BATCH,
  },
  {
    name: 'cumsum',
    inputs: { x: { dims: ['batch', 5] } },
    build: ({ x }) => op.cumsum(x, 1),
    ref: (v) => R.cumsum(v.x, 1),
    bindings: BATCH,
  },
  {
    name: 'cumsum exclusive reverse',
    inputs: { x: { dims: [3, 'n'] } },
    build: ({ x }) => op.cumsum(x, -1, { exclusive: true, reverse: true }),
    ref: (v) => R.cumsum(v.x, -1, { exclusive: true, reverse: true }),
    bindings: [{ n: 4 }],
  },
  {
    name: 'topk values',
    inputs: { x: { dims: ['batch', 6] } },
    build: ({ x }) => op.topk(x, 3, -1)[0],
    ref: (v) => R.topk(v.x, 3, -1)[0],
    bindings: BATCH,
  },
];

const movementCases: GradCase[] = [
  {
    name: 'reshape with symbolic dims',
    inputs: { x: { dims: ['batch', 6] } },
    build: ({ x }) => op.reshape(x, ['batch', 2, 3]),
    ref: (v) => R.reshape(v.x, [v.x.shape[0], 2, 3]),
    bindings: BATCH,
  },
  {
    name: 'transpose',
    inputs: { x: { dims: ['batch', 3, 4] } },
    build: ({ x }) => op.transpose(x, [2, 0, 1]),
    ref: (v) => R.transpose(v.x, [2, 0, 1]),
    bindings: BATCH,
  },
  {
    name: 'unsqueeze and squeeze',
    inputs: { x: { dims: ['batch', 1, 3] } },
    build: ({ x }) => op.unsqueeze(op.squeeze(x, [1]), [0, 3]),
    ref: (v) => R.reshape(v.x, [1, v.x.shape[0], 3, 1]),
    bindings: BATCH,
  },
  {
    name: 'expand to symbolic dims',
    inputs: { x: { dims: [3, 1] }, y: { dims: ['batch', 3, 4] } },
    build: ({ x, y }) => op.add(op.expand(x, ['batch', 3, 4]), y),
    ref: (v) => R.add(R.expand(v.x, v.y.shape), v.y),
    bindings: BATCH,
  },
  {
    name: 'tile',
    inputs: { x: { dims: ['batch', 3] } },
    build: ({ x }) => op.tile(x, [2, 3]),
    ref: (v) => R.tile(v.x, [2, 3]),
    bindings: BATCH,
  },
  {
    name: 'concat (static sizes)',
    inputs: { a: { dims: ['batch', 2] }, b: { dims: ['batch', 3] } },
    build: ({ a, b }) => op.concat([a, b, a], 1),
    ref: (v) => R.concat([v.a, v.b, v.a], 1),
    bindings: BATCH,
  },
  {
    name: 'concat along symbolic dims',
    inputs: { a: { dims: ['n', 2] }, b: { dims: ['m', 2] } },
    build: ({ a, b }) => op.concat([a, b], 0),
    ref: (v) => R.concat([v.a, v.b], 0),
    bindings: [
      { n: 1, m: 3 },
      { n: 2, m: 2 },
    ],
  },
  {
    name: 'split (one part unused)',
    inputs: { x: { dims: ['batch', 6] } },
    build: ({ x }) => {
      const [a, , c] = op.split(x, [1, 2, 3], 1);
      return op.concat([c, a], 1);
    },
    ref: (v) => {
      const [a, , c] = R.split(v.x, [1, 2, 3], 1);
      return R.concat([c, a], 1);
    },
    bindings: BATCH,
  },
  {
    name: 'slice unit step (pad path)',
    inputs: { x: { dims: ['batch', 7, 4] } },
    build: ({ x }) => op.slice(x, [1, 2], [1, -3], [-2, 100]),
    ref: (v) => R.slice(v.x, [1, 2], [1, -3], [-2, 100]),
    bindings: BATCH,
  },
  {
    name: 'slice negative and strided steps (index path)',
    inputs: { x: { dims: ['batch', 7] } },
    build: ({ x }) => op.concat([op.slice(x, [1], [-1], [-100], [-2]), op.slice(x, [1], [1], [7], [3])], 1),
    ref: (v) => R.concat([R.slice(v.x, [1], [-1], [-100], [-2]), R.slice(v.x, [1], [1], [7], [3])], 1),
    bindings: BATCH,
  },
  {
    name: 'slice of a symbolic axis',
    inputs: { x: { dims: [2, 'n'] } },
    build: ({ x }) => op.slice(x, [1], [1], [-1]),
    ref: (v) => R.slice(v.x, [1], [1], [-1]),
    bindings: [{ n: 3 }, { n: 5 }],
  },
  {
    name: 'sliceDynamic (run-time bounds)',
    inputs: { x: { dims: [2, 'n'] }, s: { dtype: 'int64', dims: [1], gen: ints(0, 1) } },
    build: ({ x, s }) => op.sliceDynamic(x, [1], s, op.add(s, 2)),
    ref: (v) => R.slice(v.x, [1], [v.s.data[0]], [v.s.data[0] + 2]),
    bindings: [{ n: 4 }],
  },
  ...(['constant', 'edge', 'reflect'] as const).map(
    (mode): GradCase => ({
      name: `pad ${mode}`,
      inputs: { x: { dims: ['batch', 4] } },
      build: ({ x }) => op.pad(x, [0, 2, 1, 1], mode, 0),
      ref: (v) => R.pad(v.x, [0, 2, 1, 1], mode, 0),
      bindings: BATCH,
    }),
  ),
  {
    name: 'gather axis 0 (embedding, repeated and negative indices)',
    inputs: {
      x: { dims: [5, 3] },
      i: { dtype: 'int64', dims: ['batch', 4], gen: ints(-5, 4) },
    },
    build: ({ x, i }) => op.gather(x, i, 0),
    ref: (v) => R.gather(v.x, v.i, 0),
    bindings: BATCH,
  },
  {
    name: 'gather axis 1',
    inputs: { x: { dims: ['batch', 5] }, i: { dtype: 'int64', dims: [3], gen: ints(0, 4) } },
    build: ({ x, i }) => op.gather(x, i, 1),
    ref: (v) => R.gather(v.x, v.i, 1),
    bindings: BATCH,
  },
  {
    name: 'gatherElements',
    inputs: { x: { dims: ['batch', 5] }, i: { dtype: 'int64', dims: ['batch', 3], gen: ints(0, 4) } },
    build: ({ x, i }) => op.gatherElements(x, i, 1),
    ref: (v) => R.gatherElements(v.x, v.i, 1),
    bindings: BATCH,
  },
  {
    name: 'scatterElements (none)',
    inputs: {
      x: { dims: ['batch', 5] },
      i: { dtype: 'int64', dims: ['batch', 3], gen: permutation(5) },
      u: { dims: ['batch', 3] },
    },
    build: ({ x, i, u }) => op.scatterElements(x, i, u, 1),
    ref: (v) => R.scatterElements(v.x, v.i, v.u, 1),
    bindings: BATCH,
  },
  {
    name: 'scatterElements (add, repeated indices)',
    inputs: {
      x: { dims: ['batch', 5] },
      i: { dtype: 'int64', dims: ['batch', 4], gen: ints(0, 4) },
      u: { dims: ['batch', 4] },
    },
    build: ({ x, i, u }) => op.scatterElements(x, i, u, 1, 'add'),
    ref: (v) => R.scatterElements(v.x, v.i, v.u, 1, 'add'),
    bindings: BATCH,
  },
  {
    name: 'scatterND (rows into a table, as the visual scatter)',
    inputs: {
      x: { dims: [6, 3] },
      i: {
        dtype: 'int64',
        dims: [4, 1],
        gen: (shape, dtype, r) =>
          tensor(dtype as 'int64', shape, [...permutation(6)([4], dtype, r).data].map(Number)),
      },
      u: { dims: [4, 3] },
    },
    build: ({ x, i, u }) => op.scatterND(x, i, u),
    ref: (v) => R.scatterND(v.x, v.i, v.u),
  },
];

const convCases: GradCase[] = [
  {
    name: 'conv2d stride 2, pads, bias',
    inputs: { x: { dims: ['batch', 2, 7, 6] }, w: { dims: [3, 2, 3, 2] }, b: { dims: [3] } },
    build: ({ x, w, b }) => op.conv2d(x, w, b, { strides: [2, 2], pads: [1, 0, 1, 1] }),
    ref: (v) => R.conv2d(v.x, v.w, v.b, { strides: [2, 2], pads: [1, 0, 1, 1] }),
    bindings: [{ batch: 2 }],
  },
  {
    name: 'conv2d groups 2, dilation 2',
    inputs: { x: { dims: [2, 4, 7, 7] }, w: { dims: [6, 2, 2, 3] } },
    build: ({ x, w }) => op.conv2d(x, w, null, { group: 2, dilations: [2, 2], strides: [1, 2] }),
    ref: (v) => R.conv2d(v.x, v.w, null, { group: 2, dilations: [2, 2], strides: [1, 2] }),
  },
  {
    name: 'conv2d symbolic spatial dims (run-time output padding)',
    inputs: { x: { dims: [1, 2, 'h', 'w'] }, w: { dims: [2, 2, 3, 3] } },
    build: ({ x, w }) => op.conv2d(x, w, null, { strides: [2, 2], pads: [1, 1, 1, 1] }),
    ref: (v) => R.conv2d(v.x, v.w, null, { strides: [2, 2], pads: [1, 1, 1, 1] }),
    bindings: [
      { h: 6, w: 5 },
      { h: 5, w: 8 },
    ],
  },
  {
    name: 'convTranspose2d stride 2, output padding, bias',
    inputs: { x: { dims: [2, 3, 3, 4] }, w: { dims: [3, 2, 3, 2] }, b: { dims: [2] } },
    build: ({ x, w, b }) =>
      op.convTranspose2d(x, w, b, { strides: [2, 2], pads: [1, 0, 0, 1], outputPadding: [1, 1] }),
    ref: (v) =>
      R.convTranspose2d(v.x, v.w, v.b, { strides: [2, 2], pads: [1, 0, 0, 1], outputPadding: [1, 1] }),
  },
  ...(
    [
      ['nearest up', [7, 5], { mode: 'nearest', nearestMode: 'floor' }],
      ['linear up (half_pixel)', [7, 9], { mode: 'linear' }],
      ['linear align_corners', [5, 3], { mode: 'linear', coordinates: 'align_corners' }],
      ['cubic down with antialias', [3, 2], { mode: 'cubic', antialias: true }],
    ] as const
  ).map(
    ([what, size, p]): GradCase => ({
      name: `resize ${what}`,
      inputs: { x: { dims: [2, 'c', 4, 5] } },
      build: ({ x }) => op.resize(x, [size[0], size[1]], p),
      ref: (v) => R.resize(v.x, [size[0], size[1]], p),
      bindings: [{ c: 2 }],
    }),
  ),
];

const allCases = {
  unary: unaryCases,
  binary: binaryCases,
  linalg: linalgCases,
  movement: movementCases,
  conv: convCases,
};

for (const [group, cases] of Object.entries(allCases))
  describe(`gradient check: ${group}`, () => {
    for (const c of cases)
      test(c.name, async (t) => {
        t.diagnostic(formatGradStats(await gradCheck(c)));
      });
  });

describe('autodiff pass', () => {
  test('the table covers every differentiable op the engine emits', () => {
    // Float-valued ops of ops.ts and the composite lowerings; rounding ops have zero gradient by design.
    const engineOps = [
      ...['Neg', 'Abs', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Tanh', 'Sigmoid', 'Erf', 'Sin', 'Cos', 'Relu'],
      ...['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Where', 'Cast', 'MatMul'],
      ...['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'Softmax', 'LogSoftmax'],
      ...['LayerNormalization', 'CumSum', 'TopK', 'Reshape', 'Transpose', 'Unsqueeze', 'Squeeze', 'Concat'],
      ...[
        'Split',
        'Slice',
        'Gather',
        'GatherElements',
        'ScatterElements',
        'ScatterND',
        'Expand',
        'Tile',
        'Pad',
      ],
      ...['Conv', 'ConvTranspose', 'Resize', 'Identity'],
    ];
    assert.deepEqual(
      engineOps.filter((o) => !DIFFERENTIABLE_OPS.includes(o)),
      [],
    );
  });

  test('stopGradient blocks the gradient (d/dx of x·stop(x) is x, not 2x)', async () => {
    const g = new Graph('stop');
    const x = g.input('x', 'float32', [3]);
    const y = g.input('y', 'float32', [3]);
    g.output('loss', op.sum(op.add(op.mul(x, stopGradient(x)), y), []));
    const bw = backward(g, 'loss', ['x', 'y']);
    bw.graph.output('gx', bw.grads.get('x')!);
    bw.graph.output('gy', bw.grads.get('y')!);
    const s = await Session.create(toOnnx(bw.graph, { lowering: 'primitive' }).bytes);
    const res = await s.run({ x: tensor('float32', [3], [1, -2, 3]), y: tensor('float32', [3], [5, 6, 7]) });
    await s.release();
    assert.deepEqual([...(res.gx.data as Float32Array)], [1, -2, 3]);
    assert.deepEqual([...(res.gy.data as Float32Array)], [1, 1, 1]);
  });

  test('tensors that do not reach the loss get no gradient; composites must be lowered first', () => {
    const g = new Graph('g');
    const x = g.input('x', 'float32', [1, 2]);
    const z = g.input('z', 'float32', [2]);
    assert.deepEqual(gradients(op.sum(op.mul(x, 2), []), [z]), [null]);
    const w = g.param('w', 'float32', [2]);
    assert.throws(() => gradients(op.sum(rmsNorm(x, w), []), [w]), /lower\(graph, 'primitive'\) first/);
  });

  test('an op without a rule is named', () => {
    const g = new Graph('g');
    const x = g.input('x', 'float32', [2, 3]);
    const [y] = g.node('Hardmax', [x], [{ dtype: 'float32', shape: [2, 3] }]);
    assert.throws(() => gradients(op.sum(op.mul(y, x), []), [x]), /no gradient rule for ONNX op Hardmax/);
  });
});
