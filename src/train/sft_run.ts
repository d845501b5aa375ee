// `spatial-mllm train sft`: a resumable SFT run in an output folder.
//   settings.json        the run's options (a rerun must match them; it then resumes);
//   state.safetensors    trainable weights, AdamW moments and the step (written atomically every --save-every steps);
//   train.jsonl, train.svg   per-step log and its curves;
//   eval/step-N/         the evaluation harness's run on a held-out benchmark at step N (heldout.ts);
//   model/ (adapter/)    the trained model as a Hugging Face folder (a PEFT adapter for LoRA), at the end.
// Killing the process at any moment loses at most the steps since the last state; the rerun cuts the log back to
// that step and continues with the same data order, so its weights are bit-identical to an uninterrupted run.
// Data order: micro-batches stream through the records epoch after epoch, each epoch in a seeded permutation
// (upstream shuffles once with Python's random.seed(42), then the HF sampler reshuffles per epoch with torch's
// generator; neither stream is reproduced).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AdapterDeps } from '../eval/adapter.ts';
import { type ExportResult, exportSft } from './export.ts';
import { BENCHMARK_CURVES, type BenchmarkScores, benchmarkScores, readHeldOut } from './heldout.ts';
import { Rng } from './rng.ts';
import { type LogRecord, noteSkipped, Progress, RunFolder } from './run_log.ts';
import { gradientCheckpointingOf, SftModel, type SftOptions } from './sft.ts';
import { readSftRecords } from './sft_data.ts';
import type { SftExample } from './sft_example.ts';

export interface SftRunOptions extends Omit<SftOptions, 'hyper' | 'keepGradients'> {
  model: string;
  data: string;
  media: string;
  out: string;
  hyper: Omit<SftOptions['hyper'], 'totalSteps'>;
  epochs: number;
  /** Stop after this many optimizer steps (also the schedule length when given). */
  maxSteps?: number;
  seed: number;
  saveEvery: number;
  /**
   * Held-out data scored every `evalEvery` steps and at the last step: conversations (mean answer-token loss), or
   * a VSI-Bench-layout benchmark (loss, and the evaluation harness's metrics; heldout.ts).
   */
  evalData?: string;
  evalEvery?: number;
  /** Root of the held-out benchmark's videos (default: the benchmark folder, or --media for a question file). */
  evalMedia?: string;
  /** Only the first N held-out questions / conversations. */
  evalLimit?: number;
  /** LoRA: also write the merged full model. */
  merge?: boolean;
  /**
   * Cache frozen-encoder outputs under <out>/encoder_cache (default true), or in the folder given: runs whose
   * encoders are equal share one (the key is the encoder weights' digest, src/train/frozen_encoders.ts).
   */
  cacheEncoders?: boolean | string;
  /**
   * Fill the encoder cache before the first step, this many videos at a time (FrozenEncoders.fill); 1 (default) =
   * inline, as the steps need them. Each lane holds its own copy of the encoders: for the tiny models only.
   */
  encoderLanes?: number;
  log?: (s: string) => void;
}

/** Where a run caches its frozen-encoder outputs (none when caching is off). */
export function encoderCacheDir(o: { out: string; cacheEncoders?: boolean | string }): string | undefined {
  if (o.cacheEncoders === false) return undefined;
  return typeof o.cacheEncoders === 'string' ? o.cacheEncoders : join(o.out, 'encoder_cache');
}

export interface SftRunSummary {
  steps: number;
  resumedFrom: number;
  lastLoss?: number;
  evalLoss?: number;
  /** The last benchmark evaluation (a benchmark --eval-data). */
  evalScores?: BenchmarkScores;
  exported: ExportResult;
}

/** Record index of global micro-batch `i`: epoch floor(i / n) in its seeded permutation. */
export function microBatchRecord(i: number, n: number, seed: number): number {
  const epoch = Math.floor(i / n);
  const rng = new Rng((Math.imul(seed, 0x9e3779b1) + epoch) >>> 0);
  const order = Array.from({ length: n }, (_, k) => k);
  for (let k = n - 1; k > 0; k--) {
    const j = rng.int(k + 1);
    [order[k], order[j]] = [order[j], order[k]];
  }
  return order[i % n];
}

/** The options that define a run (a resume must match them). */
export function runSettings(o: SftRunOptions, totalSteps: number): Record<string, unknown> {
  return {
    model: resolve(o.model),
    data: resolve(o.data),
    media: resolve(o.media),
    hyper: o.hyper,
    totalSteps,
    epochs: o.epochs,
    seed: o.seed,
    video: o.video ?? null,
    lora: o.lora ?? null,
    frozenQuant: o.frozenQuant ?? null,
    // A run started before this setting was recorded resumes without it (it changes no result).
    ...(legacyRun(o.out) ? {} : { gradientCheckpointing: gradientCheckpointingOf(o) }),
  };
}

const settingsPath = (out: string) => join(out, 'settings.json');

const legacyRun = (out: string) => {
  const recorded = recordedSettings(out);
  return recorded !== undefined && !('gradientCheckpointing' in recorded);
};

/** The settings of the run already in `out`, if any. */
const recordedSettings = (out: string): Record<string, unknown> | undefined =>
  existsSync(settingsPath(out)) ? JSON.parse(readFileSync(settingsPath(out), 'utf8')) : undefined;

/**
 * `o` with the run folder's own --[no-]gradient-checkpointing when the rerun does not give one (a run started
 * without the default keeps its setting on resume).
 */
export function withRecordedCheckpointing<T extends SftRunOptions>(o: T): T {
  if (o.gradientCheckpointing !== undefined) return o;
  const recorded = recordedSettings(o.out)?.gradientCheckpointing;
  return typeof recorded === 'boolean' ? { ...o, gradientCheckpointing: recorded } : o;
}

/** Steps of a run: --max-steps, else enough optimizer steps for the epochs. */
export const totalStepsOf = (
  o: Pick<SftRunOptions, 'maxSteps' | 'epochs'>,
  records: number,
  perStep: number,
) => o.maxSteps ?? Math.max(1, Math.ceil((o.epochs * records) / perStep));

/** `deps`: the app's model adapter, which a benchmark --eval-data is answered with. */
export async function runSft(given: SftRunOptions, deps: AdapterDeps = {}): Promise<SftRunSummary> {
  const o = withRecordedCheckpointing(given);
  const log = o.log ?? ((s: string) => process.stderr.write(s));
  // Every record (and the held-out data) is checked before anything is written.
  const records = readSftRecords(o.data, o.media);
  const heldOut = o.evalData
    ? await readHeldOut(o.evalData, { media: o.media, evalMedia: o.evalMedia, limit: o.evalLimit })
    : undefined;
  const ga = o.hyper.gradAccum;
  const totalSteps = totalStepsOf(o, records.length, ga);
  const model = await SftModel.load(o.model, {
    ...o,
    hyper: { ...o.hyper, totalSteps },
    encoderCache: encoderCacheDir(o),
  });
  try {
    // Examples (token ids, positions) are built once per record; frames decode only when the cache misses.
    const examples: SftExample[] = [];
    for (const r of records) examples.push(await model.loadExample(r));
    const evalExamples: SftExample[] = [];
    for (const r of heldOut?.records ?? []) evalExamples.push(await model.loadExample(r));
    if ((o.encoderLanes ?? 1) > 1) {
      // The count of videos to encode is known once fill has looked at the cache.
      let filling: Progress | undefined;
      await model.frozen.fill(examples, o.encoderLanes!, (done, of) => {
        filling ??= new Progress(of, 0, log, o.log ? false : undefined);
        if (done % 50 === 0 || done === of) filling.update(done, { 'encoder cache': `${of} videos` });
      });
      filling?.end();
    }

    const run = new RunFolder(o.out, runSettings(o, totalSteps), model.trainer, [
      'loss',
      'eval_loss',
      'grad_norm',
      'lr.decay',
      ...(heldOut?.kind === 'benchmark' ? BENCHMARK_CURVES : []),
    ]);
    const resumedFrom = run.resumedFrom;
    if (resumedFrom > 0) log(`resuming ${o.out} at step ${resumedFrom}/${totalSteps}\n`);
    const frames = o.video?.maxFrames ?? 16;

    const progress = new Progress(totalSteps, resumedFrom, log, o.log ? false : undefined);
    let lastLoss: number | undefined;
    const lastEval = [...run.history].reverse().find((r) => r.eval_loss !== undefined);
    let evalLoss = lastEval?.eval_loss as number | undefined;
    let evalScores = lastEval?.eval as BenchmarkScores | undefined;
    for (let step = resumedFrom; step < totalSteps; step++) {
      const started = Date.now();
      const batch: SftExample[] = [];
      for (let j = 0; j < ga; j++)
        batch.push(examples[microBatchRecord(step * ga + j, records.length, o.seed)]);
      const r = await model.step(batch);
      lastLoss = r.loss;
      const entry: LogRecord = {
        step: r.step,
        epoch: (step * ga) / records.length,
        loss: r.loss,
        micro_losses: r.microLosses,
        label_tokens: r.labelTokens,
        grad_norm: r.gradNorm,
        clip_coef: r.clipCoef,
        lr: r.lr,
        encoder_cache_hits: r.frozenCached,
        seconds: (Date.now() - started) / 1000,
        samples: batch.map((b) => b.record.id),
      };
      noteSkipped(entry, r.skipped, model.trainer.skippedSteps, log);
      if (heldOut && (r.step === totalSteps || (o.evalEvery && r.step % o.evalEvery === 0))) {
        entry.eval_loss = evalLoss = await model.evalLoss(evalExamples);
        if (heldOut.kind === 'benchmark') {
          entry.eval = evalScores = await benchmarkScores(model, heldOut, {
            out: o.out,
            step: r.step,
            frames,
            deps,
          });
          if (evalScores.failed)
            log(
              `step ${r.step}: ${evalScores.failed} held-out questions failed (see ${join(o.out, 'eval')})\n`,
            );
        }
      }
      run.record(entry, o.saveEvery, totalSteps);
      progress.update(r.step, {
        loss: r.loss.toFixed(4),
        ...(entry.eval_loss !== undefined ? { eval: (entry.eval_loss as number).toFixed(4) } : {}),
        ...(entry.eval ? { score: evalScores!.overall.toFixed(1) } : {}),
        lr: (r.lr.decay ?? 0).toExponential(2),
      });
    }
    progress.end();
    run.drawCurves();
    const exported = await exportSft(model, o.out, { merge: o.merge });
    return { steps: model.trainer.stepsDone, resumedFrom, lastLoss, evalLoss, evalScores, exported };
  } finally {
    await model.release();
  }
}
