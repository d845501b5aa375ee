// Engine benchmark (not a test): matmul throughput of an engine-built graph vs a hand-written ONNX model run by
// ONNX Runtime directly, and one Qwen2.5-VL-3B-sized transformer block forward with primitive vs fused lowering
// (fp32 and int4). Prints a table. Usage: npm run bench:engine [-- --quick]
import { cpus } from 'node:os';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import * as E from '../src/engine/index.ts';
import { dense, type LinearFormat } from '../src/models/layers.ts';
import { Session } from '../src/runtime/session.ts';
import { f32, type HostTensor } from '../src/tensor.ts';
import { quantizedSource } from '../src/weights/quantized_source.ts';

const quick = process.argv.includes('--quick');
const { onnx } = onnxProto;

function random(n: number, scale = 1, seed = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

async function time(run: () => Promise<unknown>, minMs = quick ? 300 : 1500): Promise<number> {
  await run(); // warm-up
  const times: number[] = [];
  const start = performance.now();
  while (performance.now() - start < minMs || times.length < 3) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/** The baseline: a MatMul model written directly with onnx-proto, run with onnxruntime-node's own API. */
function rawMatmulModel(m: number, k: number, n: number, w: Float32Array): Uint8Array {
  const vi = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 10,
    opsetImport: [{ domain: '', version: 21 }],
    graph: {
      name: 'raw',
      node: [{ opType: 'MatMul', input: ['a', 'b'], output: ['c'] }],
      initializer: [{ name: 'b', dims: [k, n], dataType: 1, rawData: new Uint8Array(w.buffer) }],
      input: [vi('a', [m, k])],
      output: [vi('c', [m, n])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

const rows: string[][] = [];
const threads = cpus().length;

for (const size of quick ? [256, 512] : [512, 1024, 2048]) {
  const [m, k, n] = [size, size, size];
  const a = random(m * k);
  const w = random(k * n, 0.05, 2);
  const raw = await ort.InferenceSession.create(rawMatmulModel(m, k, n, w));
  const rawFeeds = { a: new ort.Tensor('float32', a, [m, k]) };
  const tRaw = await time(() => raw.run(rawFeeds));
  const g = new E.Graph('matmul');
  g.output('c', E.matmul(g.input('a', 'float32', ['m', k]), g.param('b', 'float32', [k, n])));
  const s = await Session.create(E.toOnnx(g, { weights: new Map([['b', f32([k, n], w)]]) }).bytes);
  const feeds = { a: f32([m, k], a) };
  const tEngine = await time(() => s.run(feeds));
  const gflop = (2 * m * k * n) / 1e9;
  rows.push([
    `matmul ${m}×${k}×${n}`,
    `${(gflop / (tRaw / 1e3)).toFixed(1)} GFLOP/s`,
    `${(gflop / (tEngine / 1e3)).toFixed(1)} GFLOP/s`,
    `${(tRaw / tEngine).toFixed(2)}×`,
  ]);
  await raw.release();
  await s.release();
}

// One decoder layer of Qwen2.5-VL-3B: hidden 2048, 16 heads / 2 KV heads of 128, MLP 11008.
const [H, HEADS, KV, D, F] = [2048, 16, 2, 128, 11008];
function block(f: LinearFormat): E.Graph {
  const g = new E.Graph('block');
  const x = g.input('x', 'float32', [1, 'seq', H]);
  const cos = g.input('cos', 'float32', [1, 'seq', D]);
  const sin = g.input('sin', 'float32', [1, 'seq', D]);
  const h = E.rmsNorm(x, g.param('n1.weight', 'float32', [H]));
  const q = E.rotary(dense(g, h, 'q', H, HEADS * D, true, f), cos, sin, HEADS);
  const k = E.rotary(dense(g, h, 'k', H, KV * D, true, f), cos, sin, KV);
  const v = dense(g, h, 'v', H, KV * D, true, f);
  const x2 = E.add(
    x,
    dense(g, E.attention(q, k, v, { numHeads: HEADS, kvHeads: KV, causal: true }).out, 'o', H, H, false, f),
  );
  const h2 = E.rmsNorm(x2, g.param('n2.weight', 'float32', [H]));
  const gated = E.mul(E.silu(dense(g, h2, 'gate', H, F, false, f)), dense(g, h2, 'up', H, F, false, f));
  g.output('y', E.add(x2, dense(g, gated, 'down', F, H, false, f)));
  return g;
}
const weights = new Map<string, HostTensor>();
for (const [name, i, o] of [
  ['q', H, H],
  ['k', H, KV * D],
  ['v', H, KV * D],
  ['o', H, H],
  ['gate', H, F],
  ['up', H, F],
  ['down', F, H],
] as const) {
  weights.set(`${name}.weight`, f32([o, i], random(i * o, 1 / Math.sqrt(i), o + i)));
  if (['q', 'k', 'v'].includes(name)) weights.set(`${name}.bias`, f32([o], random(o, 0.02)));
}
weights.set('n1.weight', f32([H], new Float32Array(H).fill(1)));
weights.set('n2.weight', f32([H], new Float32Array(H).fill(1)));
const ang = (i: number, j: number) => i / 1e6 ** ((2 * (j % (D / 2))) / D);
for (const seq of quick ? [1, 128] : [1, 512]) {
  const feeds = {
    x: f32([1, seq, H], random(seq * H)),
    cos: f32(
      [1, seq, D],
      Float32Array.from({ length: seq * D }, (_, t) => Math.cos(ang(Math.floor(t / D), t % D))),
    ),
    sin: f32(
      [1, seq, D],
      Float32Array.from({ length: seq * D }, (_, t) => Math.sin(ang(Math.floor(t / D), t % D))),
    ),
  };
  const flops = 2 * seq * (H * H * 2 + H * KV * D * 2 + 3 * H * F) + 4 * seq * seq * HEADS * D;
  const base: Record<string, number> = {};
  for (const fmt of ['fp32', 'int4', 'int4-acc4'] as const) {
    const f: LinearFormat =
      fmt === 'fp32'
        ? { dtype: 'float32' }
        : { dtype: 'float32', quant: { bits: 4, blockSize: 32, accuracyLevel: fmt === 'int4' ? 0 : 4 } };
    const src =
      fmt === 'fp32'
        ? weights
        : quantizedSource({ read: (n) => weights.get(n)! }, { bits: 4, blockSize: 32 });
    for (const lowering of ['primitive', 'fused'] as E.Lowering[]) {
      const s = await Session.create(E.toOnnx(block(f), { weights: src, lowering }).bytes);
      const t = await time(() => s.run(feeds));
      base[fmt] ??= t;
      rows.push([
        `3B block ${fmt} seq ${seq} ${lowering}`,
        `${t.toFixed(1)} ms`,
        `${(flops / 1e9 / (t / 1e3)).toFixed(1)} GFLOP/s`,
        `${(base[fmt] / t).toFixed(2)}× vs primitive`,
      ]);
      await s.release();
    }
  }
}

const header = ['case', 'baseline / time', 'engine / throughput', 'ratio'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(
  `engine benchmark — ${threads} cores (${cpus()[0]?.model}), onnxruntime ${ort.env.versions.common}, median of runs`,
);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
