// ONNX Runtime session options on this CPU (a script, not a test): intra-op threads 1 vs 2, spinning on/off
// (session.intra_op.allow_spinning) and graph optimisation level (basic vs all), on two graphs:
// - MatMul-heavy: 4 linear layers 2048→2048 (float32) on 512 tokens — the shape of a prefill or a ViT block;
// - a decode step of the Qwen2.5-3B text decoder at real width (2 layers, int4 MatMulNBits at accuracy level 4 as
//   `ask --dtype int4` builds it, quantized tied table, KV cache buffers updated in place, 1,024 past tokens;
//   vocabulary cut to 32,768 to keep the build short: the lm_head is a smaller share than at 151,936).
// Every configuration gets its own session; rounds go over all configurations in turn, so drift in the machine's
// load hits them alike; the best and the median run of each are printed with the load average.
// Usage: npm run bench:session [-- --rounds 3] [--runs 5]
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as E from '../src/engine/index.ts';
import { dense, FP32, type LinearFormat } from '../src/models/layers.ts';
import { parseQwen25VLConfig, QWEN2_5_VL_3B_CONFIG } from '../src/models/qwen2_5_vl/config.ts';
import { buildTextDecoder } from '../src/models/qwen2_5_vl/text_decoder.ts';
import { ortVersion, Session, type SessionOptions } from '../src/runtime/session.ts';
import { type HostTensor, tensor } from '../src/tensor.ts';
import { quantizedSource } from '../src/weights/quantized_source.ts';
import { randomTensor, randomWeights } from './support/random_weights.ts';

const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, runs: { type: 'string', default: '5' } },
});
const ROUNDS = Number(args.rounds);
const RUNS = Number(args.runs);
const load = () => loadavg()[0].toFixed(1);

interface Probe {
  name: string;
  model: Uint8Array;
  feeds: Record<string, HostTensor>;
}

function matmulProbe(): Probe {
  const [T, D, L] = [512, 2048, 4];
  const g = new E.Graph('matmul_chain');
  let x = g.input('x', 'float32', [T, D]);
  for (let i = 0; i < L; i++) x = dense(g, x, `fc${i}`, D, D, true, FP32);
  g.output('y', x);
  const model = E.toOnnx(g, { weights: randomWeights(g), lowering: 'fused' }).bytes;
  const flops = 2 * T * D * D * L;
  return {
    name: `MatMul chain fp32 (4 × 512×2048·2048×2048, ${(flops / 1e9).toFixed(0)} GFLOP)`,
    model,
    feeds: { x: randomTensor('float32', [T, D], 3, 1) },
  };
}

function decodeProbe(): Probe {
  const qwen = parseQwen25VLConfig(
    structuredClone(QWEN2_5_VL_3B_CONFIG) as unknown as Record<string, unknown>,
  );
  const c = { ...qwen.text, numLayers: 2, vocabSize: 32768 };
  const format: LinearFormat = { dtype: 'float32', quant: { bits: 4, blockSize: 32, accuracyLevel: 4 } };
  const graph = buildTextDecoder(c, { format, quantizedTable: true, cacheBuffer: true });
  const weights = quantizedSource(randomWeights(buildTextDecoder(c, { format: FP32 })), format.quant!);
  const model = E.toOnnx(graph, { weights, lowering: 'fused' }).bytes;
  const [past, capacity] = [1024, 1100];
  const feeds: Record<string, HostTensor> = {
    input_ids: tensor('int64', [1, 1], [42]),
    position_ids: tensor('int64', [3, 1, 1], [past, past, past]),
    visual_embeds: tensor('float32', [0, c.hiddenSize]),
    visual_index: tensor('int64', [0, 1]),
    past_length: tensor('int64', [1], [past]),
  };
  for (let i = 0; i < c.numLayers; i++)
    for (const [j, part] of ['key', 'value'].entries())
      feeds[`past_${part}.${i}`] = randomTensor(
        'float32',
        [1, c.numKvHeads, capacity, c.headDim],
        2 * i + j + 1,
        1,
      );
  return {
    name: `decode step, 3B text decoder width, 2 layers int4 level 4, ${past} past tokens`,
    model,
    feeds,
  };
}

interface Config {
  name: string;
  options: SessionOptions;
}

const CONFIGS: Config[] = [1, 2].flatMap((threads) =>
  [true, false].flatMap((spinning) =>
    (['all', 'basic'] as const).map((optimization) => ({
      name: `threads ${threads}, spinning ${spinning ? 'on' : 'off'}, optimisation ${optimization}`,
      options: { threads, spinning, optimization },
    })),
  ),
);

async function time(session: Session, p: Probe): Promise<number> {
  const t0 = performance.now();
  await session.run(p.feeds);
  return performance.now() - t0;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

async function main(): Promise<void> {
  console.log(
    `ONNX Runtime ${ortVersion()} session options — ${cpus().length} cores (${cpus()[0].model}); ` +
      `${ROUNDS} rounds × ${RUNS} runs per configuration after 2 warm-up runs; load average at start ${load()}`,
  );
  for (const make of [matmulProbe, decodeProbe]) {
    const p = make();
    const sessions = await Promise.all(CONFIGS.map((c) => Session.create(p.model, c.options)));
    const times = CONFIGS.map(() => [] as number[]);
    for (const s of sessions) for (let i = 0; i < 2; i++) await time(s, p);
    for (let r = 0; r < ROUNDS; r++)
      for (const [i, s] of sessions.entries()) for (let k = 0; k < RUNS; k++) times[i].push(await time(s, p));
    const base = Math.min(...times[CONFIGS.findIndex((c) => c.options.threads === 2)]);
    console.log(`\n${p.name} (load average now ${load()}):`);
    console.log('| configuration | best ms | median ms | best vs threads 2/spin on/all |');
    console.log('|---|---|---|---|');
    for (const [i, c] of CONFIGS.entries())
      console.log(
        `| ${c.name} | ${Math.min(...times[i]).toFixed(1)} | ${median(times[i]).toFixed(1)} | ` +
          `${(Math.min(...times[i]) / base).toFixed(2)}× |`,
      );
    await Promise.all(sessions.map((s) => s.release()));
  }
}

await main();
