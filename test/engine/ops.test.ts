// Every primitive op of src/engine/ops.ts run through toOnnx + ONNX Runtime on seeded random inputs and compared
// with the float64 reference in reference.ts: broadcasting, number operands, symbolic dims fed with concrete
// sizes, and the run-time shape paths (reshape / expand / full with symbolic dims). One session per group.
//
// Tolerances (fp32 results against float64 math on the same fp32 inputs; pass when |err| ≤ atol + rtol·|ref|):
// - data movement, indexing, integer, bool and comparison ops: exact (EXACT);
// - correctly rounded fp32 arithmetic (add, sub, mul, div, sqrt, reciprocal, min, max): ½ ulp (ROUNDED);
// - transcendental functions and their compositions (exp, log, tanh, sigmoid, erf, sin, cos, pow, silu, gelu):
//   a few ulp, with an absolute floor for results near zero (MATH);
// - accumulations of O(1) values (matmul, reductions, softmax, layer norm, cumsum, scatter-add, conv, linear and
//   cubic resize): ACCUM; nearest resize and max/min reductions are exact.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph } from '../../src/engine/graph.ts';
import { toOnnx } from '../../src/engine/onnx.ts';
import * as op from '../../src/engine/ops.ts';
import { type DType, tensor } from '../../src/tensor.ts';
import { EXACT, formatStats, type Gen, ints, OpTest, type Tol, uniform } from './helpers.ts';
import * as R from './reference.ts';

const ROUNDED: Tol = { atol: 0, rtol: 2 ** -24 };
const MATH: Tol = { atol: 1e-7, rtol: 1e-6 };
const ACCUM: Tol = { atol: 1e-5, rtol: 1e-5 };

const positive = uniform(0.25, 3);
const bools = ints(0, 1);

test('elementwise: broadcasting, number operands, comparisons, logic, where, int64 arithmetic', async (t) => {
  const c = new OpTest('elementwise', 1);
  const a = c.input('a', 'float32', ['batch', 3, 4], uniform(-2, 2));
  const b = c.input('b', 'float32', [3, 1]);
  const v = c.input('v', 'float32', [4]);
  const d = c.input('d', 'float32', ['batch', 1, 1]);
  const p = c.input('p', 'float32', ['batch', 3, 4], positive);
  // Small integers stored as floats, so that equality and ties actually happen.
  const h = c.input('h', 'float32', ['batch', 3, 4], ints(-2, 2));
  const u = c.input('u', 'float32', [3, 1], ints(-2, 2));
  const m = c.input('m', 'bool', ['batch', 3, 4], bools);
  const n = c.input('n', 'bool', [4], bools);
  const i = c.input('i', 'int64', ['batch', 3, 4], ints(-50, 50));
  const j = c.input('j', 'int64', [4], ints(1, 9));
  const k = c.input('k', 'int64', [3, 1], ints(-9, -1));

  c.expect('add', op.add(a, b), (x) => R.add(x(a), x(b)), ROUNDED);
  c.expect('sub', op.sub(v, a), (x) => R.sub(x(v), x(a)), ROUNDED);
  c.expect('mul', op.mul(a, d), (x) => R.mul(x(a), x(d)), ROUNDED);
  c.expect('div', op.div(a, p), (x) => R.div(x(a), x(p)), ROUNDED);
  c.expect('max', op.maximum(a, b), (x) => R.maximum(x(a), x(b)), EXACT);
  c.expect('min [4]·[batch,1,1]', op.minimum(v, d), (x) => R.minimum(x(v), x(d)), EXACT);
  c.expect('pow', op.pow(p, v), (x) => R.pow(x(p), x(v)), MATH);
  c.expect('add number', op.add(a, 2.5), (x) => R.add(x(a), R.scalar(2.5)), ROUNDED);
  c.expect('sub number first', op.sub(1.5, a), (x) => R.sub(R.scalar(1.5), x(a)), ROUNDED);
  c.expect('mul number', op.mul(a, -3), (x) => R.mul(x(a), R.scalar(-3)), ROUNDED);
  c.expect('div number first', op.div(1, p), (x) => R.div(R.scalar(1), x(p)), ROUNDED);
  c.expect('pow number', op.pow(p, 2), (x) => R.pow(x(p), R.scalar(2)), MATH);

  c.expect('equal', op.equal(h, u), (x) => R.equal(x(h), x(u)), EXACT);
  c.expect('less', op.less(h, u), (x) => R.less(x(h), x(u)), EXACT);
  c.expect('greater', op.greater(a, b), (x) => R.greater(x(a), x(b)), EXACT);
  c.expect('lessOrEqual', op.lessOrEqual(h, u), (x) => R.lessOrEqual(x(h), x(u)), EXACT);
  c.expect('greaterOrEqual', op.greaterOrEqual(h, u), (x) => R.greaterOrEqual(x(h), x(u)), EXACT);
  c.expect('equal number', op.equal(h, 1), (x) => R.equal(x(h), R.scalar(1)), EXACT);
  c.expect('and', op.and(m, n), (x) => R.and(x(m), x(n)), EXACT);
  c.expect('or', op.or(m, n), (x) => R.or(x(m), x(n)), EXACT);
  c.expect('not', op.not(m), (x) => R.not(x(m)), EXACT);
  c.expect(
    'where',
    op.where(op.greater(a, 0), a, b),
    (x) => R.where(R.greater(x(a), R.scalar(0)), x(a), x(b)),
    EXACT,
  );
  c.expect('where number', op.where(m, a, 0), (x) => R.where(x(m), x(a), R.scalar(0)), EXACT);
  c.expect('where 3-way broadcast', op.where(n, b, d), (x) => R.where(x(n), x(b), x(d)), EXACT);

  c.expect('int64 add', op.add(i, j), (x) => R.add(x(i), x(j)), EXACT);
  c.expect('int64 sub', op.sub(i, k), (x) => R.sub(x(i), x(k)), EXACT);
  c.expect('int64 mul', op.mul(i, k), (x) => R.mul(x(i), x(k)), EXACT);
  c.expect('int64 div (truncates)', op.div(i, j), (x) => R.intDiv(x(i), x(j)), EXACT);
  c.expect('int64 div negative', op.div(i, k), (x) => R.intDiv(x(i), x(k)), EXACT);
  c.expect('int64 max', op.maximum(i, j), (x) => R.maximum(x(i), x(j)), EXACT);
  c.expect('int64 neg', op.neg(i), (x) => R.map(x(i), R.UNARY.neg), EXACT);
  c.expect('int64 abs', op.abs(i), (x) => R.map(x(i), Math.abs), EXACT);

  const q = c.input('q', 'uint8', ['batch', 4], ints(0, 255));
  const qb = c.input('qb', 'uint8', [4], ints(0, 255));
  c.expect('uint8 bitwiseAnd', op.bitwiseAnd(q, qb), (x) => R.bitwiseAnd(x(q), x(qb)), EXACT);
  c.expect('uint8 bitwiseAnd number', op.bitwiseAnd(q, 15), (x) => R.bitwiseAnd(x(q), R.scalar(15)), EXACT);
  c.expect('uint8 bitShift right', op.bitShift(q, 4, 'RIGHT'), (x) => R.bitShift(x(q), 4, 'RIGHT'), EXACT);
  c.expect('uint8 bitShift left', op.bitShift(q, 3, 'LEFT'), (x) => R.bitShift(x(q), 3, 'LEFT'), EXACT);
  t.diagnostic(formatStats(await c.run({ batch: 3 })));
});

test('unary math and cast', async (t) => {
  const c = new OpTest('unary', 2);
  const x = c.input('x', 'float32', ['batch', 'seq', 8], uniform(-4, 4));
  const p = c.input('p', 'float32', ['batch', 'seq', 8], positive);
  const unaries: [keyof typeof R.UNARY, (t: op.Tensor) => op.Tensor, op.Tensor, Tol][] = [
    ['neg', op.neg, x, EXACT],
    ['abs', op.abs, x, EXACT],
    ['floor', op.floor, x, EXACT],
    ['ceil', op.ceil, x, EXACT],
    ['relu', op.relu, x, EXACT],
    ['sqrt', op.sqrt, p, ROUNDED],
    ['reciprocal', op.reciprocal, p, ROUNDED],
    ['exp', op.exp, x, MATH],
    ['log', op.log, p, MATH],
    ['tanh', op.tanh, x, MATH],
    ['sigmoid', op.sigmoid, x, MATH],
    ['erf', op.erf, x, MATH],
    ['sin', op.sin, x, MATH],
    ['cos', op.cos, x, MATH],
    ['silu', op.silu, x, MATH],
    ['gelu', op.gelu, x, MATH],
  ];
  for (const [name, f, input, tol] of unaries)
    c.expect(name, f(input), (v) => R.map(v(input), R.UNARY[name]), tol);

  // Values with exact zeros and halves for the casts to integers and bool.
  const z = c.input('z', 'float32', ['batch', 5], (shape, dtype, r) =>
    tensor(
      dtype,
      shape,
      Array.from({ length: R.size(shape) }, () => Math.round((r() * 2 - 1) * 8) / 2),
    ),
  );
  const i = c.input('i', 'int64', ['batch', 5], ints(-1000, 1000));
  const bl = c.input('bl', 'bool', ['batch', 5], bools);
  const casts: [string, op.Tensor, DType][] = [
    ['float32→int64', z, 'int64'],
    ['float32→int32', z, 'int32'],
    ['float32→bool', z, 'bool'],
    ['float32→float64', x, 'float64'],
    ['int64→float32', i, 'float32'],
    ['int64→int32', i, 'int32'],
    ['int64→bool', i, 'bool'],
    ['bool→float32', bl, 'float32'],
    ['bool→int64', bl, 'int64'],
  ];
  for (const [name, input, to] of casts)
    c.expect(`cast ${name}`, op.cast(input, to), (v) => R.cast(v(input), to), EXACT);
  // float16 keeps 11 significant bits: within half an ulp (2^-11 relative), subnormals within 2^-25.
  c.expect('cast float32→float16', op.cast(x, 'float16'), (v) => v(x), { atol: 2 ** -25, rtol: 2 ** -11 });
  assert.equal(op.cast(x, 'float32'), x, 'cast to the same dtype is the identity');
  t.diagnostic(formatStats(await c.run({ batch: 2, seq: 3 })));
});

test('matmul, linear, reductions, softmax, layer norm, cumsum, argmax, topk', async (t) => {
  const c = new OpTest('linalg', 3);
  const a = c.input('a', 'float32', ['batch', 'seq', 8]);
  const w = c.param('lin.weight', 'float32', [6, 8]);
  const bias = c.param('lin.bias', 'float32', [6]);
  const m2 = c.input('m2', 'float32', [8, 5]);
  const x4 = c.input('x4', 'float32', ['batch', 1, 4, 5]);
  const y3 = c.input('y3', 'float32', [3, 5, 6]);
  const l = c.input('l', 'float32', [4, 7]);
  const r = c.input('r', 'float32', [7, 3]);
  c.expect(
    'linear + bias',
    op.linear(a, w, bias),
    (v) => R.add(R.matmul(v(a), R.transpose(v(w), [1, 0])), v(bias)),
    ACCUM,
  );
  c.expect('matmul [b,s,8]@[8,5]', op.matmul(a, m2), (v) => R.matmul(v(a), v(m2)), ACCUM);
  c.expect('matmul batch broadcast', op.matmul(x4, y3), (v) => R.matmul(v(x4), v(y3)), ACCUM);
  c.expect('matmul 2-D', op.matmul(l, r), (v) => R.matmul(v(l), v(r)), ACCUM);

  const q = c.input('q', 'float32', ['batch', 3, 4], uniform(0.5, 1.5));
  c.expect('sum [1] keepdims', op.sum(q, [1], true), (v) => R.reduce('sum', v(q), [1], true), ACCUM);
  c.expect('sum [0,-1]', op.sum(q, [0, -1]), (v) => R.reduce('sum', v(q), [0, -1]), ACCUM);
  c.expect('mean [-1]', op.mean(q, [-1]), (v) => R.reduce('mean', v(q), [-1]), ACCUM);
  c.expect('max [0,2]', op.max(q, [0, 2]), (v) => R.reduce('max', v(q), [0, 2]), EXACT);
  c.expect(
    'min [1,2] keepdims',
    op.reduce('min', q, [1, 2], true),
    (v) => R.reduce('min', v(q), [1, 2], true),
    EXACT,
  );
  c.expect('prod [-1]', op.reduce('prod', q, [-1]), (v) => R.reduce('prod', v(q), [-1]), ACCUM);

  c.expect('softmax -1', op.softmax(a, -1), (v) => R.softmax(v(a), -1), ACCUM);
  c.expect('softmax 1', op.softmax(q, 1), (v) => R.softmax(v(q), 1), ACCUM);
  c.expect('logSoftmax -1', op.logSoftmax(a, -1), (v) => R.logSoftmax(v(a), -1), ACCUM);
  c.expect('logSoftmax 0', op.logSoftmax(q, 0), (v) => R.logSoftmax(v(q), 0), ACCUM);

  const s8 = c.param('ln.weight', 'float32', [8]);
  const b8 = c.param('ln.bias', 'float32', [8]);
  const s34 = c.param('ln2.weight', 'float32', [3, 4]);
  c.expect(
    'layerNorm -1 + bias',
    op.layerNorm(a, s8, b8, 1e-5),
    (v) => R.layerNorm(v(a), v(s8), v(b8), 1e-5),
    ACCUM,
  );
  c.expect(
    'layerNorm axis 1, no bias',
    op.layerNorm(q, s34, null, 1e-6, 1),
    (v) => R.layerNorm(v(q), v(s34), null, 1e-6, 1),
    ACCUM,
  );

  const iq = c.input('iq', 'int64', ['batch', 3, 4], ints(-20, 20));
  c.expect('cumsum 1', op.cumsum(a, 1), (v) => R.cumsum(v(a), 1), ACCUM);
  c.expect(
    'cumsum exclusive',
    op.cumsum(a, -1, { exclusive: true }),
    (v) => R.cumsum(v(a), -1, { exclusive: true }),
    ACCUM,
  );
  c.expect(
    'cumsum reverse',
    op.cumsum(q, 1, { reverse: true }),
    (v) => R.cumsum(v(q), 1, { reverse: true }),
    ACCUM,
  );
  const both = { exclusive: true, reverse: true };
  c.expect('cumsum int64 excl+rev', op.cumsum(iq, -1, both), (v) => R.cumsum(v(iq), -1, both), EXACT);

  // Ties: small integers as floats; ArgMax returns the first maximum.
  const ties = c.input('ties', 'float32', ['batch', 6], ints(0, 3));
  c.expect('argmax 1', op.argmax(q, 1), (v) => R.argmax(v(q), 1), EXACT);
  c.expect('argmax -1 keepdims', op.argmax(a, -1, true), (v) => R.argmax(v(a), -1, true), EXACT);
  c.expect('argmax ties', op.argmax(ties, -1), (v) => R.argmax(v(ties), -1), EXACT);
  const [tv, ti] = op.topk(a, 3, -1);
  c.expect('topk values', tv, (v) => R.topk(v(a), 3, -1)[0], EXACT);
  c.expect('topk indices', ti, (v) => R.topk(v(a), 3, -1)[1], EXACT);
  const [sv, si] = op.topk(q, 2, 1, false);
  c.expect('topk smallest values', sv, (v) => R.topk(v(q), 2, 1, false)[0], EXACT);
  c.expect('topk smallest indices', si, (v) => R.topk(v(q), 2, 1, false)[1], EXACT);
  t.diagnostic(formatStats(await c.run({ batch: 2, seq: 5 })));
});

const BIG = Number.MAX_SAFE_INTEGER;

test('shape ops: reshape/expand/full with symbolic dims, transpose, concat, split, slice, pad, range, tile', async (t) => {
  const c = new OpTest('shape', 4);
  const x = c.input('x', 'float32', ['batch', 'seq', 4]);
  const y = c.input('y', 'float32', [5, 6, 7]);
  const S = (v: (t: op.Tensor) => R.NDArray) => v(x).shape; // concrete [batch, seq, 4]

  c.expect('reshape [batch,-1]', op.reshape(x, ['batch', -1]), (v) => R.reshape(v(x), [S(v)[0], -1]), EXACT);
  c.expect(
    'reshape [batch,seq,2,2]',
    op.reshape(x, ['batch', 'seq', 2, 2]),
    (v) => R.reshape(v(x), [...S(v).slice(0, 2), 2, 2]),
    EXACT,
  );
  c.expect('reshape [-1,4]', op.reshape(x, [-1, 4]), (v) => R.reshape(v(x), [-1, 4]), EXACT);
  c.expect(
    'reshape [batch*seq,2,-1]',
    op.reshape(x, ['batch*seq', 2, -1]),
    (v) => R.reshape(v(x), [-1, 2, 2]),
    EXACT,
  );
  c.expect('reshape static', op.reshape(y, [7, -1, 3]), (v) => R.reshape(v(y), [7, -1, 3]), EXACT);
  c.expect('reshape to rank 1', op.reshape(x, [-1]), (v) => R.reshape(v(x), [-1]), EXACT);

  c.expect('transpose', op.transpose(x, [2, 0, 1]), (v) => R.transpose(v(x), [2, 0, 1]), EXACT);
  c.expect('unsqueeze', op.unsqueeze(x, [0, -1]), (v) => R.reshape(v(x), [1, ...S(v), 1]), EXACT);
  const x1 = c.input('x1', 'float32', ['batch', 1, 'seq']);
  c.expect('squeeze', op.squeeze(x1, [1]), (v) => R.reshape(v(x1), [v(x1).shape[0], -1]), EXACT);

  const x2 = c.input('x2', 'float32', ['batch', 2, 4]);
  const x3 = c.input('x3', 'float32', ['batch', 'seq', 1]);
  c.expect('concat on symbolic axis', op.concat([x, x2], 1), (v) => R.concat([v(x), v(x2)], 1), EXACT);
  c.expect('concat -1', op.concat([x3, x, x3], -1), (v) => R.concat([v(x3), v(x), v(x3)], -1), EXACT);
  const [s1, s2] = op.split(x, [1, 3], -1);
  c.expect('split a', s1, (v) => R.split(v(x), [1, 3], -1)[0], EXACT);
  c.expect('split b', s2, (v) => R.split(v(x), [1, 3], -1)[1], EXACT);
  const parts = op.split(y, [2, 2, 1], 0);
  parts.forEach((part, i) => {
    c.expect(`split static ${i}`, part, (v) => R.split(v(y), [2, 2, 1], 0)[i], EXACT);
  });

  const slices: [string, op.Tensor, number[], number[], number[], number[] | undefined][] = [
    ['slice last axis', x, [2], [1], [3], undefined],
    ['slice negative steps', y, [0, 2], [-1, 1], [-BIG, 7], [-2, 3]],
    ['slice end past size', y, [1], [-4], [100], undefined],
    ['slice reverse', y, [-1], [-1], [-BIG], [-1]],
    ['slice symbolic full', x, [1], [0], [BIG], undefined],
    ['slice symbolic tail', x, [1], [-2], [BIG], undefined],
    ['slice symbolic step 2', x, [0, 1], [0, 1], [BIG, BIG], [1, 2]],
  ];
  for (const [name, input, axes, starts, ends, steps] of slices)
    c.expect(
      name,
      op.slice(input, axes, starts, ends, steps),
      (v) => R.slice(v(input), axes, starts, ends, steps),
      EXACT,
    );

  const from = c.input('from', 'int64', [1], ints(0, 1));
  const to = c.input('to', 'int64', [1], ints(-1, 3));
  c.expect(
    'sliceDynamic',
    op.sliceDynamic(x, [1], from, to),
    (v) => R.slice(v(x), [1], [...v(from).data], [...v(to).data]),
    EXACT,
  );

  const gi = c.input('gi', 'int64', [2, 3], ints(-4, 3));
  const gj = c.input('gj', 'int32', [4], ints(-5, 4));
  const g0 = c.input('g0', 'int64', [], ints(0, 1));
  c.expect('gather -1, 2-D indices', op.gather(x, gi, -1), (v) => R.gather(v(x), v(gi), -1), EXACT);
  c.expect('gather 0, int32 indices', op.gather(y, gj, 0), (v) => R.gather(v(y), v(gj), 0), EXACT);
  c.expect('gather scalar index', op.gather(x, g0, 0), (v) => R.gather(v(x), v(g0), 0), EXACT);
  const ge = c.input('ge', 'int64', ['batch', 'seq', 3], ints(-4, 3));
  c.expect('gatherElements', op.gatherElements(x, ge, -1), (v) => R.gatherElements(v(x), v(ge), -1), EXACT);

  // ScatterElements without reduction needs distinct targets: each column gets 2 distinct rows of 4.
  const data = c.input('data', 'float32', [4, 5]);
  const distinctRows: Gen = (shape, dtype, rnd) => {
    const cols = Array.from({ length: shape[1] }, () => [0, 1, 2, 3].sort(() => rnd() - 0.5));
    return tensor(
      dtype,
      shape,
      Array.from({ length: R.size(shape) }, (_, k) => cols[k % shape[1]][Math.floor(k / shape[1])]),
    );
  };
  const se = c.input('se', 'int64', [2, 5], distinctRows);
  const su = c.input('su', 'float32', [2, 5]);
  c.expect(
    'scatterElements',
    op.scatterElements(data, se, su, 0),
    (v) => R.scatterElements(v(data), v(se), v(su), 0),
    EXACT,
  );
  const sa = c.input('sa', 'int64', [3, 5], ints(-4, 3));
  const sau = c.input('sau', 'float32', [3, 5]);
  c.expect(
    'scatterElements add',
    op.scatterElements(data, sa, sau, 0, 'add'),
    (v) => R.scatterElements(v(data), v(sa), v(sau), 0, 'add'),
    ACCUM,
  );
  const nd = c.input('nd', 'float32', [4, 5, 3]);
  const pairs = tensor('int64', [2, 2], [3, 1, 0, 4]);
  const rows = tensor('int64', [3, 1], [2, 0, -1]);
  const pu = c.input('pu', 'float32', [2, 3]);
  const ru = c.input('ru', 'float32', [3, 5, 3]);
  c.expect(
    'scatterND pairs',
    op.scatterND(nd, op.constant(c.g, pairs), pu),
    (v) => R.scatterND(v(nd), R.fromHost(pairs), v(pu)),
    EXACT,
  );
  c.expect(
    'scatterND rows',
    op.scatterND(nd, op.constant(c.g, rows), ru),
    (v) => R.scatterND(v(nd), R.fromHost(rows), v(ru)),
    EXACT,
  );

  const e = c.input('e', 'float32', [1, 4]);
  const col = c.input('col', 'float32', [3, 1]);
  c.expect('expand to symbolic dims', op.expand(e, ['batch', 'seq', 4]), (v) => R.expand(v(e), S(v)), EXACT);
  c.expect('expand static', op.expand(col, [2, 3, 5]), (v) => R.expand(v(col), [2, 3, 5]), EXACT);
  c.expect('expand bidirectional', op.expand(col, [1, 6]), (v) => R.expand(v(col), [1, 6]), EXACT);
  c.expect('full symbolic', op.full(c.g, ['batch', 'seq'], 1.5), (v) => R.full(S(v).slice(0, 2), 1.5), EXACT);
  c.expect(
    'full symbolic int64',
    op.full(c.g, [3, 'batch'], 7, 'int64'),
    (v) => R.full([3, S(v)[0]], 7),
    EXACT,
  );
  c.expect('full static', op.full(c.g, [2, 3], 0.25), () => R.full([2, 3], 0.25), EXACT);
  c.expect('tile symbolic', op.tile(x, [1, 2, 3]), (v) => R.tile(v(x), [1, 2, 3]), EXACT);
  c.expect('tile static', op.tile(col, [2, 3]), (v) => R.tile(v(col), [2, 3]), EXACT);
  c.expect('shape', op.shape(x), (v) => R.array([3], S(v)), EXACT);
  c.expect('shape 1..2', op.shape(x, 1, 2), (v) => R.array([1], [S(v)[1]]), EXACT);

  c.expect('range int64', op.range(c.g, 0, 10, 3), () => R.range(0, 10, 3), EXACT);
  c.expect('range int64 negative', op.range(c.g, 5, -4, -2), () => R.range(5, -4, -2), EXACT);
  c.expect('range float32', op.range(c.g, 1.5, -2, -0.75, 'float32'), () => R.range(1.5, -2, -0.75), EXACT);
  const seqLen = op.reshape(op.shape(x, 1, 2), []);
  c.expect('range dynamic limit', op.range(c.g, 0, seqLen, 1), (v) => R.range(0, S(v)[1], 1), EXACT);

  const y2 = c.input('y2', 'float32', [3, 4]);
  const pads: [string, number[], 'constant' | 'reflect' | 'edge', number][] = [
    ['pad constant', [1, 2, 2, 0], 'constant', 0.5],
    ['pad reflect', [2, 1, 2, 3], 'reflect', 0],
    ['pad edge', [1, 0, 3, 2], 'edge', 0],
  ];
  for (const [name, pp, mode, value] of pads)
    c.expect(name, op.pad(y2, pp, mode, value), (v) => R.pad(v(y2), pp, mode, value), EXACT);
  c.expect(
    'pad symbolic',
    op.pad(x, [0, 1, 0, 0, 2, 1], 'edge'),
    (v) => R.pad(v(x), [0, 1, 0, 0, 2, 1], 'edge'),
    EXACT,
  );
  t.diagnostic(formatStats(await c.run({ batch: 2, seq: 3 })));
});

test('conv2d (strides, pads, dilations, groups), convTranspose2d, resize', async (t) => {
  const c = new OpTest('conv', 5);
  const x = c.input('x', 'float32', ['batch', 4, 7, 9]);
  const w = c.param('conv.weight', 'float32', [6, 4, 3, 3]);
  const b = c.param('conv.bias', 'float32', [6]);
  const wg = c.param('group.weight', 'float32', [6, 2, 3, 3]);
  const wd = c.param('depthwise.weight', 'float32', [4, 1, 3, 3]);
  const w1 = c.param('pointwise.weight', 'float32', [5, 4, 1, 1]);
  const convs: [string, op.Tensor, op.Tensor | null, R.ConvParams][] = [
    ['conv default', w, b, {}],
    ['conv strides+pads', w, b, { strides: [2, 1], pads: [1, 0, 2, 1] }],
    ['conv dilations', w, null, { dilations: [2, 2], pads: [2, 2, 2, 2] }],
    ['conv groups 2', wg, b, { group: 2, strides: [2, 2], pads: [1, 1, 1, 1] }],
    ['conv depthwise', wd, null, { group: 4, pads: [1, 1, 1, 1] }],
    ['conv 1x1', w1, null, {}],
  ];
  for (const [name, weight, bias, o] of convs)
    c.expect(
      name,
      op.conv2d(x, weight, bias, o),
      (v) => R.conv2d(v(x), v(weight), bias && v(bias), o),
      ACCUM,
    );
  const wt = c.param('up.weight', 'float32', [4, 3, 3, 3]);
  const bt = c.param('up.bias', 'float32', [3]);
  const w2 = c.param('up2.weight', 'float32', [4, 2, 2, 2]);
  const tconvs: [string, op.Tensor, op.Tensor | null, Parameters<typeof R.convTranspose2d>[3]][] = [
    ['convT stride 2 pads outpad', wt, bt, { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1] }],
    ['convT k2 s2', w2, null, { strides: [2, 2] }],
    ['convT stride 1', wt, bt, {}],
  ];
  for (const [name, weight, bias, o] of tconvs)
    c.expect(
      name,
      op.convTranspose2d(x, weight, bias, o),
      (v) => R.convTranspose2d(v(x), v(weight), bias && v(bias), o),
      ACCUM,
    );

  const img = c.input('img', 'float32', ['batch', 2, 6, 8]);
  const resizes: [string, [number, number], R.ResizeParams][] = [
    ['nearest up', [12, 13], { mode: 'nearest', nearestMode: 'floor' }],
    ['nearest down', [4, 5], { mode: 'nearest', nearestMode: 'floor' }],
    ['nearest round_prefer_floor', [9, 5], { mode: 'nearest', nearestMode: 'round_prefer_floor' }],
    ['linear half_pixel up', [9, 13], { mode: 'linear' }],
    ['linear half_pixel down', [4, 5], { mode: 'linear' }],
    ['linear align_corners up', [11, 15], { mode: 'linear', coordinates: 'align_corners' }],
    ['linear align_corners down', [4, 3], { mode: 'linear', coordinates: 'align_corners' }],
    ['cubic -0.75 up', [10, 11], { mode: 'cubic', cubicA: -0.75 }],
    ['cubic -0.75 down', [4, 5], { mode: 'cubic', cubicA: -0.75 }],
    ['cubic -0.5 up', [9, 17], { mode: 'cubic', cubicA: -0.5 }],
    ['cubic -0.5 down', [5, 3], { mode: 'cubic', cubicA: -0.5 }],
    ['linear antialias down', [3, 5], { mode: 'linear', antialias: true }],
    ['cubic -0.75 antialias down', [4, 3], { mode: 'cubic', cubicA: -0.75, antialias: true }],
    ['cubic -0.5 antialias down', [2, 3], { mode: 'cubic', cubicA: -0.5, antialias: true }],
    ['cubic -0.5 antialias up/down', [9, 5], { mode: 'cubic', cubicA: -0.5, antialias: true }],
  ];
  for (const [name, sizes, o] of resizes)
    c.expect(
      `resize ${name}`,
      op.resize(img, sizes, o),
      (v) => R.resize(v(img), sizes, o),
      o.mode === 'nearest' ? EXACT : ACCUM,
    );
  t.diagnostic(formatStats(await c.run({ batch: 2 })));
});

test('one session serves several bindings of the symbolic dims (run-time shape paths)', async (t) => {
  const c = new OpTest('dynamic', 6);
  const x = c.input('x', 'float32', ['batch', 'seq', 6]);
  const pos = c.input('pos', 'float32', ['seq', 6]);
  const w = c.param('proj.weight', 'float32', [4, 6]);
  const S = (v: (t: op.Tensor) => R.NDArray) => v(x).shape;
  const h = op.add(x, pos);
  c.expect(
    'split heads',
    op.transpose(op.reshape(h, ['batch', 'seq', 2, -1]), [0, 2, 1, 3]),
    (v) => R.transpose(R.reshape(R.add(v(x), v(pos)), [S(v)[0], S(v)[1], 2, 3]), [0, 2, 1, 3]),
    ROUNDED,
  );
  c.expect(
    'flatten tokens',
    op.linear(op.reshape(x, [-1, 6]), w),
    (v) => R.matmul(R.reshape(v(x), [-1, 6]), R.transpose(v(w), [1, 0])),
    ACCUM,
  );
  c.expect(
    'expand mask',
    op.expand(op.full(c.g, ['seq'], 1, 'bool'), ['batch', 1, 'seq']),
    (v) => R.full([S(v)[0], 1, S(v)[1]], 1),
    EXACT,
  );
  c.expect(
    'prepend token',
    op.concat([op.expand(op.full(c.g, [1, 1, 6], 0.5), ['batch', 1, 6]), x], 1),
    (v) => R.concat([R.full([S(v)[0], 1, 6], 0.5), v(x)], 1),
    EXACT,
  );
  const stats = await c.run({ batch: 1, seq: 1 }, { batch: 2, seq: 5 }, { batch: 4, seq: 3 });
  t.diagnostic(formatStats(stats));
});

/** A small graph with inputs, parameters, constants, symbolic and static dims, attributes of every kind. */
function buildSample(): Graph {
  const g = new Graph('sample');
  const x = g.input('x', 'float32', ['batch', 'seq', 8]);
  const w = g.param('w', 'float32', [4, 8]);
  const ln = g.param('ln', 'float32', [4]);
  const y = op.layerNorm(op.gelu(op.linear(x, w)), ln, null, 1e-6);
  g.output('y', op.reshape(op.softmax(y, -1), ['batch', -1]));
  g.output('tail', op.resize(op.unsqueeze(y, [0]), [3, 5], { mode: 'cubic', antialias: true }));
  g.output('mask', op.expand(op.full(g, ['seq'], 1, 'bool'), ['batch', 'seq']));
  return g;
}

test('the same graph built twice serializes to identical bytes', () => {
  const weights = new Map([
    [
      'w',
      tensor(
        'float32',
        [4, 8],
        Array.from({ length: 32 }, (_, i) => i / 7),
      ),
    ],
    ['ln', tensor('float32', [4], [1, 2, 3, 4])],
  ]);
  const a = toOnnx(buildSample(), { weights }).bytes;
  const b = toOnnx(buildSample(), { weights }).bytes;
  assert.ok(a.length > 0);
  assert.deepEqual(Buffer.from(a), Buffer.from(b));
});

// Regression test (engine bug fixed after cbe12bb): ops.ts names run-time-only dims with a module-global counter
// (`fresh`: 'slice_0', 'slice_1', …), and those names reach the ONNX output value_info, so a rebuild differs.
test('graphs whose outputs have run-time-only dims also serialize identically when rebuilt', () => {
  const build = () => {
    const g = new Graph('fresh');
    const x = g.input('x', 'float32', ['batch', 'seq']);
    g.output('y', op.slice(x, [1], [1], [BIG]));
    g.output('r', op.range(g, 0, op.reshape(op.shape(x, 1, 2), []), 1));
    return g;
  };
  assert.deepEqual(Buffer.from(toOnnx(build()).bytes), Buffer.from(toOnnx(build()).bytes));
});

// Regression test (engine bug fixed after cbe12bb): ops.ts `slice` clamps a start below -size to -1 for negative steps, where
// ONNX clamps it to 0 (start ∈ [0, d-1], end ∈ [-1, d-1]); the declared length is then one short of ORT's.
test('slice with a negative step clamps a start before the beginning to 0, as ONNX does', async () => {
  const c = new OpTest('slice-clamp', 7);
  const x = c.input('x', 'float32', [5]);
  c.expect(
    'x[-7:-8:-1]',
    op.slice(x, [0], [-7], [-8], [-1]),
    (v) => R.slice(v(x), [0], [-7], [-8], [-1]),
    EXACT,
  );
  await c.run();
});

// Regression test (engine bug fixed after cbe12bb): ops.ts `reduce` with axes [] declares the input shape (nothing reduced), but
// ONNX Reduce* (noop_with_empty_axes = 0, the default it emits) reduces every axis.
test('reduce with empty axes reduces every axis, as ONNX does', async () => {
  const c = new OpTest('reduce-all', 8);
  const x = c.input('x', 'float32', [2, 3]);
  c.expect('sum []', op.sum(x, []), (v) => R.reduce('sum', v(x), []), ACCUM);
  await c.run();
});

// Regression test (engine bug fixed after cbe12bb): shape.ts `mulDims` treats a sum dim as an opaque factor without parentheses,
// so tile(concat([x, 2 rows]), 2) is named '2*seq+2', the very name concat([tile(x, 2), 2 rows]) gets, although
// the sizes are 2·seq+4 and 2·seq+2. The graph then takes them for one dim, and dimsTensor reads the wrong size.
test('products of sum dims keep their meaning (2·(seq+2) is not 2·seq+2)', async () => {
  const c = new OpTest('sum-dims', 9);
  const x = c.input('x', 'float32', ['seq', 4]);
  const two = c.input('two', 'float32', [2, 4]);
  const z = c.input('z', 'float32', [1, 4]);
  const extendedThenDoubled = op.tile(op.concat([x, two], 0), [2, 1]);
  const doubledThenExtended = op.concat([op.tile(x, [2, 1]), two], 0);
  c.expect('tile of concat', extendedThenDoubled, (v) => R.tile(R.concat([v(x), v(two)], 0), [2, 1]), EXACT);
  c.expect(
    'expand to the shape of concat of tile',
    op.expand(z, doubledThenExtended.shape),
    (v) => R.expand(v(z), [2 * v(x).shape[0] + 2, 4]),
    EXACT,
  );
  await c.run({ seq: 3 });
});

test('reference: hand-derived values', () => {
  // erf from tables (Abramowitz & Stegun 7.1).
  for (const [x, want] of [
    [0.01, 0.011283415555849618],
    [1, 0.8427007929497149],
    [-2.5, -0.999593047982555],
  ])
    assert.ok(Math.abs(R.erf(x) - want) < 1e-12, `erf(${x})`);
  // Antialiased linear 4 → 2: a triangle filter twice as wide, weights [1, 3, 3, 1]/8 with the edge repeated.
  const line = R.array([1, 1, 1, 4], [1, 2, 4, 8]);
  assert.deepEqual([...R.resize(line, [1, 2], { mode: 'linear', antialias: true }).data], [1.75, 5.75]);
  // Cubic convolution (Keys 1981): with a = -0.5 it reproduces a linear ramp away from the borders; with
  // a = -0.75 at source phase 0.75 the weights are [-0.03515625, 0.26171875, 0.87890625, -0.10546875].
  const ramp = R.array([1, 1, 1, 8], [0, 1, 2, 3, 4, 5, 6, 7]);
  const keys = R.resize(ramp, [1, 16], { mode: 'cubic', cubicA: -0.5 }).data;
  for (let x = 4; x < 12; x++)
    assert.ok(Math.abs(keys[x] - ((x + 0.5) / 2 - 0.5)) < 1e-12, `cubic a=-0.5 at ${x}`);
  const torch = R.resize(ramp, [1, 16], { mode: 'cubic', cubicA: -0.75 }).data;
  assert.ok(
    Math.abs(torch[4] - (0.26171875 + 2 * 0.87890625 - 3 * 0.10546875)) < 1e-12,
    'cubic a=-0.75 at 4',
  );
  // ONNX Slice clamping with a negative step: x[-7:-8:-1] of 5 elements is [x[0]].
  assert.deepEqual([...R.slice(R.array([5], [0, 1, 2, 3, 4]), [0], [-7], [-8], [-1]).data], [0]);
});
