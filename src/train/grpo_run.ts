// `spatial-mllm train grpo`: a resumable GRPO run in an output folder, laid out like an SFT run (settings.json,
// state.safetensors, train.jsonl with per-step reward mean/std per task type, KL, clip fraction and completion
// length, train.svg, the trained model at the end). Prompts stream through the records in seeded per-epoch
// permutations; sampling seeds derive from the step, so a resumed run draws the same completions.
import { type ExportResult, exportSft } from './export.ts';
import { type GrpoHyperparameters, type GrpoPrompt, GrpoTrainer } from './grpo.ts';
import { type LogRecord, noteSkipped, Progress, RunFolder } from './run_log.ts';
import { SftModel } from './sft.ts';
import { readSftRecords } from './sft_data.ts';
import {
  encoderCacheDir,
  microBatchRecord,
  runSettings,
  type SftRunOptions,
  totalStepsOf,
  withRecordedCheckpointing,
} from './sft_run.ts';

export interface GrpoRunOptions
  extends Omit<SftRunOptions, 'evalData' | 'evalEvery' | 'evalMedia' | 'evalLimit'> {
  grpo: GrpoHyperparameters;
}

export interface GrpoRunSummary {
  steps: number;
  resumedFrom: number;
  rewards: number[];
  exported: ExportResult;
}

export async function runGrpo(given: GrpoRunOptions): Promise<GrpoRunSummary> {
  const o = withRecordedCheckpointing(given);
  const log = o.log ?? ((s: string) => process.stderr.write(s));
  const records = readSftRecords(o.data, o.media);
  const P = o.grpo.promptsPerStep;
  const totalSteps = totalStepsOf(o, records.length, P);
  const model = await SftModel.load(o.model, {
    ...o,
    hyper: { ...o.hyper, gradAccum: 1, totalSteps },
    encoderCache: encoderCacheDir(o),
    head: GrpoTrainer.head(o.grpo),
  });
  const grpo = new GrpoTrainer(model, o.grpo);
  try {
    const prompts: GrpoPrompt[] = [];
    for (const r of records) prompts.push(grpo.prompt(await model.loadExample(r)));
    const run = new RunFolder(o.out, { ...runSettings(o, totalSteps), grpo: o.grpo }, model.trainer, [
      'reward_mean',
      'kl',
      'completion_length',
      'clip_fraction',
    ]);
    if (run.resumedFrom > 0) log(`resuming ${o.out} at step ${run.resumedFrom}/${totalSteps}\n`);
    const progress = new Progress(totalSteps, run.resumedFrom, log, o.log ? false : undefined);
    const rewards: number[] = [];
    for (let step = run.resumedFrom; step < totalSteps; step++) {
      const started = Date.now();
      const batch = Array.from(
        { length: P },
        (_, j) => prompts[microBatchRecord(step * P + j, records.length, o.seed)],
      );
      const r = await grpo.step(batch, (o.seed * 1_000_003 + step) >>> 0);
      rewards.push(r.rewardMean);
      const entry: LogRecord = {
        step: r.step,
        loss: r.loss,
        reward_mean: r.rewardMean,
        reward_std: r.rewardStd,
        reward: r.byTask,
        format_reward: r.formatMean,
        accuracy_reward: r.accuracyMean,
        kl: r.kl,
        clip_fraction: r.clipFraction,
        completion_length: r.completionLength,
        grad_norm: r.gradNorm,
        lr: r.lr,
        seconds: (Date.now() - started) / 1000,
        samples: batch.map((b) => b.example.record.id),
        example_completion: r.rollouts[0]?.text,
      };
      noteSkipped(entry, r.skipped, model.trainer.skippedSteps, log);
      run.record(entry, o.saveEvery, totalSteps);
      progress.update(r.step, {
        reward: r.rewardMean.toFixed(3),
        kl: r.kl.toExponential(2),
        len: r.completionLength.toFixed(1),
      });
    }
    progress.end();
    run.drawCurves();
    const exported = await exportSft(model, o.out, { merge: o.merge });
    return { steps: model.trainer.stepsDone, resumedFrom: run.resumedFrom, rewards, exported };
  } finally {
    await grpo.release();
    await model.release();
  }
}
