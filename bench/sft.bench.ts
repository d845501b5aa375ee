// SFT benchmark (a script, not a test): `runSft` (what `spatial-mllm train sft` runs) on random checkpoints of
// three sizes, each configuration in its own child process so that its peak RSS is its own:
// - tiny: the demo's tiny Spatial-MLLM (src/apps/demo/tiny_model.ts);
// - 100m: the LLM at ~100M parameters (hidden 768, 12 layers, vocab 32,000), tiny encoders and connector;
// - real: the LLM at REAL WIDTH (Qwen2.5-VL-3B: hidden 2048, 16/2 heads, MLP 11008, vocab 151,936) at 1 and 2
//   layers, tiny encoders and connector; LoRA r16 on an int4 frozen LLM only (full SFT of the real embedding
//   alone needs ~10 GB). Extrapolated per layer to 36 layers; the real connector + merger (339M trainable fp32
//   parameters) are added from their byte count (not run: ~5.4 GB with AdamW, with the real VGGT needed to feed
//   them).
// Per configuration: full SFT vs LoRA, with and without the frozen-encoder cache. One record, gradient
// accumulation 1, 4 steps: step 1 compiles the sessions and runs the encoders; the table gives the median of
// steps 2-4 (with the cache they read the encoder outputs from disk, without it they rerun the ViT and VGGT).
// Every run stays under ~6 GB RSS.
// `--long`: a real-length sample instead: 16 frames 640×480 at upstream's pixel bounds (476×644 after resize →
// 3,128 visual tokens, ~3.2k tokens in all) on the real-width LLM at 1 and 2 layers, LoRA r16 on an int4 base,
// before / after each memory mechanism: logits only at labelled positions (sft_graph.ts), activation
// checkpointing (engine/recompute.ts), blocked attention (engine/blocked_attention.ts) and glibc's mmap threshold
// (MMAP_TUNABLE below). 2 steps each (step 1 compiles and encodes; step 2 is the figure). A run whose RSS passes
// 15 GiB is stopped (the machine is shared) and reported as such. Children run with the mmap threshold as the CLI
// does, except the --long variants before it.
// Usage: npm run bench:sft [-- --quick (no real)] [-- --only tiny|100m|real] [-- --long [--results FILE [--print]] [--jobs N] [--steps 1|2]]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UPSTREAM_SFT } from '../src/train/sft.ts';
import { UPSTREAM_VIDEO_ARGS } from '../src/train/sft_example.ts';
import { runSft } from '../src/train/sft_run.ts';
import { type Size, writeData, writeModel } from './support/spatial_checkpoint.ts';

interface Job {
  size: Size;
  model: string;
  data: string;
  media: string;
  lora: boolean;
  cache: boolean;
  /** The real-length sample (--long) with its memory mechanisms on or off. */
  long?: {
    allLogits: boolean;
    recompute: boolean;
    fullAttention: boolean;
    /** Run with glibc's mmap threshold fixed (MMAP_TUNABLE). */
    mmapThreshold: boolean;
    steps: number;
  };
}
interface Result {
  steps: number[];
  peakBytes: number;
  /** Stopped by the RSS watchdog. */
  stopped?: boolean;
}

/**
 * glibc's malloc returns freed blocks to the system only above its mmap threshold, which by default rises to the
 * largest block freed so far (up to 32 MB): a training step's many activation-sized blocks (3.2k × 2048 float32 =
 * 26 MB) then stay in its heap, fragmented, and the process keeps GBs it no longer uses. A fixed 1 MB threshold
 * (what bin/spatial-mllm.js sets) maps and unmaps each of them.
 */
const MMAP_TUNABLE = 'glibc.malloc.mmap_threshold=1048576';
const mmapEnv = () => ({
  ...process.env,
  GLIBC_TUNABLES: [process.env.GLIBC_TUNABLES, MMAP_TUNABLE].filter(Boolean).join(':'),
});

/** RSS above which a child is stopped (the machine is shared with the lead's training). */
const RSS_LIMIT = 15 * 2 ** 30;

async function child(job: Job): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'sft-bench-run-'));
  await runSft({
    model: job.model,
    data: job.data,
    media: job.media,
    out,
    hyper: { ...UPSTREAM_SFT, gradAccum: 1 },
    video: job.long
      ? UPSTREAM_VIDEO_ARGS
      : { baseInterval: 2, minFrames: 16, maxFrames: 16, minPixels: 12544, maxPixels: 12544, frameFps: 4 },
    epochs: 1,
    maxSteps: job.long?.steps ?? 4,
    allLogits: job.long?.allLogits,
    fullAttention: job.long?.fullAttention,
    gradientCheckpointing: job.long?.recompute ?? false,
    seed: 0,
    saveEvery: 100,
    lora: job.lora ? { rank: 16 } : undefined,
    frozenQuant: job.lora && job.size !== 'tiny' ? 'int4' : undefined,
    cacheEncoders: job.cache,
    log: () => {},
  });
  const steps = readFileSync(join(out, 'train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).seconds as number);
  rmSync(out, { recursive: true, force: true });
  const result: Result = { steps, peakBytes: process.resourceUsage().maxRSS * 1024 };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(job: Job): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', JSON.stringify(job)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: job.long && !job.long.mmapThreshold ? { ...process.env, GLIBC_TUNABLES: '' } : mmapEnv(),
      },
    );
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    let stopped = false;
    const watch = setInterval(() => {
      if (rssOf(p.pid!) > RSS_LIMIT) {
        stopped = true;
        p.kill('SIGKILL');
      }
    }, 250);
    p.on('close', (code) => {
      clearInterval(watch);
      if (stopped) resolve({ steps: [], peakBytes: RSS_LIMIT, stopped });
      else if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!));
      else reject(new Error(`child ${JSON.stringify(job)} exited ${code}`));
    });
  });
}

/** Resident set size of a process (Linux /proc), 0 once it is gone. */
function rssOf(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

// Real connector (MLPAddConnector: RMSNorm 16384 → Linear 16384² → GELU → Linear 16384×2048; 16384 = VGGT's
// 2×1024 channels × 2 frames × 2×2 patches) and merger (ln_q 1280, Linear 5120², Linear 5120×2048): 339M
// parameters, trained in fp32 with AdamW. Per parameter the trainer holds the value, exp_avg and exp_avg_sq once
// each (updated in place) and ONNX Runtime the gradient during the step: 16 B (+4 B for the gradient accumulators
// with --grad-accum > 1).
const PROJECTOR_PARAMS =
  16384 + 16384 * 16384 + 16384 + 16384 * 2048 + 2048 + 1280 + 5120 * 5120 + 5120 + 5120 * 2048 + 2048;

/**
 * Activations of the real connector and merger for V merged visual tokens that the backward pass keeps (fp32):
 * connector input, norm output, first linear and GELU outputs (16384 wide), merger input (4V × 1280) and its two
 * 5120-wide intermediates. The bench's tiny encoders do not have them.
 */
const projectorActivationBytes = (v: number) => 4 * (4 * v * 16384 + 4 * v * 1280 + 2 * v * 5120);

/** --long: the real-length sample at real width, before / after each memory mechanism. */
async function long(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'sft-bench-long-'));
  const { data, media } = writeData(root, true);
  const base = { allLogits: true, recompute: false, fullAttention: true, mmapThreshold: false };
  const variants = [
    { label: 'before (logits at all positions, activations kept)', ...base },
    { label: '+ logits at labelled positions only', ...base, allLogits: false },
    {
      label: '+ activation checkpointing (per decoder layer, parameter gradients in layer order)',
      ...base,
      allLogits: false,
      recompute: true,
    },
    {
      label: '+ blocked attention (one head at a time, recomputed in the backward pass)',
      ...base,
      allLogits: false,
      recompute: true,
      fullAttention: false,
    },
    {
      label: `+ glibc mmap threshold 1 MB (GLIBC_TUNABLES=${MMAP_TUNABLE}, as bin/spatial-mllm.js)`,
      allLogits: false,
      recompute: true,
      fullAttention: false,
      mmapThreshold: true,
    },
  ];
  // --results FILE keeps each measured run (JSON by variant and size): a rerun measures only what is missing, so
  // an interrupted benchmark on a busy machine continues; --print only prints its table. --jobs N runs N children
  // at once.
  const file = option('--results');
  const done: Record<string, Result> = file && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const jobs = Number(option('--jobs') ?? 1);
  // --steps 1: peak RSS sooner on a busy machine (the time then includes compiling the sessions and the encoders).
  const steps = Number(option('--steps') ?? 2);
  console.log(
    `SFT benchmark, real-length sample: ${cpus().length} cores (${cpus()[0].model}), load ${loadavg()[0].toFixed(1)}; ` +
      `16 frames 640×480 → 476×644 → 3,128 visual tokens; real-width LLM, LoRA r16 on an int4 base; time of the last of ${steps} step(s)${steps === 1 ? ' (with session compile and encoders)' : ''}; ` +
      `runs stopped above ${gb(RSS_LIMIT)} GB`,
  );
  try {
    const todo = variants.flatMap((v, i) =>
      (['real1', 'real2'] as const).map((size) => ({ key: `${i}:${size}`, v, size })),
    );
    // The configuration with every mechanism first: on a busy machine it is the figure that matters most.
    const queue = process.argv.includes('--print') ? [] : todo.filter((t) => !done[t.key]).reverse();
    for (const size of new Set(queue.map((t) => t.size))) writeModel(join(root, size), size);
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        const job: Job = {
          size: t.size,
          model: join(root, t.size),
          data,
          media,
          lora: true,
          cache: true,
          long: { ...t.v, steps },
        };
        done[t.key] = await runChild(job);
        if (file) writeFileSync(file, JSON.stringify(done, null, 1));
        console.error(
          `${t.v.label} ${t.size}: ${JSON.stringify(done[t.key])} (load ${loadavg()[0].toFixed(1)})`,
        );
      }
    };
    await Promise.all(Array.from({ length: jobs }, worker));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const rows = variants.map((v, i) => [v.label, ...extrapolate(done[`${i}:real1`], done[`${i}:real2`])]);
  const head = [
    'variant',
    '1 layer: step s / peak GB',
    '2 layers: step s / peak GB',
    'per layer s / GB',
    '36 layers: step s / peak GB',
    '+ real connector & merger: GB',
  ];
  console.log([head, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n'));
  console.log(
    '36 layers = 1 layer + 35 × (2 layers − 1 layer); the last column adds the real connector and merger trained in ' +
      `fp32 with AdamW (${(PROJECTOR_PARAMS / 1e6).toFixed(0)}M × 16 B = ${gb(PROJECTOR_PARAMS * 16)} GB) and their ` +
      `activations at 3,128 tokens (${gb(projectorActivationBytes(3128))} GB), from byte counts (not run). Load at the end ${loadavg()[0].toFixed(1)}.`,
  );
}

const last = (r: Result) => r.steps[r.steps.length - 1];

/** Cells of one --long variant: measured 1 and 2 layers, the per-layer increment and the 36-layer estimates. */
function extrapolate(r1: Result | undefined, r2: Result | undefined): string[] {
  const cell = (r: Result | undefined) =>
    !r
      ? '—'
      : r.stopped
        ? `> ${gb(RSS_LIMIT)} GB (stopped)`
        : `${last(r).toFixed(1)} (step ${r.steps.length}) / ${gb(r.peakBytes)}`;
  if (!r1 || !r2 || r1.stopped || r2.stopped) return [cell(r1), cell(r2), '—', '—', '—'];
  const t = last(r2) - last(r1);
  const b = r2.peakBytes - r1.peakBytes;
  const bytes36 = r1.peakBytes + 35 * b;
  const total = bytes36 + PROJECTOR_PARAMS * 16 + projectorActivationBytes(3128);
  return [
    cell(r1),
    cell(r2),
    `${t.toFixed(1)} / ${gb(b)}`,
    `${(last(r1) + 35 * t).toFixed(0)} / ${gb(bytes36)}`,
    `${gb(total)} (${total <= 16 * 2 ** 30 ? 'within' : 'above'} 16 GB)`,
  ];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gb = (b: number) => (b / 2 ** 30).toFixed(2);

const option = (name: string) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined;

async function main(): Promise<void> {
  if (process.argv.includes('--long')) return long();
  const quick = process.argv.includes('--quick');
  const root = mkdtempSync(join(tmpdir(), 'sft-bench-'));
  const { data, media } = writeData(root);
  const only = option('--only');
  const sizes = (['tiny', '100m', 'real1', 'real2'] as Size[]).filter((s) =>
    only ? s.startsWith(only) : !quick || !s.startsWith('real'),
  );
  const rows: string[][] = [];
  const measured = new Map<string, Result>();
  console.log(
    `SFT benchmark: ${cpus().length} cores (${cpus()[0].model}), load ${loadavg()[0].toFixed(1)}; 16 frames 112×112 → 128 visual tokens, ~170 tokens/sample; median s/step of steps 2-4`,
  );
  try {
    for (const size of sizes) {
      const model = join(root, size);
      writeModel(model, size);
      const modes = size.startsWith('real') ? [true] : [false, true];
      for (const lora of modes)
        for (const cache of [false, true]) {
          const r = await runChild({ size, model, data, media, lora, cache });
          measured.set(`${size}:${lora}:${cache}`, r);
          const step = median(r.steps.slice(1));
          rows.push([
            size,
            lora ? (size === 'tiny' ? 'LoRA r16' : 'LoRA r16, int4 base') : 'full',
            cache ? 'yes' : 'no',
            r.steps[0].toFixed(2),
            step.toFixed(3),
            gb(r.peakBytes),
          ]);
        }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const head = ['model', 'trainable', 'encoder cache', 'step 1 s', 'step s', 'peak RSS GB'];
  console.log([head, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n'));
  const cacheSaving = (size: Size, lora: boolean) => {
    const off = measured.get(`${size}:${lora}:false`);
    const on = measured.get(`${size}:${lora}:true`);
    return off && on ? median(off.steps.slice(1)) - median(on.steps.slice(1)) : undefined;
  };
  for (const [size, lora] of [
    ['tiny', false],
    ['100m', false],
    ['100m', true],
  ] as const) {
    const saved = cacheSaving(size, lora);
    if (saved !== undefined)
      console.log(
        `encoder cache saves ${saved.toFixed(3)} s/step at ${size} ${lora ? 'LoRA' : 'full'} (the frozen ViT + VGGT run at this frame size)`,
      );
  }
  const r1 = measured.get('real1:true:true');
  const r2 = measured.get('real2:true:true');
  if (r1 && r2) {
    const t1 = median(r1.steps.slice(1));
    const t2 = median(r2.steps.slice(1));
    const perLayerT = t2 - t1;
    const perLayerB = r2.peakBytes - r1.peakBytes;
    const steps36 = t1 + 35 * perLayerT;
    const bytes36 = r1.peakBytes + 35 * perLayerB;
    const projectorBytes = PROJECTOR_PARAMS * 16;
    const time36 =
      perLayerT > 0
        ? `≈ ${steps36.toFixed(2)} s/step at ~170 tokens`
        : 'step time not extrapolable (2 layers ran faster than 1: the machine is loaded)';
    const total = bytes36 + projectorBytes;
    console.log(
      `real width, extrapolated to 36 layers (per layer ${perLayerT.toFixed(3)} s, ${gb(perLayerB)} GB): ` +
        `LoRA r16 on an int4 LLM with the encoder cache: ${time36}, ${gb(bytes36)} GB; ` +
        `+ the real connector and merger trained in fp32 with AdamW (${(PROJECTOR_PARAMS / 1e6).toFixed(0)}M parameters × 16 B) ≈ ${gb(projectorBytes)} GB ` +
        `→ ≈ ${gb(total)} GB (${total < 16 * 2 ** 30 ? 'within' : 'above'} 16 GB) at this sample length (a real-length sample: --long).`,
    );
  }
}

const at = process.argv.indexOf('--child');
if (at >= 0) await child(JSON.parse(process.argv[at + 1]) as Job);
else await main();
