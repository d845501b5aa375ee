// Gradient check harness: a case builds y = f(inputs) with the engine and gives f's float64 reference (the plain-JS
// one of test/engine). The graph's loss is L = Σ y·r with fixed weights r_i = ((7·i mod 19) − 9) / 4 (exact in
// float32, so graph and reference weigh alike), so every element of the vector-Jacobian product is exercised. Analytic gradients come from autodiff run by ONNX Runtime in float32;
// numeric ones are central differences of the float64 reference, L(v + h) − L(v − h) / 2h with h = 1e-4.
import assert from 'node:assert/strict';
import { backward } from '../../src/engine/autodiff.ts';
import { Graph, type Tensor } from '../../src/engine/graph.ts';
import { toOnnx } from '../../src/engine/onnx.ts';
import * as op from '../../src/engine/ops.ts';
import type { Dim } from '../../src/engine/shape.ts';
import { Session } from '../../src/runtime/session.ts';
import type { DType, HostTensor } from '../../src/tensor.ts';
import { evalDim, type Gen, uniform } from '../engine/helpers.ts';
import { fromHost, type NDArray } from '../engine/reference.ts';
import { rng } from '../support/random.ts';

export interface InputSpec {
  dtype?: DType;
  dims: readonly Dim[];
  gen?: Gen;
  /** Whether to check the gradient of this input (default: float inputs). */
  grad?: boolean;
}

export interface GradCase {
  name: string;
  inputs: Record<string, InputSpec>;
  build(t: Record<string, Tensor>, g: Graph): Tensor;
  ref(v: Record<string, NDArray>): NDArray;
  /** Concrete sizes for the symbolic dims (one run each). */
  bindings?: Record<string, number>[];
  /** Pass when max |analytic − numeric| ≤ rtol · max |numeric| + atol (per input; default 1e-5, 1e-5). */
  rtol?: number;
  atol?: number;
  /** How composites left by autodiff (those with their own gradient rule) are lowered (default primitive). */
  lowering?: 'primitive' | 'fused';
}

export interface GradStats {
  input: string;
  maxAbs: number;
  scale: number;
}

const H = 1e-4;
const weight = (i: number) => (((7 * i) % 19) - 9) / 4;

function weightedSum(y: NDArray): number {
  let s = 0;
  for (let i = 0; i < y.data.length; i++) s += y.data[i] * weight(i);
  return s;
}

/** The loss L = Σ y·r built in the graph (r from y's run-time size). */
function weightedLoss(g: Graph, y: Tensor): Tensor {
  const [n] = g.node('Size', [y], [{ dtype: 'int64', shape: [] }]);
  const [mod] = g.node(
    'Mod',
    [op.mul(op.range(g, 0, n, 1), 7), op.constInt64(g, [19])],
    [{ dtype: 'int64', shape: [g.freshDim('mod')] }],
  );
  const r = op.mul(op.cast(op.sub(mod, 9), 'float32'), 0.25);
  const [shaped] = g.node('Reshape', [r, op.shape(y)], [{ dtype: 'float32', shape: y.shape }]);
  return op.sum(op.mul(op.cast(y, 'float32'), shaped), []);
}

export async function gradCheck(c: GradCase, seed = 1): Promise<GradStats[]> {
  const g = new Graph(c.name);
  const inputs: Record<string, Tensor> = {};
  for (const [name, s] of Object.entries(c.inputs))
    inputs[name] = g.input(name, s.dtype ?? 'float32', s.dims);
  const y = c.build(inputs, g);
  g.output('loss', weightedLoss(g, y));
  const checked = Object.keys(c.inputs).filter((n) => c.inputs[n].grad ?? op.isFloat(inputs[n].dtype));
  const bw = backward(g, 'loss', checked);
  for (const name of checked) bw.graph.output(`grad.${name}`, bw.grads.get(name)!);
  const session = await Session.create(toOnnx(bw.graph, { lowering: c.lowering ?? 'primitive' }).bytes);
  const random = rng(seed);
  const stats = new Map(checked.map((n) => [n, { input: n, maxAbs: 0, scale: 0 }]));
  const failures: string[] = [];
  try {
    for (const binding of c.bindings ?? [{}]) {
      const feeds: Record<string, HostTensor> = {};
      const values: Record<string, NDArray> = {};
      for (const [name, s] of Object.entries(c.inputs)) {
        const shape = s.dims.map((d) => {
          const v = evalDim(d, binding);
          if (v === undefined) throw new Error(`${c.name}: dim ${d} of ${name} is not bound`);
          return v;
        });
        feeds[name] = (s.gen ?? uniform())(shape, s.dtype ?? 'float32', random);
        values[name] = fromHost(feeds[name]);
      }
      const out = await session.run(feeds);
      const loss = (out.loss.data as Float32Array)[0];
      const want = weightedSum(c.ref(values));
      if (!(Math.abs(loss - want) <= 1e-4 * Math.max(1, Math.abs(want))))
        failures.push(`${JSON.stringify(binding)}: forward loss ${loss}, reference ${want}`);
      for (const name of checked) {
        const analytic = fromHost(out[`grad.${name}`]);
        const v = values[name];
        assert.deepEqual(analytic.shape, v.shape, `${c.name}: gradient of ${name} has the wrong shape`);
        const s = stats.get(name)!;
        let worst = 0;
        let scale = 0;
        for (let i = 0; i < v.data.length; i++) {
          const x0 = v.data[i];
          v.data[i] = x0 + H;
          const up = weightedSum(c.ref(values));
          v.data[i] = x0 - H;
          const down = weightedSum(c.ref(values));
          v.data[i] = x0;
          const numeric = (up - down) / (2 * H);
          worst = Math.max(worst, Math.abs(analytic.data[i] - numeric));
          scale = Math.max(scale, Math.abs(numeric));
        }
        s.maxAbs = Math.max(s.maxAbs, worst);
        s.scale = Math.max(s.scale, scale);
        if (!(worst <= (c.rtol ?? 1e-5) * scale + (c.atol ?? 1e-5)))
          failures.push(
            `${name} ${JSON.stringify(binding)}: max |analytic − numeric| ${worst.toExponential(2)} (max |grad| ${scale.toExponential(2)})`,
          );
      }
    }
  } finally {
    await session.release();
  }
  if (failures.length) assert.fail(`${c.name}:\n${failures.join('\n')}`);
  return [...stats.values()];
}

/** Relative error per input: "x 3.1e-7, w 1.2e-6". */
export const formatGradStats = (stats: GradStats[]): string =>
  stats.map((s) => `${s.input} ${(s.maxAbs / (s.scale || 1)).toExponential(1)}`).join(', ');

/** Uniform values with |v| ≥ gap (keeps kinks of abs, relu, max away from the finite differences). */
export const awayFromZero =
  (lo = 0.1, hi = 2): Gen =>
  (shape, dtype, random) => {
    const base = uniform(lo, hi)(shape, dtype, random);
    const data = base.data as Float32Array;
    for (let i = 0; i < data.length; i++) if (random() < 0.5) data[i] = -data[i];
    return base;
  };

export { uniform };
