// Graph-run harness for op tests. A test declares inputs (symbolic dims allowed), parameters and expected outputs
// (each a reference function of the input values), then `run` serializes the graph once, opens one ONNX Runtime
// session, feeds it for one or more concrete bindings of the symbolic dims and compares every output with its
// float64 reference: dtype, shape (actual and declared) and values within a tolerance.
import assert from 'node:assert/strict';
import { Graph, type Tensor } from '../../src/engine/graph.ts';
import { toOnnx } from '../../src/engine/onnx.ts';
import type { Dim } from '../../src/engine/shape.ts';
import { Session } from '../../src/runtime/session.ts';
import { type DType, type HostTensor, tensor } from '../../src/tensor.ts';
import { rng } from '../support/random.ts';
import { fromHost, type NDArray, size } from './reference.ts';

/** Makes a random host tensor of a concrete shape. */
export type Gen = (shape: number[], dtype: DType, random: () => number) => HostTensor;

/** Uniform values in [lo, hi), rounded to the dtype. */
export const uniform =
  (lo = -1, hi = 1): Gen =>
  (shape, dtype, random) =>
    tensor(
      dtype,
      shape,
      Array.from({ length: size(shape) }, () => lo + (hi - lo) * random()),
    );

/** Uniform integers in [lo, hi]. */
export const ints =
  (lo: number, hi: number): Gen =>
  (shape, dtype, random) =>
    tensor(
      dtype,
      shape,
      Array.from({ length: size(shape) }, () => lo + Math.floor((hi - lo + 1) * random())),
    );

/** Pass when |got - want| ≤ atol + rtol·|want| for every element. */
export interface Tol {
  atol: number;
  rtol: number;
}
export const EXACT: Tol = { atol: 0, rtol: 0 };

/** Worst errors seen for one output over all runs. maxRel only counts elements with |want| ≥ 1e-3. */
export interface Stats {
  name: string;
  maxAbs: number;
  maxRel: number;
  tol: Tol;
}

type Values = (t: Tensor) => NDArray;

interface Expectation {
  name: string;
  tensor: Tensor;
  ref: (v: Values) => NDArray;
  tol: Tol;
}

/**
 * Value of a declared dim under bindings: a number, a name, or sums and products of them with parentheses
 * ('batch', '4*seq', 'seq+3', '2*(seq+2)'); undefined when a name is not bound (run-time-only dims).
 */
export function evalDim(d: Dim, bindings: Record<string, number>): number | undefined {
  if (typeof d === 'number') return d;
  let pos = 0;
  const combine = (next: () => number | undefined, sep: string, f: (a: number, b: number) => number) => {
    let v = next();
    while (d[pos] === sep) {
      pos++;
      const r = next();
      v = v === undefined || r === undefined ? undefined : f(v, r);
    }
    return v;
  };
  const sum = (): number | undefined => combine(product, '+', (a, b) => a + b);
  const product = (): number | undefined => combine(atom, '*', (a, b) => a * b);
  const atom = (): number | undefined => {
    if (d[pos] === '(') {
      pos++;
      const v = sum();
      pos++;
      return v;
    }
    const name = /^[^+*()]*/.exec(d.slice(pos))![0];
    pos += name.length;
    return /^\d+$/.test(name) ? Number(name) : bindings[name];
  };
  const v = sum();
  return pos === d.length ? v : undefined;
}

export class OpTest {
  readonly g: Graph;
  private readonly random: () => number;
  private readonly inputs: { tensor: Tensor; name: string; gen: Gen }[] = [];
  private readonly weights = new Map<string, HostTensor>();
  private readonly constants = new Map<number, NDArray>();
  private readonly expectations: Expectation[] = [];

  constructor(name: string, seed: number) {
    this.g = new Graph(name);
    this.random = rng(seed);
  }

  input(name: string, dtype: DType, dims: readonly Dim[], gen: Gen = uniform()): Tensor {
    const t = this.g.input(name, dtype, dims);
    this.inputs.push({ tensor: t, name, gen });
    return t;
  }

  /** A parameter with random weights (fed to toOnnx as initializers). */
  param(name: string, dtype: DType, shape: number[], gen: Gen = uniform()): Tensor {
    const value = gen(shape, dtype, this.random);
    this.weights.set(name, value);
    const t = this.g.param(name, dtype, shape);
    this.constants.set(t.id, fromHost(value));
    return t;
  }

  expect(name: string, t: Tensor, ref: (v: Values) => NDArray, tol: Tol): void {
    this.expectations.push({ name, tensor: t, ref, tol });
    this.g.output(name, t);
  }

  /** Runs the graph once per binding of its symbolic dims; throws listing every mismatch. */
  async run(...bindings: Record<string, number>[]): Promise<Stats[]> {
    const model = toOnnx(this.g, { weights: this.weights });
    const session = await Session.create(model.bytes);
    const stats = new Map<string, Stats>(
      this.expectations.map((e) => [e.name, { name: e.name, maxAbs: 0, maxRel: 0, tol: e.tol }]),
    );
    const failures: string[] = [];
    try {
      for (const binding of bindings.length ? bindings : [{}]) {
        const feeds: Record<string, HostTensor> = {};
        const values = new Map(this.constants);
        for (const { tensor: t, name, gen } of this.inputs) {
          const shape = t.shape.map((d) => {
            const v = evalDim(d, binding);
            if (v === undefined)
              throw new Error(`input ${name}: dim '${d}' is not bound in ${JSON.stringify(binding)}`);
            return v;
          });
          feeds[name] = gen(shape, t.dtype, this.random);
          values.set(t.id, fromHost(feeds[name]));
        }
        const lookup: Values = (t) => {
          const v = values.get(t.id);
          if (!v) throw new Error(`reference reads tensor t${t.id}, which is not an input or parameter`);
          return v;
        };
        const out = await session.run(feeds);
        const where = `(${this.g.name} ${JSON.stringify(binding)})`;
        for (const e of this.expectations) {
          const problem = compare(e, out[e.name], e.ref(lookup), binding, stats.get(e.name)!);
          if (problem) failures.push(`${e.name} ${where}: ${problem}`);
        }
      }
    } finally {
      await session.release();
    }
    if (failures.length) assert.fail(failures.join('\n'));
    return [...stats.values()];
  }
}

function compare(
  e: Expectation,
  got: HostTensor,
  want: NDArray,
  binding: Record<string, number>,
  s: Stats,
): string | null {
  if (got.dtype !== e.tensor.dtype) return `dtype ${got.dtype}, declared ${e.tensor.dtype}`;
  if (got.shape.join() !== want.shape.join()) return `shape [${got.shape}], reference [${want.shape}]`;
  const declared = e.tensor.shape.map((d) => evalDim(d, binding));
  if (declared.length !== got.shape.length || declared.some((d, i) => d !== undefined && d !== got.shape[i]))
    return `shape [${got.shape}] but the graph declared [${e.tensor.shape}] = [${declared.map((d) => d ?? '?')}]`;
  const g = fromHost(got).data;
  let worst = -1;
  for (let i = 0; i < g.length; i++) {
    const w = want.data[i];
    if (Number.isNaN(w) && Number.isNaN(g[i])) continue;
    const err = Math.abs(g[i] - w);
    if (
      !(err <= e.tol.atol + e.tol.rtol * Math.abs(w)) &&
      (worst < 0 || !(err <= Math.abs(g[worst] - want.data[worst])))
    )
      worst = i;
    if (Number.isFinite(err)) {
      s.maxAbs = Math.max(s.maxAbs, err);
      if (Math.abs(w) >= 1e-3) s.maxRel = Math.max(s.maxRel, err / Math.abs(w));
    }
  }
  if (worst >= 0)
    return `element ${worst} is ${g[worst]}, reference ${want.data[worst]} (|err| ${Math.abs(g[worst] - want.data[worst]).toExponential(2)} > atol ${e.tol.atol} + rtol ${e.tol.rtol}·|ref|)`;
  return null;
}

/** One line per output: worst absolute and relative error and the tolerance. */
export const formatStats = (stats: Stats[]): string =>
  stats
    .map(
      (s) =>
        `${s.name.padEnd(28)} maxAbs ${s.maxAbs.toExponential(1)}  maxRel ${s.maxRel.toExponential(1)}  (atol ${s.tol.atol}, rtol ${s.tol.rtol})`,
    )
    .join('\n');
