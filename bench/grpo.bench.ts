// GRPO rollout benchmark (a script, not a test): completion tokens per second sampled from the policy, through
// the KV-cache decoder (one token per run, the default) against recomputing the whole sequence with the training
// graph per token (the path before it), on random checkpoints: the demo's tiny Spatial-MLLM and the ~100M LLM of
// bench:sft, one 16-frame 112×112 video (~170 prompt tokens), LoRA r16. Same seeds for both paths; the table says
// whether they sampled the same tokens. The first completion of each path compiles its session and is not timed.
// Usage: npm run bench:grpo [-- --tokens N (default 16)] [-- --only tiny|100m]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpoTrainer, PAPER_GRPO } from '../src/train/grpo.ts';
import { SftModel, UPSTREAM_SFT } from '../src/train/sft.ts';
import { readSftRecords } from '../src/train/sft_data.ts';
import { type Size, writeData, writeModel } from './support/spatial_checkpoint.ts';

const arg = (name: string) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined;
const tokens = Number(arg('--tokens') ?? 16);
const only = arg('--only');
const COMPLETIONS = 2;

async function measure(model: string, data: string, media: string, rollout: 'cache' | 'recompute') {
  const h = { ...PAPER_GRPO, maxCompletionLength: tokens, rollout };
  const sft = await SftModel.load(model, {
    hyper: { ...UPSTREAM_SFT, totalSteps: 1 },
    video: { baseInterval: 2, minFrames: 16, maxFrames: 16, minPixels: 12544, maxPixels: 12544, frameFps: 4 },
    lora: { rank: 16 },
    head: GrpoTrainer.head(h),
  });
  const grpo = new GrpoTrainer(sft, h);
  try {
    const p = grpo.prompt(await sft.loadExample(readSftRecords(data, media)[0]));
    await grpo.sample(p, 999);
    const started = performance.now();
    const completions: number[][] = [];
    for (let s = 0; s < COMPLETIONS; s++) completions.push(await grpo.sample(p, s));
    const seconds = (performance.now() - started) / 1000;
    const n = completions.reduce((a, c) => a + c.length, 0);
    return { perSecond: n / seconds, n, promptTokens: p.promptIds.length, completions };
  } finally {
    await grpo.release();
    await sft.release();
  }
}

const root = mkdtempSync(join(tmpdir(), 'grpo-bench-'));
try {
  const { data, media } = writeData(root);
  console.log(
    `GRPO rollout benchmark: ${cpus().length} cores (${cpus()[0].model}), load ${loadavg()[0].toFixed(1)}; ` +
      `${COMPLETIONS} completions of ≤ ${tokens} tokens after one untimed; LoRA r16`,
  );
  const rows: string[][] = [];
  for (const size of ['tiny', '100m'] as Size[]) {
    if (only && size !== only) continue;
    const model = join(root, size);
    writeModel(model, size);
    const before = await measure(model, data, media, 'recompute');
    const after = await measure(model, data, media, 'cache');
    const same = JSON.stringify(before.completions) === JSON.stringify(after.completions);
    rows.push([
      size,
      String(before.promptTokens),
      String(after.n),
      before.perSecond.toFixed(1),
      after.perSecond.toFixed(1),
      `×${(after.perSecond / before.perSecond).toFixed(1)}`,
      same ? 'yes' : 'no',
    ]);
  }
  const head = [
    'model',
    'prompt tokens',
    'tokens sampled',
    'recompute tok/s',
    'KV cache tok/s',
    'speed-up',
    'same tokens',
  ];
  console.log([head, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n'));
  console.log(`load at the end ${loadavg()[0].toFixed(1)}`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
