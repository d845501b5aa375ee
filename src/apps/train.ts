// `spatial-mllm train sft|grpo|geometry|small`: CLI options → the training runs of src/train, with a summary on stderr.
import { geometryFigures, geometryTable } from '../train/geometry_eval.ts';
import { GEOMETRY_HYPER, runGeometry } from '../train/geometry_run.ts';
import { runGrpo } from '../train/grpo_run.ts';
import { runSft } from '../train/sft_run.ts';
import { runSmallRecipe, SMALL_RECIPE_DEFAULTS } from '../train/small/recipe.ts';
import { evalDeps } from './eval_deps.ts';
import { resolveModelDir } from './model_name.ts';

export interface TrainCommonOptions {
  model: string;
  data: string;
  media: string;
  out: string;
  maxSteps?: number;
  epochs: number;
  seed: number;
  saveEvery: number;
  evalData?: string;
  evalEvery?: number;
  evalMedia?: string;
  evalLimit?: number;
  loraRank?: number;
  loraAlpha?: number;
  frozenDtype: 'float32' | 'int4' | 'int8';
  merge?: boolean;
  threads?: number;
  encoderCache: boolean;
  gradientCheckpointing?: boolean;
  frames: number;
  minFrames?: number;
  maxFrames?: number;
  minPixels: number;
  maxPixels: number;
  frameFps: number;
  baseInterval: number;
}

export interface GrpoCliOptions extends TrainCommonOptions {
  lr: number;
  projectorLr?: number;
  weightDecay: number;
  maxGradNorm: number;
  groupSize: number;
  beta: number;
  epsilon: number;
  lossNorm: 'sequence' | 'token' | 'dapo' | 'dr_grpo';
  scaleRewards: boolean;
  maxCompletionLength: number;
  temperature: number;
  promptsPerStep: number;
}

export interface SmallCliOptions {
  out: string;
  trainScenes?: number;
  evalScenes?: number;
  visionSteps?: number;
  geometrySteps?: number;
  sftSteps?: number;
  grpoSteps?: number;
  blindEvery?: number;
  encodersFrom?: string;
  publish?: string;
  threads?: number;
}

export interface SftCliOptions extends TrainCommonOptions {
  lr: number;
  projectorLr: number;
  weightDecay: number;
  warmupRatio: number;
  scheduler: 'cosine' | 'linear' | 'constant';
  maxGradNorm: number;
  gradAccum: number;
}

/** Run options shared by SFT and GRPO. */
export function commonRunOptions(o: TrainCommonOptions) {
  return {
    model: o.model,
    data: o.data,
    media: o.media,
    out: o.out,
    epochs: o.epochs,
    maxSteps: o.maxSteps,
    seed: o.seed,
    saveEvery: o.saveEvery,
    evalData: o.evalData,
    evalEvery: o.evalEvery,
    evalMedia: o.evalMedia,
    evalLimit: o.evalLimit,
    merge: o.merge,
    threads: o.threads,
    cacheEncoders: o.encoderCache,
    lora: o.loraRank ? { rank: o.loraRank, alpha: o.loraAlpha, seed: o.seed } : undefined,
    frozenQuant: o.frozenDtype === 'float32' ? undefined : o.frozenDtype,
    gradientCheckpointing: o.gradientCheckpointing,
    video: {
      baseInterval: o.baseInterval,
      minFrames: o.minFrames ?? o.frames,
      maxFrames: o.maxFrames ?? o.frames,
      minPixels: o.minPixels,
      maxPixels: o.maxPixels,
      frameFps: o.frameFps,
    },
  };
}

export async function runSftCommand(o: SftCliOptions): Promise<void> {
  const summary = await runSft(
    {
      ...commonRunOptions(o),
      hyper: {
        lr: o.lr,
        projectorLr: o.projectorLr,
        weightDecay: o.weightDecay,
        betas: [0.9, 0.999],
        eps: 1e-8,
        schedule: o.scheduler,
        warmupRatio: o.warmupRatio,
        maxGradNorm: o.maxGradNorm,
        gradAccum: o.gradAccum,
      },
    },
    evalDeps,
  );
  const where = [summary.exported.model, summary.exported.adapter].filter(Boolean).join(' and ');
  process.stderr.write(
    `done: ${summary.steps} steps${summary.resumedFrom ? ` (resumed at ${summary.resumedFrom})` : ''}` +
      `${summary.lastLoss !== undefined ? `, last loss ${summary.lastLoss.toFixed(4)}` : ''}` +
      `${summary.evalLoss !== undefined ? `, eval loss ${summary.evalLoss.toFixed(4)}` : ''}` +
      `${summary.evalScores ? `, held-out score ${summary.evalScores.overall.toFixed(2)}` : ''}; wrote ${where}\n`,
  );
}

export async function runGrpoCommand(o: GrpoCliOptions): Promise<void> {
  const summary = await runGrpo({
    ...commonRunOptions(o),
    hyper: {
      lr: o.lr,
      projectorLr: o.projectorLr ?? o.lr,
      weightDecay: o.weightDecay,
      betas: [0.9, 0.999],
      eps: 1e-8,
      schedule: 'constant',
      warmupRatio: 0,
      maxGradNorm: o.maxGradNorm,
      gradAccum: 1,
    },
    grpo: {
      groupSize: o.groupSize,
      beta: o.beta,
      epsilon: o.epsilon,
      lossNorm: o.lossNorm,
      scaleRewards: o.lossNorm === 'dr_grpo' ? false : o.scaleRewards,
      maxCompletionLength: o.maxCompletionLength,
      temperature: o.temperature,
      promptsPerStep: o.promptsPerStep,
    },
  });
  const first = summary.rewards[0];
  const last = summary.rewards[summary.rewards.length - 1];
  process.stderr.write(
    `done: ${summary.steps} steps${first !== undefined ? `, mean reward ${first.toFixed(3)} → ${last.toFixed(3)}` : ''}; ` +
      `wrote ${[summary.exported.model, summary.exported.adapter].filter(Boolean).join(' and ')}\n`,
  );
}

export async function runSmallCommand(o: SmallCliOptions): Promise<void> {
  const d = SMALL_RECIPE_DEFAULTS;
  await runSmallRecipe(
    {
      ...d,
      out: o.out,
      trainScenes: o.trainScenes ?? d.trainScenes,
      evalScenes: o.evalScenes ?? d.evalScenes,
      visionSteps: o.visionSteps ?? d.visionSteps,
      geometrySteps: o.geometrySteps ?? d.geometrySteps,
      sftSteps: o.sftSteps ?? d.sftSteps,
      grpoSteps: o.grpoSteps ?? d.grpoSteps,
      blindEvery: o.blindEvery ?? d.blindEvery,
      ...(o.encodersFrom ? { encodersFrom: resolveModelDir(o.encodersFrom) } : {}),
      publish: o.publish,
      threads: o.threads ?? d.threads,
    },
    evalDeps,
  );
}

export interface GeometryCliOptions {
  model: string;
  data: string;
  out: string;
  steps: number;
  frames: number;
  lr: number;
  seed: number;
  saveEvery: number;
  evalData?: string;
  threads?: number;
}

export async function runGeometryCommand(o: GeometryCliOptions): Promise<void> {
  const s = await runGeometry({ ...o, hyper: { ...GEOMETRY_HYPER, lr: o.lr } });
  process.stderr.write(
    `done: ${s.steps} steps${s.resumedFrom ? ` (resumed at ${s.resumedFrom})` : ''}` +
      `${s.lastLoss !== undefined ? `, loss ${s.firstLoss?.toFixed(4)} → ${s.lastLoss.toFixed(4)}` : ''}; wrote ${s.model}\n`,
  );
  if (!o.evalData) return;
  const figures = { picks: o.frames, threads: o.threads };
  const before = await geometryFigures(o.model, o.evalData, figures);
  const after = await geometryFigures(s.model, o.evalData, figures);
  process.stdout.write(`${geometryTable(before, after)}\n`);
}
