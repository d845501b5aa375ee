// Qwen2.5-VL-3B benchmark (a script, not a test): random weights at the real 3B sizes on ONNX Runtime CPU.
// Measures the vision encoder on 16 frames of 644×476 (grid 8×34×46 = 12,512 patches → 3,128 merged tokens), a
// prefill of 3,200 tokens (the video tokens + text), decode tokens/s after that context, and peak memory, for
// fp32, int8 and int4 (MatMulNBits, block 32, accuracy level 4 = int8 activations, the tied table quantized too:
// what `ask --dtype` runs), int4 at level 0 (float activations), fp16 linear weights and W8A8 (int8 weights per
// output channel, int8 activations per token: engine/matmul_int8.ts); for each its cosine
// against fp32 on the same inputs at the measured (reduced) depth: visual embeddings, last-position logits.
//
// A full-depth prefill is ~20 TFLOP (minutes on a small CPU), so the vision tower and the prefill are measured at a
// reduced depth and extrapolated linearly per layer: the depth-0 graph gives the fixed part (patch embedding +
// merger; embeddings + lm_head), B−1 window blocks (vision) or N layers (text) the per-layer cost, and for the
// vision tower one more, full-attention block its own cost. Decode is measured the same way, then also at the real
// 36 layers when the extrapolated memory fits in free RAM. Every graph is written by one child process and run by
// another, so the RSS high-water marks are inference alone and do not mix; peak memory is extrapolated too.
// Usage: npm run bench:qwen [-- --quick] [--formats fp32,int4,fp16] [--stages vision,prefill,decode]
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as E from '../src/engine/index.ts';
import { FP32, type LinearFormat, W8A8 } from '../src/models/layers.ts';
import { parseQwen25VLConfig, QWEN2_5_VL_3B_CONFIG } from '../src/models/qwen2_5_vl/config.ts';
import type { GridThw } from '../src/models/qwen2_5_vl/rope_index.ts';
import { buildTextDecoder } from '../src/models/qwen2_5_vl/text_decoder.ts';
import { buildVisionEncoder } from '../src/models/qwen2_5_vl/vision_encoder.ts';
import { ortVersion, Session } from '../src/runtime/session.ts';
import { BYTES, type DType, type HostTensor, numel, tensor, toFloat32 } from '../src/tensor.ts';
import { quantizedSource } from '../src/weights/quantized_source.ts';
import { cosine } from './support/compare.ts';
import { buildThenRun, childPhase } from './support/phases.ts';
import { randomTensor, randomWeights } from './support/random_weights.ts';
import { markdownTable } from './support/table.ts';
import { bestOf } from './support/timing.ts';

// Qwen2.5-VL-3B-Instruct's config.json (DESIGN.md §3).
const CONFIG = parseQwen25VLConfig(
  structuredClone(QWEN2_5_VL_3B_CONFIG) as unknown as Record<string, unknown>,
);

type Format = 'fp32' | 'int8' | 'int4' | 'int4-l0' | 'fp16' | 'w8a8';
const nbits = (bits: 4 | 8, accuracyLevel: 0 | 4): LinearFormat => ({
  dtype: 'float32',
  quant: { bits, blockSize: 32, accuracyLevel },
});
const FORMATS: Record<Format, LinearFormat> = {
  fp32: FP32,
  int8: nbits(8, 4),
  int4: nbits(4, 4),
  'int4-l0': nbits(4, 0),
  fp16: { dtype: 'float16' },
  w8a8: W8A8,
};

interface Sizes {
  grid: GridThw;
  /** Prompt length of the prefill = context length of the decode steps. */
  seq: number;
  /** Timed runs after one warm-up (vision, prefill; the best is kept); timed decode steps after one warm-up step. */
  runs: number;
  steps: number;
  /** Depth of the reduced graphs: vision blocks (the last one full-attention) and text layers. */
  blocks: number;
  layers: number;
  vocab: number;
}

/** ref: where the fp32 job of the same stage and depth leaves its output (fp32 writes it, the others compare). */
type Job = { format: Format; sizes: Sizes; ref?: string } & (
  | { stage: 'vision'; blocks: number; fullAttention: number[] }
  | { stage: 'prefill' | 'decode'; layers: number }
);

interface Result {
  /** Median ms per run (vision, prefill) or per token (decode). */
  ms: number;
  /** Graph + random weights + ONNX file, then session creation, in seconds. */
  buildS: number;
  loadS: number;
  peakBytes: number;
  /** Parameter bytes of one block/layer as stored in this format. */
  layerBytes: number;
  /** Cosine of the output against the fp32 job's (quantized and fp16 formats, when fp32 ran first). */
  cosine?: number;
}

type Outcome = { ok: true; result: Result } | { ok: false; error: string };

// ---- children: write one graph with random weights, or load and time it; JSON on stdout ----

function build(job: Job, format: LinearFormat): E.Graph {
  if (job.stage === 'vision')
    return buildVisionEncoder(
      { ...CONFIG.vision, depth: job.blocks, fullAttBlockIndexes: job.fullAttention },
      job.sizes.grid,
      { format },
    );
  return buildTextDecoder(
    { ...CONFIG.text, numLayers: job.layers, vocabSize: job.sizes.vocab },
    { format, quantizedTable: !!format.quant },
  );
}

function layerBytes(g: E.Graph, prefix: string): number {
  let bytes = 0;
  for (const [name, t] of g.params)
    if (name.startsWith(prefix)) bytes += numel(t.shape as number[]) * BYTES[t.dtype];
  return bytes;
}

const log = (job: Job, msg: string) => {
  const depth = job.stage === 'vision' ? `${job.blocks} blocks` : `${job.layers} layers`;
  console.error(`[${job.format} ${job.stage} ${depth}] ${msg}`);
};

/** Random past keys/values of `past` tokens per layer (none for a prefill). */
function kvCache(dtype: DType, layers: number, past: number, feeds: Record<string, HostTensor>) {
  const { numKvHeads: kv, headDim: d } = CONFIG.text;
  for (let i = 0; i < layers; i++) {
    feeds[`past_key.${i}`] = randomTensor(dtype, [1, kv, past, d], 2 * i + 1, 1);
    feeds[`past_value.${i}`] = randomTensor(dtype, [1, kv, past, d], 2 * i + 2, 1);
  }
}

/**
 * A prompt of `seq` tokens whose positions 15… hold the video's merged tokens (the graph takes them from
 * visual_index, so the ids there do not matter); M-RoPE position values do not change the timing.
 */
function prefillFeeds(dtype: DType, sizes: Sizes, layers: number): Record<string, HostTensor> {
  const [t, h, w] = sizes.grid;
  const visual = (t * h * w) / CONFIG.vision.spatialMergeSize ** 2;
  const start = 15;
  const ids = Array.from({ length: sizes.seq }, (_, i) => (i * 7919) % sizes.vocab);
  const feeds: Record<string, HostTensor> = {
    input_ids: tensor('int64', [1, sizes.seq], ids),
    position_ids: tensor(
      'int64',
      [3, 1, sizes.seq],
      [0, 1, 2].flatMap(() => ids.map((_, i) => i)),
    ),
    visual_embeds: randomTensor(dtype, [visual, CONFIG.text.hiddenSize], 7, 1),
    visual_index: tensor(
      'int64',
      [visual, 1],
      Array.from({ length: visual }, (_, i) => start + i),
    ),
  };
  kvCache(dtype, layers, 0, feeds);
  return feeds;
}

type Outputs = Record<string, HostTensor>;

/** Best of `runs` after a warm-up run (the first run allocates ONNX Runtime's arena), and the last outputs. */
async function timeRuns(runs: number, run: () => Promise<Outputs>): Promise<Measured> {
  let out = await run();
  const ms = await bestOf(runs, async () => {
    out = await run();
  });
  return { ms, out };
}

/** ms per run (or per decode step) and the outputs of the last run. */
interface Measured {
  ms: number;
  out: Outputs;
}

async function measure(job: Job, session: Session, dtype: DType): Promise<Measured> {
  const { sizes } = job;
  if (job.stage === 'vision') {
    const [t, h, w] = sizes.grid;
    const v = CONFIG.vision;
    const patchDim = v.inChannels * v.temporalPatchSize * v.patchSize ** 2;
    const feeds = { pixel_values: randomTensor(dtype, [t * h * w, patchDim], 5, 1) };
    return timeRuns(sizes.runs, () => session.run(feeds));
  }
  if (job.stage === 'prefill') {
    const feeds = prefillFeeds(dtype, sizes, job.layers);
    return timeRuns(sizes.runs, () => session.run(feeds));
  }
  // Decode: one token at a time after a context of `seq` tokens, the cache fed back as generation does.
  const feeds: Record<string, HostTensor> = {
    input_ids: tensor('int64', [1, 1], [1]),
    visual_embeds: tensor(dtype, [0, CONFIG.text.hiddenSize]),
    visual_index: tensor('int64', [0, 1]),
  };
  kvCache(dtype, job.layers, sizes.seq, feeds);
  let position = sizes.seq;
  let out: Outputs = {};
  const step = async () => {
    feeds.position_ids = tensor('int64', [3, 1, 1], [position, position, position]);
    out = await session.run(feeds);
    for (let i = 0; i < job.layers; i++) {
      feeds[`past_key.${i}`] = out[`present_key.${i}`];
      feeds[`past_value.${i}`] = out[`present_value.${i}`];
    }
    position++;
  };
  await step();
  const t0 = performance.now();
  for (let i = 0; i < sizes.steps; i++) await step();
  return { ms: (performance.now() - t0) / sizes.steps, out };
}

/** fp32 leaves its output at job.ref; the other formats compare theirs with it. */
function compareWithFp32(job: Job, out: Outputs): number | undefined {
  if (!job.ref) return undefined;
  const got = toFloat32(out[job.stage === 'vision' ? 'visual_embeds' : 'logits']);
  if (job.format === 'fp32') {
    writeFileSync(job.ref, got);
    return undefined;
  }
  if (!existsSync(job.ref)) return undefined;
  const ref = readFileSync(job.ref);
  return cosine(got, new Float32Array(ref.buffer, ref.byteOffset, ref.byteLength / 4));
}

/** Writes the job's graph with random weights to dir/model.onnx + dir/weights.bin (3B models exceed protobuf's 2 GB). */
function buildJob(job: Job, dir: string): Pick<Result, 'buildS' | 'layerBytes'> {
  const format = FORMATS[job.format];
  const t0 = performance.now();
  const graph = build(job, format);
  const random = randomWeights(build(job, FP32));
  const weights = format.quant || format.w8a8 ? quantizedSource(random, format.quant) : random;
  log(job, 'building graph and random weights');
  const model = E.toOnnx(graph, {
    weights,
    lowering: 'fused',
    externalData: { path: join(dir, 'weights.bin') },
  });
  writeFileSync(join(dir, 'model.onnx'), model.bytes);
  return {
    buildS: (performance.now() - t0) / 1e3,
    layerBytes: layerBytes(graph, job.stage === 'vision' ? 'visual.blocks.0.' : 'model.layers.0.'),
  };
}

/** Loads dir/model.onnx and times it; this process's peak RSS is that of inference alone. */
async function runBuilt(
  job: Job,
  dir: string,
): Promise<Pick<Result, 'loadS' | 'ms' | 'peakBytes' | 'cosine'>> {
  const t0 = performance.now();
  log(job, 'creating session');
  const session = await Session.create(join(dir, 'model.onnx'));
  const loadS = (performance.now() - t0) / 1e3;
  log(job, 'running');
  try {
    const { ms, out } = await measure(job, session, FORMATS[job.format].dtype);
    const cosine = compareWithFp32(job, out);
    return { ms, loadS, peakBytes: process.resourceUsage().maxRSS * 1024, cosine };
  } finally {
    await session.release();
  }
}

// ---- parent: two child processes per graph (build, run), then extrapolation and the table ----

const SELF = fileURLToPath(import.meta.url);

/** One job in a build child and a run child (bench/support/phases.ts). */
const child = (job: Job): Outcome =>
  buildThenRun<Pick<Result, 'buildS' | 'layerBytes'>, Pick<Result, 'loadS' | 'ms' | 'peakBytes' | 'cosine'>>(
    SELF,
    job,
    { tmpPrefix: 'qwen-bench-', timeoutMin: 15 },
  );

/** Runs jobs in order, stopping at the first failure (returned as the table cell). */
function runAll(jobs: Job[]): Result[] | string {
  const results: Result[] = [];
  for (const job of jobs) {
    const o = child(job);
    if (!o.ok) return `failed: ${o.error}`;
    results.push(o.result);
  }
  return results;
}

const GB = 2 ** 30;
const sec = (ms: number) => (ms >= 1e3 ? `${(ms / 1e3).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
const mem = (bytes: number) => `${(bytes / GB).toFixed(2)} GB`;
const buildLoad = (r: Result) => `${r.buildS.toFixed(0)} s / ${r.loadS.toFixed(0)} s`;
const tokS = (ms: number) => `${(1e3 / ms).toFixed(2)} tok/s (${sec(ms)}/token)`;
/**
 * Peak RSS at depth L from peaks at depth 0 and N: the measured peak + the missing layers at the larger of the RSS
 * growth per layer (which includes what ONNX Runtime adds, e.g. fp32 copies of fp16 weights) and their weight bytes.
 */
const peakAt = (L: number, at0: Result, atN: Result, N: number) =>
  atN.peakBytes + (L - N) * Math.max((atN.peakBytes - at0.peakBytes) / N, atN.layerBytes);
const failedRow = (format: Format, name: string, error: string) => [format, name, error, '', '', '', '', ''];
const cos = (r: Result, format: Format) =>
  format === 'fp32' ? '1 (reference)' : r.cosine === undefined ? '—' : r.cosine.toFixed(6);
/** Where the fp32 run of a stage at a depth leaves its output for the other formats (set by main). */
let refDir = '';
const ref = (stage: string, depth: number) => join(refDir, `${stage}-${depth}.f32`);

/** Vision: 0 blocks (patch embedding + merger), B−1 window blocks, then + 1 full-attention block. */
function visionRow(format: Format, sizes: Sizes): string[] {
  const B = sizes.blocks;
  const [t, h, w] = sizes.grid;
  const name = `vision, ${t * CONFIG.vision.temporalPatchSize} frames, grid ${t}×${h}×${w}`;
  const r = runAll([
    { format, sizes, stage: 'vision', blocks: 0, fullAttention: [] },
    { format, sizes, stage: 'vision', blocks: B - 1, fullAttention: [] },
    { format, sizes, stage: 'vision', blocks: B, fullAttention: [B - 1], ref: ref('vision', B) },
  ]);
  if (typeof r === 'string') return failedRow(format, name, r);
  const [fixed, windowed, measured] = r;
  const window = (windowed.ms - fixed.ms) / (B - 1);
  const full = measured.ms - windowed.ms;
  const { depth, fullAttBlockIndexes } = CONFIG.vision;
  const nFull = fullAttBlockIndexes.length;
  const total = fixed.ms + (depth - nFull) * window + nFull * full;
  return [
    format,
    name,
    `${sec(measured.ms)} (${B} blocks: ${B - 1} window + 1 full)`,
    `${sec(total)} (${depth} blocks; ${sec(fixed.ms)} fixed + ${sec(window)}/window, ${sec(full)}/full block)`,
    cos(measured, format),
    mem(measured.peakBytes),
    mem(peakAt(depth, fixed, measured, B)),
    buildLoad(measured),
  ];
}
/** Prefill at 0 and N layers. */
function prefillRow(format: Format, sizes: Sizes): string[] {
  const N = sizes.layers;
  const name = `prefill ${sizes.seq} tokens`;
  const r = runAll([
    { format, sizes, stage: 'prefill', layers: 0 },
    { format, sizes, stage: 'prefill', layers: N, ref: ref('prefill', N) },
  ]);
  if (typeof r === 'string') return failedRow(format, name, r);
  const [fixed, measured] = r;
  const perLayer = (measured.ms - fixed.ms) / N;
  const L = CONFIG.text.numLayers;
  const total = fixed.ms + L * perLayer;
  const rate = (ms: number) => `${(sizes.seq / (ms / 1e3)).toFixed(0)} tok/s`;
  return [
    format,
    name,
    `${sec(measured.ms)} (${N} layers; ${rate(measured.ms)})`,
    `${sec(total)} (${L} layers; ${sec(perLayer)}/layer; ${rate(total)})`,
    cos(measured, format),
    mem(measured.peakBytes),
    mem(peakAt(L, fixed, measured, N)),
    buildLoad(measured),
  ];
}

/**
 * Decode after a context of `seq` tokens at 0 and N layers, extrapolated; then at the real depth when the
 * extrapolated peak leaves 4 GB of RAM free (other processes share the machine; fp16 on CPU makes fp32 copies).
 */
function decodeRows(format: Format, sizes: Sizes, quick: boolean): string[][] {
  const N = sizes.layers;
  const L = CONFIG.text.numLayers;
  const name = `decode, context ${sizes.seq}`;
  const r = runAll([
    { format, sizes, stage: 'decode', layers: 0 },
    { format, sizes, stage: 'decode', layers: N, ref: ref('decode', N) },
  ]);
  if (typeof r === 'string') return [failedRow(format, name, r)];
  const [fixed, measured] = r;
  const need = peakAt(L, fixed, measured, N);
  const rows = [
    [
      format,
      name,
      `${tokS(measured.ms)} (${N} layers)`,
      `${tokS(fixed.ms + (L * (measured.ms - fixed.ms)) / N)} (${L} layers)`,
      cos(measured, format),
      mem(measured.peakBytes),
      mem(need),
      buildLoad(measured),
    ],
  ];
  if (quick) return rows;
  const free = freemem();
  if (need > free - 4 * GB) {
    rows.push(failedRow(format, name, `${L} layers not run: ~${mem(need)} needed, ${mem(free)} free`));
    return rows;
  }
  const full = runAll([{ format, sizes, stage: 'decode', layers: L }]);
  if (typeof full === 'string') rows.push(failedRow(format, name, `${L} layers ${full}`));
  else {
    const [d] = full;
    rows.push([
      format,
      name,
      `${tokS(d.ms)} (${L} layers)`,
      '(measured at full depth)',
      '',
      mem(d.peakBytes),
      '',
      buildLoad(d),
    ]);
  }
  return rows;
}

const STAGES = ['vision', 'prefill', 'decode'] as const;

function main(): void {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      formats: { type: 'string', default: Object.keys(FORMATS).join(',') },
      stages: { type: 'string', default: STAGES.join(',') },
    },
  });
  const quick = values.quick!;
  const list = <T extends string>(value: string, all: readonly T[], flag: string): T[] => {
    const items = value.split(',') as T[];
    const bad = items.find((x) => !all.includes(x));
    if (bad) throw new Error(`--${flag}: unknown '${bad}' (use a comma list of ${all.join(', ')})`);
    return items;
  };
  const formats = list(values.formats!, Object.keys(FORMATS) as Format[], 'formats');
  const stages = list(values.stages!, STAGES, 'stages');
  // --quick: real widths, tiny inputs, depth and vocabulary — a smoke run of the script, not figures.
  const sizes: Sizes = quick
    ? { grid: [2, 16, 16], seq: 256, runs: 1, steps: 3, blocks: 2, layers: 1, vocab: 16384 }
    : {
        grid: [8, 34, 46],
        seq: 3200,
        runs: 2,
        steps: 5,
        blocks: 4,
        layers: 4,
        vocab: CONFIG.text.vocabSize,
      };
  const start = performance.now();
  const rows: string[][] = [];
  // Rows also go to stderr as they complete, so an interrupted run keeps what it measured.
  const add = (...done: string[][]) => {
    for (const r of done) console.error(`result: ${r.filter(Boolean).join(' | ')}`);
    rows.push(...done);
  };
  refDir = mkdtempSync(join(tmpdir(), 'qwen-bench-ref-'));
  // fp32 first: the other formats compare their outputs with its
  formats.sort((a, b) => Number(b === 'fp32') - Number(a === 'fp32'));
  for (const format of formats) {
    if (stages.includes('vision')) add(visionRow(format, sizes));
    if (stages.includes('prefill')) add(prefillRow(format, sizes));
    if (stages.includes('decode')) add(...decodeRows(format, sizes, quick));
  }
  const header = [
    'format',
    'measure',
    'measured (reduced depth)',
    'extrapolated (real depth)',
    'cosine vs fp32 (reduced depth)',
    'peak RSS',
    'peak RSS extrap.',
    'build / load',
  ];
  console.log(
    `Qwen2.5-VL-3B benchmark${quick ? ' --quick (tiny inputs and vocabulary: not figures)' : ''} — random weights, ` +
      `onnxruntime-node ${ortVersion()} CPU, ${cpus().length} cores (${cpus()[0]?.model}), ${mem(totalmem())} RAM, ` +
      `load average ${loadavg()[0].toFixed(1)} at the end, ${sec(performance.now() - start)} in all`,
  );
  console.log(
    'fused lowering; int8/int4 = MatMulNBits block 32 at accuracy level 4 (int8 activations; int4-l0: level 0, ' +
      `float activations), the tied embedding table / lm_head quantized too; w8a8 = int8 weights per output ` +
      `channel, int8 activations per token (MatMulIntegerToFloat; the table stays fp32); best of ${sizes.runs} ` +
      `runs after a warm-up (vision, prefill), mean of ${sizes.steps} decode steps after one; peak RSS = maxRSS ` +
      'of the child process that loaded and ran that graph (the weights are generated in another); extrapolated peak = measured + the missing layers (RSS growth or weight bytes per layer, the larger); ' +
      'build / load = graph + random weights + ONNX file, session creation',
  );
  console.log(markdownTable(header, rows));
  rmSync(refDir, { recursive: true, force: true });
}

if (process.argv[2] === '--child')
  await childPhase<Job>(process.argv.slice(3), { build: buildJob, run: runBuilt });
else main();
