// `npm run train:small` (= `spatial-mllm train small`): the whole recipe of the small Spatial-MLLM, in stages that
// each leave a `<stage>.done.json` in the run folder; a rerun skips finished stages and resumes the one that was
// interrupted (synth, SFT and GRPO are resumable themselves, evaluation runs resume per question).
//   data     synthetic rooms: train seed 1000, eval seed 900000 (src/train/small/data.ts)
//   init     tokenizer merges learned from the training text + the small config, fresh weights
//   vision   the ViT pretrained on the training rooms' instance and depth maps (src/train/vision_pretrain.ts), with
//            a linear probe on the random ViT as the baseline; figures on the eval rooms → vision.done.json
//   geometry the small VGGT (aggregator + camera, depth, point heads) trained with VGGT's losses on the training
//            rooms' decoded frames against their exact depth and cameras (src/train/geometry_run.ts), from the
//            vision checkpoint; figures on the eval rooms before and after (src/train/geometry_eval.ts)
//   sft      `train sft` from the geometry checkpoint on the balanced conversations, encoders frozen as upstream
//            (the ViT as the vision stage left it, VGGT as the geometry stage left it)
//   grpo     `train grpo` from the SFT model with the paper's rewards
//   eval     VSI-Bench metrics on the eval rooms: SFT / SFT+GRPO (uniform, space-aware), the blind model, chance
//            and frequency baselines → eval/table.md
// The two encoder stages train disjoint tensors (ViT / VGGT) from inputs that do not depend on each other, so their
// order does not change the result.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecords, writeRecordsAtomic } from '../../data/jsonl.ts';
import type { Conversation } from '../../data/qa/types.ts';
import { synthesize } from '../../data/synth/cli.ts';
import { InputError } from '../../errors.ts';
import type { AdapterDeps } from '../../eval/adapter.ts';
import { evalBenchmark } from '../../eval/commands.ts';
import { diffText, pairedDiff } from '../../eval/paired.ts';
import type { Report } from '../../eval/report.ts';
import { readResults } from '../../eval/results.ts';
import { VGGT_PREFIX } from '../../models/spatial_mllm/checkpoint.ts';
import { writeInitCheckpoint } from '../../models/spatial_mllm/init_checkpoint.ts';
import type { HostTensor } from '../../tensor.ts';
import { TASKS } from '../../vsibench.ts';
import { openCheckpoint } from '../../weights/safetensors.ts';
import { writeCheckpointCopy } from '../export.ts';
import { geometryFigures, geometryTable } from '../geometry_eval.ts';
import { runGeometry } from '../geometry_run.ts';
import { runGrpo } from '../grpo_run.ts';
import { runSft } from '../sft_run.ts';
import { isVitBody, runVisionStage, visionPaths } from '../vision_pretrain.ts';
import { learnMerges } from './bpe.ts';
import { balancedQuestions, SEEDS, SFT_MIX, sceneSeed, weightedMix, writeConversations } from './data.ts';
import { SMALL_FRAME, SMALL_PIXELS, type SmallDims, smallConfig } from './model_config.ts';

export interface SmallRecipeOptions {
  out: string;
  trainScenes: number;
  evalScenes: number;
  /** Frames per synthetic video and per question given to the model. */
  frames: number;
  /** Questions per type per room (training / evaluation). */
  trainPerType: number;
  evalPerType: number;
  /** Geometry stage: optimizer steps (one sequence of `geometryFrames` frames each). */
  geometrySteps: number;
  geometryFrames: number;
  sftSteps: number;
  /** Model size (default SMALL_DIMS). */
  dims?: SmallDims;
  /** Task weights of the SFT mix (default SFT_MIX); GRPO samples the plain mix. */
  sftMix?: Readonly<Partial<Record<string, number>>>;
  /** SFT learning rate of the LLM (and of the connector unless sftProjectorLr). */
  sftLr: number;
  /** SFT rate of the connector and the vision merger (default sftLr; upstream `mm_projector_lr`). */
  sftProjectorLr?: number;
  /** Score the SFT model on every 3rd evaluation question every N steps (its curve in train.jsonl / train.svg). */
  sftEvalEvery: number;
  grpoSteps: number;
  merges: number;
  threads: number;
  /** Frames rendered per synthetic video (default 16). */
  videoFrames?: number;
  /** Stop after this stage (tests run the cheap ones). */
  until?: 'data' | 'init' | 'vision' | 'geometry' | 'sft' | 'grpo';
  /** Vision pretraining: optimizer steps (the linear probe takes as many) and rooms per step. */
  visionSteps: number;
  visionBatch: number;
  /** Every N-th training conversation also goes in blind (grey frames); 0 = none. */
  blindEvery: number;
  /**
   * Take the ViT and VGGT from this model of the recipe (e.g. `models/small`) instead of running the vision and
   * geometry stages: SFT and GRPO keep both encoders frozen, so a published model holds those stages' output.
   * A fresh checkout then reaches SFT in the data stage's time (~15 min) instead of ~75 min.
   */
  encodersFrom?: string;
  /** Copy the final model (SFT+GRPO) here when the recipe ends, e.g. `models/small` (what `--model small` names). */
  publish?: string;
  /** Evaluate only these runs (default all). */
  evalRuns?: readonly string[];
  log?: (line: string) => void;
}

export const SMALL_RECIPE_DEFAULTS: Omit<SmallRecipeOptions, 'out'> = {
  trainScenes: 1600,
  evalScenes: 40,
  frames: 8,
  trainPerType: 4,
  evalPerType: 1,
  visionSteps: 4000,
  visionBatch: 8,
  geometrySteps: 400,
  geometryFrames: 6,
  sftSteps: 10000,
  // At 1e-3 the 1,600-room run forgot which object an object-size question names (the first answer digit had the
  // same distribution for a door and a bed); 3e-4 kept it.
  sftLr: 3e-4,
  // The merger and connector train at their own rate, as upstream's `mm_projector_lr`: they start from random
  // weights and must map the frozen encoders' features into the LLM's space.
  sftProjectorLr: 1e-3,
  sftEvalEvery: 2000,
  grpoSteps: 150,
  merges: 400,
  threads: 1,
  blindEvery: 8,
};

const done = (out: string, stage: string) => join(out, `${stage}.done.json`);
const finish = (out: string, stage: string, figures: object) =>
  writeFileSync(done(out, stage), `${JSON.stringify(figures, null, 2)}\n`);

/** Runs `stage` unless its done-file exists; returns the stage's figures either way. */
async function stage<T extends object>(
  o: SmallRecipeOptions,
  name: string,
  run: () => Promise<T>,
): Promise<T> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  if (existsSync(done(o.out, name))) {
    log(`[${name}] already done`);
    return JSON.parse(readFileSync(done(o.out, name), 'utf8')) as T;
  }
  log(`[${name}] starting`);
  const t0 = Date.now();
  const figures = await run();
  finish(o.out, name, { ...figures, seconds: (Date.now() - t0) / 1000 });
  log(`[${name}] done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return figures;
}

export const paths = (out: string) => ({
  train: join(out, 'data', 'train'),
  eval: join(out, 'data', 'eval'),
  sftData: join(out, 'data', 'train', 'sft.jsonl'),
  sftMix: join(out, 'data', 'train', 'sft_mix.jsonl'),
  evalQuestions: join(out, 'data', 'eval', 'test.jsonl'),
  curveQuestions: join(out, 'data', 'eval', 'curve.jsonl'),
  init: join(out, 'init'),
  vision: join(out, 'vision'),
  geometry: join(out, 'geometry'),
  sft: join(out, 'sft'),
  grpo: join(out, 'grpo'),
  evals: join(out, 'eval'),
});

/** The video options of both trainers: the frame count, 168×112 frames, 1 s per temporal patch (as inference). */
const videoArgs = (o: SmallRecipeOptions) => ({
  baseInterval: 2,
  minFrames: o.frames,
  maxFrames: o.frames,
  minPixels: 3136,
  maxPixels: SMALL_PIXELS,
  frameFps: 2,
});

/** The small model is v1.1: VGGT (aggregator and heads) under spatial_encoder.vggt_model. */
const isVggt = (name: string) => name.startsWith(VGGT_PREFIX['v1.1']);

/**
 * The checkpoint `from` with the tensors `pick` selects taken from `donor` (same names, dtypes and shapes), written
 * to `dir`: what a stage that trains those tensors would have left, when `donor` is a later model of this recipe.
 */
function seedEncoders(from: string, donor: string, dir: string, pick: (name: string) => boolean) {
  const base = openCheckpoint(from);
  const source = openCheckpoint(donor);
  try {
    const donorNames = new Set(source.names());
    const replaced = new Map<string, HostTensor>();
    for (const name of base.names().filter(pick)) {
      const want = base.info(name);
      const got = donorNames.has(name) ? source.info(name) : undefined;
      if (!got || got.dtype !== want.dtype || got.shape.join() !== want.shape.join())
        throw new InputError(
          `--encoders-from ${donor}: ${name} is ${got ? `${got.dtype}[${got.shape}]` : 'missing'}, the recipe's model ` +
            `has ${want.dtype}[${want.shape}]; give a model trained by this recipe with the same dims`,
        );
      replaced.set(name, source.read(name));
    }
    if (!replaced.size) throw new Error(`seeding ${dir}: no tensor selected in ${from}`);
    writeCheckpointCopy(from, base, dir, replaced);
    return { seededFrom: donor, tensors: replaced.size };
  } finally {
    base.close();
    source.close();
  }
}

export async function runSmallRecipe(o: SmallRecipeOptions, deps: AdapterDeps): Promise<void> {
  const p = paths(o.out);
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  mkdirSync(o.out, { recursive: true });
  // 1 frame per second: a 16-frame video spans 16 s, so four categories can first appear more than 1 s apart
  // (the appearance-order rule); at 4 fps no room yields an appearance-order question.
  const synthOptions = { frames: o.videoFrames ?? 16, fps: 1, ...SMALL_FRAME, log };

  await stage(o, 'data', async () => {
    const train = await synthesize({
      ...synthOptions,
      scenes: o.trainScenes,
      out: p.train,
      seed: SEEDS.train,
    });
    const sft = balancedQuestions(train.questions, o.trainPerType);
    writeConversations(p.sftData, sft, o.blindEvery);
    const ev = await synthesize({ ...synthOptions, scenes: o.evalScenes, out: p.eval, seed: SEEDS.eval });
    const evalQs = balancedQuestions(ev.questions, o.evalPerType);
    writeFileSync(p.evalQuestions, evalQs.map((q) => `${JSON.stringify(q)}\n`).join(''));
    const count = (qs: { question_type: string }[]) =>
      Object.fromEntries(
        [...new Set(qs.map((q) => q.question_type))].map((t) => [
          t,
          qs.filter((q) => q.question_type === t).length,
        ]),
      );
    return { seeds: SEEDS, sft: count(sft), eval: count(evalQs) };
  });
  if (o.until === 'data') return;

  await stage(o, 'init', async () => {
    const records = readFileSync(p.sftData, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const texts = [
      'You are a helpful assistant.',
      ...records.flatMap((r: { conversations: { value: string }[] }) => r.conversations.map((c) => c.value)),
    ];
    const vocab = { merges: learnMerges(texts, o.merges) };
    writeInitCheckpoint(p.init, {
      config: smallConfig(vocab, o.dims),
      vocab,
      seed: 14,
      gain: 0.5,
      // Answers are a letter or a number of a few digits; GRPO completions are capped at 8 tokens too.
      maxNewTokens: 12,
      pixels: { min: 3136, max: SMALL_PIXELS },
    });
    return { merges: vocab.merges.length };
  });
  if (o.until === 'init') return;

  await stage(o, 'vision', async () => {
    if (o.encodersFrom) return seedEncoders(p.init, o.encodersFrom, visionPaths(p.vision).model, isVitBody);
    const rooms = (dir: string, seed: number) =>
      readdirSync(join(dir, 'synthetic'))
        .filter((f) => f.endsWith('.mp4') && sceneSeed(f.slice(0, -4)) === seed)
        .sort()
        .map((f) => join(dir, 'synthetic', f));
    return runVisionStage({
      model: p.init,
      out: p.vision,
      trainVideos: rooms(p.train, SEEDS.train),
      evalVideos: rooms(p.eval, SEEDS.eval),
      video: videoArgs(o),
      steps: o.visionSteps,
      batch: o.visionBatch,
      seed: 41,
      // About 100 saves per run (every 20 steps of the default 2000).
      saveEvery: Math.ceil(o.visionSteps / 100),
      threads: o.threads,
      log,
    });
  });
  if (o.until === 'vision') return;

  await stage(o, 'geometry', async () => {
    if (o.encodersFrom)
      return seedEncoders(visionPaths(p.vision).model, o.encodersFrom, join(p.geometry, 'model'), isVggt);
    const s = await runGeometry({
      model: visionPaths(p.vision).model,
      data: p.train,
      out: p.geometry,
      steps: o.geometrySteps,
      frames: o.geometryFrames,
      seed: 44,
      saveEvery: 10,
      threads: o.threads,
      log,
    });
    // Held-out rooms only (seed range SEEDS.eval); K = the frames a question gets.
    const figures = { picks: o.frames, threads: o.threads };
    const before = await geometryFigures(p.init, p.eval, figures);
    const after = await geometryFigures(s.model, p.eval, figures);
    const table = geometryTable(before, after);
    log(table);
    return { steps: s.steps, firstLoss: s.firstLoss, lastLoss: s.lastLoss, before, after, table };
  });
  if (o.until === 'geometry') return;

  await stage(o, 'sft', async () => {
    const evalQs = await readRecords(p.evalQuestions);
    writeRecordsAtomic(
      p.curveQuestions,
      evalQs.filter((_, i) => i % 3 === 0),
    );
    const conversations = (await readRecords(p.sftData)) as Partial<Conversation>[];
    writeRecordsAtomic(p.sftMix, weightedMix(conversations, o.sftMix ?? SFT_MIX));
    const s = await runSft(
      {
        model: join(p.geometry, 'model'),
        data: p.sftMix,
        media: p.train,
        out: p.sft,
        epochs: 1,
        maxSteps: o.sftSteps,
        seed: 42,
        saveEvery: 10,
        threads: o.threads,
        cacheEncoders: true,
        // One lane per thread fills the cache before the first step (9 instead of ~26 min on 2 cores).
        encoderLanes: o.threads,
        evalData: p.curveQuestions,
        evalMedia: p.eval,
        evalEvery: o.sftEvalEvery,
        video: videoArgs(o),
        hyper: {
          lr: o.sftLr,
          projectorLr: o.sftProjectorLr ?? o.sftLr,
          weightDecay: 0.01,
          betas: [0.9, 0.98],
          eps: 1e-8,
          schedule: 'cosine',
          warmupRatio: 0.03,
          maxGradNorm: 1,
          gradAccum: 4,
        },
        log,
      },
      deps,
    );
    return { steps: s.steps, lastLoss: s.lastLoss, curve: s.evalScores?.overall };
  });
  if (o.until === 'sft') return;

  await stage(o, 'grpo', async () => {
    const s = await runGrpo({
      model: join(p.sft, 'model'),
      data: p.sftData,
      media: p.train,
      out: p.grpo,
      epochs: 1,
      maxSteps: o.grpoSteps,
      seed: 43,
      saveEvery: 2,
      threads: o.threads,
      // The SFT stage's cache: GRPO starts from the SFT model, whose encoders are the geometry stage's.
      cacheEncoders: join(p.sft, 'encoder_cache'),
      video: videoArgs(o),
      hyper: {
        // 1/20 of the SFT rate: at 2e-5 (the previous recipe) 20 steps left the SFT model unchanged.
        lr: 5e-5,
        projectorLr: 5e-5,
        weightDecay: 0,
        betas: [0.9, 0.999],
        eps: 1e-8,
        schedule: 'constant',
        warmupRatio: 0,
        maxGradNorm: 1,
        gradAccum: 1,
      },
      grpo: {
        groupSize: 4,
        beta: 0.04,
        epsilon: 0.2,
        lossNorm: 'sequence',
        scaleRewards: true,
        maxCompletionLength: 8,
        temperature: 1,
        promptsPerStep: 4,
      },
      log,
    });
    return { steps: s.steps, rewards: s.rewards };
  });
  if (o.until === 'grpo') return;

  const runs = evalRuns(o.out).filter((r) => !o.evalRuns || o.evalRuns.includes(r.name));
  for (const r of runs)
    await stage(o, `eval_${r.name}`, async () => {
      await evalBenchmark(
        'vsibench',
        {
          model: r.model,
          data: p.evalQuestions,
          videos: p.eval,
          subset: 'full',
          out: join(p.evals, r.name),
          frames: o.frames,
          sampling: r.sampling ?? 'uniform',
          // The prompt the model was trained with (src/data/qa/format.ts: question, Options:, instruction).
          prompt: 'spatial-mllm',
          blind: r.blind,
          progress: false,
        },
        deps,
      );
      return { report: join(p.evals, r.name, 'report.json') };
    });
  const table = evalTable(o.out, runs);
  writeFileSync(join(p.evals, 'table.md'), table);
  log(table);
  const gaps = comparisonTable(o.out);
  writeFileSync(join(p.evals, 'comparisons.md'), gaps);
  log(gaps);
  if (o.publish) {
    // The recipe's last model, whatever the table says: picking by the evaluation rooms would tune on them.
    rmSync(o.publish, { recursive: true, force: true });
    cpSync(join(p.grpo, 'model'), o.publish, { recursive: true });
    log(`[publish] ${join(p.grpo, 'model')} → ${o.publish}`);
  }
}

interface EvalRun {
  name: string;
  label: string;
  model: string;
  sampling?: 'uniform' | 'space-aware';
  blind?: boolean;
}

export function evalRuns(out: string): EvalRun[] {
  const p = paths(out);
  const sft = `spatial-mllm:${join(p.sft, 'model')}`;
  const grpo = `spatial-mllm:${join(p.grpo, 'model')}`;
  return [
    { name: 'chance', label: 'baseline:chance', model: 'baseline:chance' },
    { name: 'frequency', label: 'baseline:frequency', model: 'baseline:frequency' },
    { name: 'sft', label: 'small SFT, uniform', model: sft },
    { name: 'sft_blind', label: 'small SFT, blind (grey frames)', model: sft, blind: true },
    { name: 'grpo', label: 'small SFT+GRPO, uniform', model: grpo },
    { name: 'grpo_blind', label: 'small SFT+GRPO, blind', model: grpo, blind: true },
    { name: 'grpo_sa', label: 'small SFT+GRPO, space-aware', model: grpo, sampling: 'space-aware' },
  ];
}

const markdownTable = (head: string[], rows: string[][]) =>
  [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n') + '\n';

/** The README's comparisons of two runs on the same questions: [label, A, B] by eval run name. */
const COMPARISONS: readonly [string, string, string][] = [
  ['SFT: video − blind', 'sft', 'sft_blind'],
  ['SFT+GRPO: video − blind', 'grpo', 'grpo_blind'],
  ['SFT+GRPO − SFT', 'grpo', 'sft'],
  ['SFT+GRPO: space-aware − uniform', 'grpo_sa', 'grpo'],
  ['SFT+GRPO − frequency baseline', 'grpo', 'frequency'],
];

/**
 * Paired differences in points with 95% intervals (src/eval/paired.ts) for the comparisons whose two runs exist:
 * the evaluation has one question per task type per room, so a task's score rests on a few dozen questions.
 */
export function comparisonTable(out: string): string {
  const results = (name: string) => {
    const file = join(paths(out).evals, name, 'results.jsonl');
    return existsSync(file) ? readResults(file, 'vsibench').records : undefined;
  };
  const head = ['comparison (points, ± 95%)', ...TASKS, 'overall (macro)'];
  const rows = COMPARISONS.flatMap(([label, a, b]) => {
    const [ra, rb] = [results(a), results(b)];
    if (!ra || !rb) return [];
    const d = pairedDiff(ra, rb);
    return [[label, ...TASKS.map((t) => diffText(d.tasks[t])), diffText(d.macro)]];
  });
  return markdownTable(head, rows);
}

/** The README table: one row per run, VSI-Bench task scores (official metrics) and both overall means. */
export function evalTable(out: string, runs: readonly EvalRun[]): string {
  const head = ['model', ...TASKS, 'overall (macro)', 'overall (micro)'];
  const rows = runs.flatMap((r) => {
    const file = join(paths(out).evals, r.name, 'report.json');
    if (!existsSync(file)) return [];
    const v = (JSON.parse(readFileSync(file, 'utf8')) as Report).vsibench;
    if (!v) return [];
    // Reports give scores in percent already.
    const pct = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(1));
    return [
      [r.label, ...TASKS.map((t) => pct(v.tasks[t]?.score)), pct(v.overall.macro), pct(v.overall.micro)],
    ];
  });
  return markdownTable(head, rows);
}
