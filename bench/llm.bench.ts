// Language-model benchmark (a script, not a test): the Qwen2.5-3B text model (Qwen2.5-VL-3B's LLM: hidden 2048,
// 36 layers, GQA 16/2, MLP 11008, vocabulary 151,936, tied head) with random weights, on our engine (ONNX Runtime
// CPU) and on llama.cpp (node-llama-cpp's prebuilt CPU binary) reading a GGUF written here from the SAME weights.
// Measures prefill of 512 and 3,200 tokens and decode after a 3,200-token context, in fp32 / int8 / int4
// (ours: MatMulNBits block 32; llama.cpp: F32 / Q8_0 / Q4_0), one table with the ratio ours ÷ llama.cpp.
//
// Memory: a full-depth fp32 model is 12 GB, so every format is measured at two reduced depths and extrapolated
// linearly per layer to 36 (both engines the same way); `--full` also measures decode at the real depth for the
// formats whose extrapolated peak fits in free RAM (int4, int8). Each model is written by one child process and
// run by another, so the RSS high-water marks are inference alone.
// --full-prefill (with --full): the real-depth run also measures prefill of the longest prompt.
// Usage: npm run bench:llm [-- --quick] [--formats fp32,int8,int4] [--engines ours,llama] [--full [--full-prefill]]
//        [--variants main,all] [--depths 1,3]
import { writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as E from '../src/engine/index.ts';
import { FP32, type LinearFormat } from '../src/models/layers.ts';
import {
  parseQwen25VLConfig,
  QWEN2_5_VL_3B_CONFIG,
  type TextConfig,
} from '../src/models/qwen2_5_vl/config.ts';
import { writeRows } from '../src/models/qwen2_5_vl/model.ts';
import { buildTextDecoder, type DecoderOptions } from '../src/models/qwen2_5_vl/text_decoder.ts';
import { ortVersion, Session } from '../src/runtime/session.ts';
import { type HostTensor, tensor } from '../src/tensor.ts';
import type { GgmlType } from '../src/weights/gguf.ts';
import { quantizedSource } from '../src/weights/quantized_source.ts';
import { buildThenRun, childPhase } from './support/phases.ts';
import { writeQwen2Gguf } from './support/qwen2_gguf.ts';
import { randomParam, randomTensor, randomWeights } from './support/random_weights.ts';
import { markdownTable } from './support/table.ts';
import { bestOf } from './support/timing.ts';

const CONFIG = parseQwen25VLConfig(
  structuredClone(QWEN2_5_VL_3B_CONFIG) as unknown as Record<string, unknown>,
).text;

type Format = 'fp32' | 'int8' | 'int4';
const GGML: Record<Format, GgmlType> = { fp32: 'F32', int8: 'Q8_0', int4: 'Q4_0' };

/**
 * Our engine's variants of a format: `main` = the decoder as `ask --dtype` built it before this benchmark
 * (linears quantized with int8 activations, fp32 embedding table and tied head, the KV cache copied out of ONNX
 * Runtime and back every step); `all` = every weight quantized, the tied table included (gathered from the
 * quantized table, no fp32 copy), and the KV cache in host buffers read in place, the new rows written in;
 * `g128` = `all` with blocks of 128 weights per scale instead of 32 (llama.cpp's Q4_0 / Q8_0 keep 32).
 */
type Variant = 'main' | 'all' | 'g128';
const VARIANTS: Variant[] = ['main', 'all', 'g128'];

function linearFormat(format: Format, blockSize = 32): LinearFormat {
  if (format === 'fp32') return FP32;
  return { dtype: 'float32', quant: { bits: format === 'int8' ? 8 : 4, blockSize, accuracyLevel: 4 } };
}

function decoderOptions(format: Format, variant: Variant): DecoderOptions {
  const f = linearFormat(format, variant === 'g128' ? 128 : 32);
  if (variant === 'main') return { format: f };
  return { format: f, cacheBuffer: true, ...(f.quant ? { quantizedTable: true } : {}) };
}

interface Sizes {
  prompts: number[];
  /** Context of the decode steps. */
  context: number;
  runs: number;
  steps: number;
  vocab: number;
}

interface Job {
  engine: 'ours' | 'llama';
  format: Format;
  variant: Variant;
  layers: number;
  sizes: Sizes;
  /** Decode only (the full-depth runs). */
  decodeOnly?: boolean;
}

interface Measured {
  /** Best ms per prefill, by prompt length. */
  prefill: Record<number, number>;
  /** Best ms per decode step (the least disturbed by other processes). */
  decode: number;
  peakBytes: number;
  buildS: number;
  loadS: number;
  fileBytes: number;
}

const textConfig = (job: Job): TextConfig => ({
  ...CONFIG,
  numLayers: job.layers,
  vocabSize: job.sizes.vocab,
});

const log = (job: Job, msg: string) =>
  console.error(
    `[${job.engine} ${job.format}${job.engine === 'ours' ? ` ${job.variant}` : ''} ${job.layers} layers] ${msg}`,
  );

// ---- children ----

function buildOurs(job: Job, dir: string): number {
  const c = textConfig(job);
  const opts = decoderOptions(job.format, job.variant);
  const graph = buildTextDecoder(c, opts);
  const random = randomWeights(buildTextDecoder(c, { format: FP32 }));
  const q = opts.format?.quant;
  const weights = q ? quantizedSource(random, q) : random;
  const model = E.toOnnx(graph, {
    weights,
    lowering: 'fused',
    externalData: { path: join(dir, 'weights.bin') },
  });
  writeFileSync(join(dir, 'model.onnx'), model.bytes);
  return model.bytes.length;
}

function buildLlama(job: Job, dir: string): number {
  return writeQwen2Gguf(join(dir, 'model.gguf'), textConfig(job), {
    weightType: GGML[job.format],
    read: randomParam,
  });
}

function buildJob(job: Job, dir: string): Pick<Measured, 'buildS' | 'fileBytes'> {
  const t0 = performance.now();
  log(job, 'writing the model with random weights');
  const fileBytes = job.engine === 'ours' ? buildOurs(job, dir) : buildLlama(job, dir);
  return { buildS: (performance.now() - t0) / 1e3, fileBytes };
}

const promptIds = (n: number, vocab: number) =>
  Array.from({ length: n }, (_, i) => (i * 7919 + 13) % (vocab - 8));

type Timings = Pick<Measured, 'prefill' | 'decode' | 'loadS'>;

async function runOurs(job: Job, dir: string): Promise<Timings> {
  const { sizes } = job;
  const c = textConfig(job);
  const t0 = performance.now();
  const session = await Session.create(join(dir, 'model.onnx'));
  const loadS = (performance.now() - t0) / 1e3;
  const buffers = !!decoderOptions(job.format, job.variant).cacheBuffer;
  // With cache buffers: one buffer per layer, big enough for every run, read in place; the new rows are written
  // into it after each run, as generation does (model.ts).
  const capacity = Math.max(...sizes.prompts, sizes.context + sizes.steps + 1);
  const kv = (past: number, feeds: Record<string, HostTensor>) => {
    const len = buffers ? capacity : past;
    for (let i = 0; i < c.numLayers; i++)
      for (const [j, part] of ['key', 'value'].entries())
        feeds[`past_${part}.${i}`] = randomTensor(
          'float32',
          [1, c.numKvHeads, len, c.headDim],
          2 * i + j + 1,
          1,
        );
    if (buffers) feeds.past_length = tensor('int64', [1], [past]);
    return feeds;
  };
  const run = async (feeds: Record<string, HostTensor>) => {
    const out = await session.run(feeds);
    if (!buffers) return out;
    const at = Number(feeds.past_length.data[0]);
    for (let i = 0; i < c.numLayers; i++)
      for (const part of ['key', 'value']) {
        writeRows(feeds[`past_${part}.${i}`], out[`new_${part}.${i}`], at);
        out[`present_${part}.${i}`] = feeds[`past_${part}.${i}`];
      }
    return out;
  };
  const feedsFor = (ids: number[], past: number) =>
    kv(past, {
      input_ids: tensor('int64', [1, ids.length], ids),
      position_ids: tensor(
        'int64',
        [3, 1, ids.length],
        [0, 1, 2].flatMap(() => ids.map((_, i) => past + i)),
      ),
      visual_embeds: tensor('float32', [0, c.hiddenSize]),
      visual_index: tensor('int64', [0, 1]),
    });
  try {
    const prefill: Record<number, number> = {};
    if (!job.decodeOnly) {
      await run(feedsFor(promptIds(sizes.prompts[0], c.vocabSize), 0)); // warm-up: arena, page faults
      for (const n of sizes.prompts) {
        log(job, `prefill ${n}`);
        const feeds = feedsFor(promptIds(n, c.vocabSize), 0);
        prefill[n] = await bestOf(sizes.runs, () => run(feeds));
      }
    }
    // Decode as generation does: plain graph = the cache goes out of ONNX Runtime and back in every step;
    // buffers = read in place, the new rows written in.
    log(job, `decode after ${sizes.context}`);
    const feeds = feedsFor([1], sizes.context);
    const times: number[] = [];
    for (let s = 0; s <= sizes.steps; s++) {
      const t = performance.now();
      const out = await run(feeds);
      times.push(performance.now() - t);
      for (let i = 0; i < c.numLayers; i++) {
        feeds[`past_key.${i}`] = out[`present_key.${i}`];
        feeds[`past_value.${i}`] = out[`present_value.${i}`];
      }
      const p = sizes.context + s + 1;
      feeds.position_ids = tensor('int64', [3, 1, 1], [p, p, p]);
      if (buffers) feeds.past_length = tensor('int64', [1], [p]);
    }
    log(job, `decode steps (ms): ${times.map((t) => t.toFixed(0)).join(', ')}`);
    return { prefill, decode: Math.min(...times.slice(1)), loadS };
  } finally {
    await session.release();
  }
}

// node-llama-cpp is this benchmark's anchor only, not a dependency of the project: with its optional prebuilt
// builds for other platforms (CUDA among them) it adds ~720 MB to node_modules. Install it for the run.
const LLAMA_CPP = 'node-llama-cpp';
async function loadLlamaCpp(): Promise<any> {
  try {
    return await import(LLAMA_CPP);
  } catch {
    throw new Error(
      'node-llama-cpp is not installed: npm i -E --no-save node-llama-cpp@3.21.1 (prebuilt CPU binary)',
    );
  }
}

async function runLlama(job: Job, dir: string): Promise<Timings> {
  const { getLlama, LlamaLogLevel } = await loadLlamaCpp();
  const { sizes } = job;
  const t0 = performance.now();
  // Offline: the prebuilt CPU binary shipped in the npm package, never a build or a download.
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: join(dir, 'model.gguf'), gpuLayers: 0 });
  const context = await model.createContext({
    contextSize: Math.max(...sizes.prompts, sizes.context) + sizes.steps + 16,
    batchSize: 512,
    threads: cpus().length,
  });
  const loadS = (performance.now() - t0) / 1e3;
  const seq = context.getSequence();
  const vocab = job.sizes.vocab;
  try {
    const prefill: Record<number, number> = {};
    const evaluate = async (n: number) => {
      await seq.clearHistory();
      await seq.evaluateWithoutGeneratingNewTokens(promptIds(n, vocab));
    };
    if (!job.decodeOnly) {
      await evaluate(sizes.prompts[0]); // warm-up: page faults of the memory-mapped weights
      for (const n of sizes.prompts) {
        log(job, `prefill ${n}`);
        prefill[n] = await bestOf(sizes.runs, () => evaluate(n));
      }
    }
    log(job, `decode after ${sizes.context}`);
    await evaluate(sizes.context);
    // One token per step with its logits and the greedy pick (as generation does), timed step by step.
    let token = 1;
    const times: number[] = [];
    for (let s = 0; s <= sizes.steps; s++) {
      const t = performance.now();
      const [out] = await seq.controlledEvaluate([[token, { generateNext: { token: true } }]]);
      times.push(performance.now() - t);
      token = out?.next?.token ?? token;
    }
    return { prefill, decode: Math.min(...times.slice(1)), loadS };
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}

// ---- parent ----

const SELF = fileURLToPath(import.meta.url);

function measureJob(job: Job): Measured | string {
  const o = buildThenRun<Pick<Measured, 'buildS' | 'fileBytes'>, Timings & { peakBytes: number }>(SELF, job, {
    tmpPrefix: 'llm-bench-',
    timeoutMin: 30,
  });
  if (!o.ok) return o.error;
  log(job, `measured: ${JSON.stringify(o.result)}`);
  return o.result;
}

const GB = 2 ** 30;
const L = CONFIG.numLayers;

/** Linear in depth through the two measurements (a + b·layers), evaluated at the real depth. */
const extrapolate = (d1: number, v1: number, d2: number, v2: number) =>
  v2 + ((L - d2) * (v2 - v1)) / (d2 - d1);

interface Cell {
  /** ms at the real depth (extrapolated or measured). */
  ms: number;
  peak: number;
  measured: boolean;
  /** ms as measured at the deeper reduced depth (no extrapolation: robust to noise between runs). */
  atDepth?: number;
}

function cells(
  engine: Job['engine'],
  format: Format,
  variant: Variant,
  sizes: Sizes,
  depths: number[],
  full: boolean,
  fullPrefill = false,
) {
  const [d1, d2] = depths;
  const results = depths.map((layers) => measureJob({ engine, format, variant, layers, sizes }));
  const out: Record<string, Cell | string> = {};
  const [a, b] = results;
  if (typeof a === 'string' || typeof b === 'string') {
    const error = typeof a === 'string' ? a : (b as string);
    for (const key of [...sizes.prompts.map(String), 'decode']) out[key] = error;
    return out;
  }
  const peak = extrapolate(d1, a.peakBytes, d2, b.peakBytes);
  for (const n of sizes.prompts)
    out[n] = {
      ms: extrapolate(d1, a.prefill[n], d2, b.prefill[n]),
      peak,
      measured: false,
      atDepth: b.prefill[n],
    };
  out.decode = { ms: extrapolate(d1, a.decode, d2, b.decode), peak, measured: false, atDepth: b.decode };
  if (full && format !== 'fp32') {
    if (peak > freemem() - 3 * GB) out.decodeFull = `not run: ~${(peak / GB).toFixed(1)} GB needed`;
    else {
      // --full-prefill: the longest prompt too, once after a warm-up of the same length (~1 min per run at 36).
      const n = sizes.prompts[sizes.prompts.length - 1];
      const f = measureJob({
        engine,
        format,
        variant,
        layers: L,
        sizes: fullPrefill ? { ...sizes, prompts: [n], runs: 1 } : sizes,
        decodeOnly: !fullPrefill,
      });
      out.decodeFull = typeof f === 'string' ? f : { ms: f.decode, peak: f.peakBytes, measured: true };
      if (fullPrefill)
        out.prefillFull = typeof f === 'string' ? f : { ms: f.prefill[n], peak: f.peakBytes, measured: true };
    }
  }
  return out;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      'full-prefill': { type: 'boolean', default: false },
      formats: { type: 'string', default: 'fp32,int8,int4' },
      engines: { type: 'string', default: 'ours,llama' },
      variants: { type: 'string', default: VARIANTS.join(',') },
      depths: { type: 'string', default: '1,3' },
    },
  });
  const list = <T extends string>(value: string, all: readonly T[], flag: string): T[] => {
    const items = value.split(',') as T[];
    const bad = items.find((x) => !all.includes(x));
    if (bad) throw new Error(`--${flag}: unknown '${bad}' (use a comma list of ${all.join(', ')})`);
    return items;
  };
  const formats = list(values.formats!, ['fp32', 'int8', 'int4'] as Format[], 'formats');
  const engines = list(values.engines!, ['ours', 'llama'] as const, 'engines');
  const variants = list(values.variants!, VARIANTS, 'variants');
  const depths = values.depths!.split(',').map(Number);
  if (depths.length !== 2 || !(depths[0] < depths[1]))
    throw new Error('--depths: two increasing layer counts');
  // --quick: tiny prompts and vocabulary — a smoke run of the script, not figures.
  const sizes: Sizes = values.quick
    ? { prompts: [64, 128], context: 128, runs: 1, steps: 3, vocab: 4096 }
    : { prompts: [512, 3200], context: 3200, runs: 2, steps: 16, vocab: CONFIG.vocabSize };
  const start = performance.now();
  const rows: string[][] = [];
  // A deeper run measured no slower than the shallower one (noise on a busy machine) extrapolates to ≤ 0 ms.
  const tokS = (tokens: number, c: Cell | string | undefined) =>
    c === undefined
      ? ''
      : typeof c === 'string'
        ? c
        : c.ms > 0
          ? `${((tokens * 1e3) / c.ms).toFixed(1)} tok/s`
          : 'no estimate: the deeper run was not slower (noise), rerun';
  const ratio = (ours: Cell | string | undefined, llama: Cell | string | undefined) =>
    typeof ours === 'object' && typeof llama === 'object' && ours.ms > 0 && llama.ms > 0
      ? `${(llama.ms / ours.ms).toFixed(2)}×`
      : '';
  const raw = (c: Cell | string | undefined): Cell | undefined =>
    typeof c === 'object' && c.atDepth !== undefined ? { ...c, ms: c.atDepth } : undefined;
  const peak = (c: Cell | string | undefined) =>
    typeof c === 'object' ? `${(c.peak / GB).toFixed(2)} GB` : '';
  for (const format of formats) {
    const llama = engines.includes('llama')
      ? cells('llama', format, 'main', sizes, depths, values.full!, values['full-prefill'])
      : {};
    const ours = engines.includes('ours')
      ? variants.map((v) => ({
          v,
          c: cells('ours', format, v, sizes, depths, values.full!, values['full-prefill']),
        }))
      : [];
    const longest = sizes.prompts[sizes.prompts.length - 1];
    const keys: [string, number, string][] = [
      ...sizes.prompts.map((n): [string, number, string] => [String(n), n, `prefill ${n}`]),
      ['decode', 1, `decode, context ${sizes.context}`],
      ...(values.full && values['full-prefill']
        ? [
            ['prefillFull', longest, `prefill ${longest}, measured at ${L} layers`] as [
              string,
              number,
              string,
            ],
          ]
        : []),
      ...(values.full
        ? [
            ['decodeFull', 1, `decode, context ${sizes.context}, measured at ${L} layers`] as [
              string,
              number,
              string,
            ],
          ]
        : []),
    ];
    for (const [key, tokens, what] of keys) {
      for (const { v, c } of ours.length
        ? ours
        : [{ v: 'main' as Variant, c: {} as Record<string, Cell | string> }])
        rows.push([
          format,
          what,
          ours.length ? `${v}` : '',
          tokS(tokens, raw(c[key])),
          tokS(tokens, raw(llama[key])),
          ratio(raw(c[key]), raw(llama[key])),
          tokS(tokens, c[key]),
          tokS(tokens, llama[key]),
          ratio(c[key], llama[key]),
          peak(c[key]),
          peak(llama[key]),
        ]);
      console.error(`result: ${rows[rows.length - 1].filter(Boolean).join(' | ')}`);
    }
  }
  const header = [
    'format',
    'measure',
    'variant',
    `ours @${depths[1]}`,
    `llama.cpp @${depths[1]}`,
    'ratio',
    `ours @${L}`,
    `llama.cpp @${L}`,
    `ratio @${L}`,
    'peak ours',
    'peak llama.cpp',
  ];
  console.log(
    `LLM benchmark${values.quick ? ' --quick (tiny sizes: not figures)' : ''} — Qwen2.5-3B text model, random weights; ` +
      `onnxruntime-node ${ortVersion()} vs node-llama-cpp (prebuilt CPU) on a GGUF of the same weights; ` +
      `${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / GB).toFixed(1)} GB RAM, load average ` +
      `${loadavg()[0].toFixed(1)} at the end, ${((performance.now() - start) / 1e3).toFixed(0)} s in all`,
  );
  console.log(
    `tok/s measured at ${depths[1]} layers (@${depths[1]}), and at ${L} layers (@${L}) extrapolated linearly per ` +
      `layer from ${depths.join(' and ')} layers (both engines alike) unless marked measured; ratio = ours ÷ ` +
      `llama.cpp throughput; prefill = best of ${sizes.runs} after a warm-up; decode = best of ${sizes.steps} steps ` +
      'after one; int8/int4 = ours MatMulNBits block 32 with int8 activations (accuracy level 4) vs llama.cpp ' +
      'Q8_0/Q4_0; variant main = fp32 embedding table and tied head, cache copied per step; all = the table ' +
      'quantized too (int8/int4) and the cache in host buffers read in place; g128 = all with blocks of 128; ' +
      'peak = maxRSS of ' +
      'the child that ran the model; the machine is shared: compare within a run',
  );
  console.log(markdownTable(header, rows));
}

if (process.argv[2] === '--child')
  await childPhase<Job>(process.argv.slice(3), {
    build: buildJob,
    run: async (job, dir) => {
      log(job, 'loading');
      const t = job.engine === 'ours' ? await runOurs(job, dir) : await runLlama(job, dir);
      return { ...t, peakBytes: process.resourceUsage().maxRSS * 1024 };
    },
  });
else main();
