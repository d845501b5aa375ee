// Training benchmark (not a test): the project's Qwen2.5-VL text decoder with the SFT loss at two sizes, on CPU.
// Per model: forward-only time (the primitive lowering that training differentiates, and the fused inference
// lowering), forward + backward (the gradient-accumulation graph), and one full AdamW training step (forward,
// backward, global-norm clipping and the update in one ONNX Runtime run), plus the bytes fed to and fetched from
// ONNX Runtime per step. Usage: npm run bench:train [-- --quick] [-- --only tiny|100m]
import { cpus } from 'node:os';
import * as E from '../src/engine/index.ts';
import type { TextConfig } from '../src/models/qwen2_5_vl/config.ts';
import { buildTextDecoder } from '../src/models/qwen2_5_vl/text_decoder.ts';
import { type Feeds, Session } from '../src/runtime/session.ts';
import { f32, type HostTensor, i64 } from '../src/tensor.ts';
import { addLmLoss } from '../src/train/losses.ts';
import { replay } from '../src/train/replay.ts';
import { Rng } from '../src/train/rng.ts';
import { Trainer } from '../src/train/trainer.ts';

const quick = process.argv.includes('--quick');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;

interface Model {
  name: string;
  config: TextConfig;
  seq: number;
}

const MODELS: Model[] = [
  {
    name: 'tiny',
    seq: 64,
    config: {
      hiddenSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 16,
      intermediateSize: 128,
      rmsNormEps: 1e-6,
      ropeTheta: 1e6,
      mropeSection: [2, 3, 3],
      vocabSize: 1000,
      tieWordEmbeddings: true,
    },
  },
  {
    // Qwen2.5 proportions scaled to ~100M parameters.
    name: '100m',
    seq: 256,
    config: {
      hiddenSize: 768,
      numLayers: 12,
      numHeads: 12,
      numKvHeads: 2,
      headDim: 64,
      intermediateSize: 2048,
      rmsNormEps: 1e-6,
      ropeTheta: 1e6,
      mropeSection: [8, 12, 12],
      vocabSize: 32000,
      tieWordEmbeddings: true,
    },
  },
];

/** Median and minimum wall time (the minimum is the better estimate on a machine shared with other work). */
async function time(run: () => Promise<unknown>, reps: number): Promise<{ median: number; min: number }> {
  await run(); // warm-up (first run allocates)
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0] };
}

function batch(c: TextConfig, seq: number, rng: Rng): Feeds {
  const ids = Array.from({ length: seq }, () => rng.int(c.vocabSize));
  const positions = Array.from({ length: 3 * seq }, (_, i) => i % seq);
  const feeds: Feeds = {
    input_ids: i64([1, seq], ids),
    position_ids: i64([3, 1, seq], positions),
    visual_embeds: f32([0, c.hiddenSize]),
    visual_index: i64([0, 1], []),
    labels: i64([1, seq], [...ids.slice(1), 0]),
    loss_denominator: f32([], [seq]),
  };
  for (let i = 0; i < c.numLayers; i++) {
    feeds[`past_key.${i}`] = f32([1, c.numKvHeads, 0, c.headDim]);
    feeds[`past_value.${i}`] = f32([1, c.numKvHeads, 0, c.headDim]);
  }
  return feeds;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const fmtMs = (v: number) => v.toFixed(v < 10 ? 2 : 0);
const ms = (t: { median: number; min: number }) => `${fmtMs(t.median)} (${fmtMs(t.min)}) ms`;

async function bench(m: Model): Promise<string[]> {
  const reps = quick ? 2 : m.name === 'tiny' ? 20 : 4;
  const g = buildTextDecoder(m.config, { allLogits: true });
  addLmLoss(g);
  const forward = replay(g, { outputs: ['loss'] });
  const rng = new Rng(1);
  const weights = new Map<string, HostTensor>();
  let params = 0;
  for (const [name, p] of forward.params) {
    const n = (p.shape as number[]).reduce((a, b) => a * b, 1);
    params += n;
    const init = name.endsWith('norm.weight') ? () => 1 : () => 0.02 * rng.normal();
    weights.set(name, f32(p.shape as number[], Float32Array.from({ length: n }, init)));
  }
  const feeds = batch(m.config, m.seq, rng);
  const withParams = { ...Object.fromEntries(weights), ...feeds };

  const t0 = performance.now();
  const primitive = await Session.create(
    E.toOnnx(forward, { lowering: 'primitive', params: 'inputs' }).bytes,
  );
  const fused = await Session.create(E.toOnnx(forward, { lowering: 'fused', params: 'inputs' }).bytes);
  const buildForward = performance.now() - t0;
  const fwdPrimitive = await time(() => primitive.run(withParams), reps);
  const fwdFused = await time(() => fused.run(withParams), reps);
  await primitive.release();
  await fused.release();

  const trainer = Trainer.create(g, weights, {
    trainable: () => true,
    optimizer: { kind: 'adamw' },
    lr: 1e-4,
    weightDecay: 0.1,
    maxGradNorm: 1,
  });
  // Forward + backward alone: the accumulation graph (gradients added into zero accumulators).
  const t1 = performance.now();
  const accGraph = trainer.buildGraph('accumulate');
  const acc = await Session.create(E.toOnnx(accGraph, { lowering: 'primitive', params: 'inputs' }).bytes);
  const buildBackward = performance.now() - t1;
  const zeros = Object.fromEntries(
    trainer.trainable.map((n) => [`grad_acc:${n}`, f32(weights.get(n)!.shape)]),
  );
  const fwdBwd = await time(() => acc.run({ ...withParams, ...zeros }), reps);
  await acc.release();

  const t2 = performance.now();
  const first = await trainer.step([feeds]); // builds the step session
  const buildStep = performance.now() - t2;
  const step = await time(() => trainer.step([feeds]), reps);
  await trainer.release();
  const paramBytes = params * 4;
  return [
    m.name,
    `${(params / 1e6).toFixed(1)}M`,
    `${m.seq}`,
    ms(fwdPrimitive),
    ms(fwdFused),
    ms(fwdBwd),
    ms(step),
    `${(step.min / fwdPrimitive.min).toFixed(1)}×`,
    mb(first.bytes.fed),
    mb(first.bytes.fetched),
    `${mb(paramBytes)} × 3`,
    `${((buildForward + buildBackward + buildStep) / 1000).toFixed(1)} s`,
  ];
}

const header = [
  'model',
  'params',
  'tokens',
  'fwd (primitive)',
  'fwd (fused)',
  'fwd+bwd',
  'train step',
  'step/fwd (min)',
  'fed/step',
  'fetched/step',
  'params+2 moments',
  'graph+session build',
];
const rows: string[][] = [];
for (const m of MODELS) {
  if (only && only !== m.name) continue;
  process.stderr.write(`benchmarking ${m.name}…\n`);
  rows.push(await bench(m));
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => `| ${r.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
console.log(
  `CPU: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length} threads; ONNX Runtime default intra-op threads; times: median (min)`,
);
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of rows) console.log(line(r));
console.log(
  'fed/fetched: bytes crossing the JS/ONNX Runtime boundary per step. Feeds are wrapped in place and fetches are ' +
    'preallocated buffers written in place (see test/train/trainer.test.ts), so the host copies none of them: ' +
    'host-side parameter/state copies per step = 0 B.',
);
