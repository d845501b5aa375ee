// GRPO: the reward functions, group advantages and loss normalisations on hand-checked values, and a run on a
// tiny checkpoint that must raise the mean reward of a task whose answer is checkable (free-form, Levenshtein
// ratio against "the"; one-token completions, so every rollout gets a graded reward).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { maxRelError } from '../../bench/support/compare.ts';
import { f32, i64 } from '../../src/tensor.ts';
import { GrpoTrainer, groupAdvantages, lossDenominators, PAPER_GRPO } from '../../src/train/grpo.ts';
import { runGrpo } from '../../src/train/grpo_run.ts';
import { IGNORE_INDEX } from '../../src/train/losses.ts';
import { accuracyReward, formatReward, levenshteinRatio, reward, taskKind } from '../../src/train/rewards.ts';
import { Rng } from '../../src/train/rng.ts';
import { SftModel, UPSTREAM_SFT } from '../../src/train/sft.ts';
import { readSftRecords } from '../../src/train/sft_data.ts';
import { runCli, tinyModels, toyArgs, writeToyData } from './sft_toy.ts';

const VIDEO = { baseInterval: 2, minFrames: 4, maxFrames: 4, minPixels: 3136, maxPixels: 3136, frameFps: 4 };

describe('GRPO rewards', () => {
  test('format: <think>…</think><answer>…</answer> and nothing else', () => {
    assert.equal(formatReward('<think>the sofa is left</think> <answer>B</answer>'), 1);
    assert.equal(formatReward('<think>x</think><answer>B</answer> extra'), 0);
    assert.equal(formatReward('<answer>B</answer>'), 0);
  });

  test('accuracy by task kind: exact option, MRA, Levenshtein ratio', () => {
    assert.equal(taskKind('B'), 'multiple_choice');
    assert.equal(taskKind('3.5'), 'numeric');
    assert.equal(taskKind('a brown sofa'), 'free_form');
    assert.equal(taskKind('2', 'object_rel_direction_easy'), 'multiple_choice');
    assert.equal(accuracyReward('<think>…</think><answer>B</answer>', 'B', 'multiple_choice'), 1);
    assert.equal(accuracyReward('<answer>C</answer>', 'B', 'multiple_choice'), 0);
    // |4.6 − 5| / 5 = 0.08 < 1 − θ for θ ∈ {0.5 … 0.9}: 9 of 10 thresholds.
    assert.equal(accuracyReward('<answer>4.6</answer>', '5', 'numeric'), Math.fround(0.9));
    // python-Levenshtein ratio('kitten', 'sitting') = 1 − 5/13 (InDel distance 5).
    assert.equal(levenshteinRatio('kitten', 'sitting'), 8 / 13);
    assert.equal(accuracyReward('<answer>a brown sofa</answer>', 'a brown sofa', 'free_form'), 1);
    assert.deepEqual(reward('<think>.</think><answer>B</answer>', 'B', 'multiple_choice'), {
      format: 1,
      accuracy: 1,
      total: 2,
    });
  });

  test('group advantages (unbiased std + 1e-4) and loss denominators', () => {
    const a = groupAdvantages([1, 0, 0, 1], true);
    const std = Math.sqrt(1 / 3);
    assert.deepEqual(a, [0.5 / (std + 1e-4), -0.5 / (std + 1e-4), -0.5 / (std + 1e-4), 0.5 / (std + 1e-4)]);
    assert.deepEqual(groupAdvantages([2, 0], false), [1, -1]);
    const counts = [
      [2, 4],
      [3, 1],
    ];
    assert.deepEqual(lossDenominators(counts, 'sequence', 10), [
      [8, 16],
      [12, 4],
    ]);
    assert.deepEqual(lossDenominators(counts, 'token', 10), [
      [12, 12],
      [8, 8],
    ]);
    assert.deepEqual(lossDenominators(counts, 'dapo', 10), [
      [10, 10],
      [10, 10],
    ]);
    assert.deepEqual(lossDenominators(counts, 'dr_grpo', 10), [
      [40, 40],
      [40, 40],
    ]);
  });
});

for (const { dir: model, name } of tinyModels().slice(0, 1))
  test(`GRPO raises the mean reward of a checkable task on a tiny checkpoint (${name})`, {
    timeout: 300_000,
  }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'grpo-'));
    const { data, media } = writeToyData(dir, 2);
    const records = readFileSync(data, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const r of records) r.conversations[1].value = 'the';
    writeFileSync(data, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const s = await runGrpo({
      model,
      data,
      media,
      out: join(dir, 'run'),
      hyper: {
        ...UPSTREAM_SFT,
        lr: 1e-2,
        projectorLr: 1e-2,
        weightDecay: 0,
        warmupRatio: 0,
        schedule: 'constant',
        gradAccum: 1,
      },
      video: VIDEO,
      grpo: { ...PAPER_GRPO, maxCompletionLength: 1 },
      epochs: 1,
      maxSteps: 16,
      seed: 0,
      saveEvery: 16,
      threads: 1,
      log: () => {},
    });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const [first, last] = [mean(s.rewards.slice(0, 4)), mean(s.rewards.slice(-4))];
    t.diagnostic(`mean reward ${first.toFixed(3)} (steps 1-4) → ${last.toFixed(3)} (steps 13-16)`);
    assert.ok(last >= first + 0.3, `reward ${first} → ${last}`);
    const log = readFileSync(join(dir, 'run', 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(log.length, 16);
    for (const r of log) {
      assert.ok(r.reward.free_form.n === 8 && Number.isFinite(r.kl) && r.completion_length === 1);
      assert.ok(r.clip_fraction === 0, 'one optimizer step per batch of rollouts: the ratio is 1');
    }
    assert.equal(log[0].kl, 0, 'the first step samples from the reference itself');
    assert.ok(log[15].kl > 0);
  });

for (const { dir: model, name } of tinyModels().slice(0, 1)) {
  test(`GRPO rollouts: the KV-cache decoder gives the training graph's next-token logits (${name})`, {
    timeout: 120_000,
  }, async (t) => {
    const { data, media } = writeToyData(mkdtempSync(join(tmpdir(), 'grpo-kv-')), 1);
    const sft = await SftModel.load(model, {
      hyper: { ...UPSTREAM_SFT, totalSteps: 1 },
      video: VIDEO,
      lora: { rank: 4 },
      frozenQuant: 'int4',
      head: GrpoTrainer.head(PAPER_GRPO),
      threads: 1,
    });
    const grpo = new GrpoTrainer(sft, PAPER_GRPO);
    try {
      // Adapters away from their zero init, so that the comparison covers them.
      const rng = new Rng(5);
      for (const [n, w] of sft.trainer.parameters()) {
        if (!n.includes('lora_B')) continue;
        const a = w.data as Float32Array;
        for (let i = 0; i < a.length; i++) a[i] = 0.1 * rng.uniform() - 0.05;
      }
      const p = grpo.prompt(await sft.loadExample(readSftRecords(data, media)[0]));
      const ids = [...p.promptIds];
      const next = await grpo.policyLogits(p);
      let cached = await next(-1);
      let worst = 0;
      for (const token of [...sft.tokenizer.encode(' on the left'), -1]) {
        const ref = await grpo.recomputeLogits(p, ids);
        let diff = 0;
        let scale = 0;
        ref.forEach((v, i) => {
          diff = Math.max(diff, Math.abs(cached[i] - v));
          scale = Math.max(scale, Math.abs(v));
        });
        worst = Math.max(worst, diff / scale);
        if (token < 0) break;
        ids.push(token);
        cached = await next(token);
      }
      t.diagnostic(
        `${ids.length - p.promptIds.length + 1} positions, max |diff|/max|ref| ${worst.toExponential(2)}`,
      );
      assert.ok(worst <= 1e-4, `KV-cache logits differ by ${worst} (relative)`);
    } finally {
      await grpo.release();
      await sft.release();
    }
  });

  test(`GRPO graph: logits at the completion only = logits everywhere (loss, outputs, gradients) (${name})`, {
    timeout: 120_000,
  }, async (t) => {
    const { data, media } = writeToyData(mkdtempSync(join(tmpdir(), 'grpo-rows-')), 1);
    const load = (allLogits: boolean) =>
      SftModel.load(model, {
        hyper: { ...UPSTREAM_SFT, totalSteps: 1 },
        video: VIDEO,
        head: GrpoTrainer.head(PAPER_GRPO),
        keepGradients: true,
        allLogits,
        threads: 1,
      });
    const [rows, all] = [await load(false), await load(true)];
    try {
      const ex = await rows.loadExample(readSftRecords(data, media)[0]);
      const p = new GrpoTrainer(rows, PAPER_GRPO).prompt(ex);
      const ids = [...p.promptIds, ...rows.tokenizer.encode(' on the left')];
      const S = ids.length;
      const start = p.promptIds.length - 1;
      const rng = new Rng(9);
      const { feeds } = await rows.sequenceFeeds(ex, ids);
      feeds.labels = i64(
        [1, S],
        ids.map((_, i) => (i >= start && i < S - 1 ? ids[i + 1] : IGNORE_INDEX)),
      );
      // Old and reference log-probs away from the policy's, so that ratio, clip and KL all take part.
      const near = () =>
        f32(
          [1, S],
          Array.from({ length: S }, () => -2 - 2 * rng.uniform()),
        );
      feeds.old_logprobs = near();
      feeds.ref_logprobs = near();
      feeds.advantage = f32([], [0.7]);
      feeds.loss_denominator = f32([], [3]);
      const [a, b] = [await rows.trainer.step([feeds]), await all.trainer.step([feeds])];
      let worst = maxRelError(a.losses, b.losses);
      for (const k of ['token_logprobs', 'kl_sum', 'clipped_sum', 'last_logits'])
        worst = Math.max(
          worst,
          maxRelError(a.outputs[0][k].data as Float32Array, b.outputs[0][k].data as Float32Array),
        );
      assert.ok(a.gradients && b.gradients && a.gradients.size === b.gradients.size);
      for (const [n, g] of a.gradients)
        worst = Math.max(
          worst,
          maxRelError(g.data as Float32Array, b.gradients.get(n)!.data as Float32Array),
        );
      t.diagnostic(
        `${S - 1 - start} completion tokens of ${S}: max relative difference ${worst.toExponential(2)}`,
      );
      assert.ok(worst <= 1e-5, `differs by ${worst}`);
    } finally {
      await rows.release();
      await all.release();
    }
  });

  test(`GRPO: SIGKILL then rerun resumes to bit-identical weights, log and completions (${name})`, {
    timeout: 300_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grpo-resume-'));
    const { data, media } = writeToyData(dir, 2);
    const args = (out: string) => [
      ...toyArgs(model, data, media, out, 'grpo'),
      ...['--max-steps', '4', '--save-every', '1', '--group-size', '2', '--max-completion-length', '3'],
      ...['--lr', '1e-2', '--seed', '3', '--lora-rank', '4'],
    ];
    const whole = join(dir, 'whole');
    const killed = join(dir, 'killed');
    assert.equal(await runCli(args(whole), whole), 0);
    assert.equal(await runCli(args(killed), killed, 2), null, 'the first run is killed');
    assert.equal(await runCli(args(killed), killed), 0);
    const bytes = (d: string, f: string) => readFileSync(join(d, f));
    assert.ok(bytes(whole, 'state.safetensors').equals(bytes(killed, 'state.safetensors')));
    const log = (d: string) =>
      readFileSync(join(d, 'train.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => ({ ...JSON.parse(l), seconds: 0 }));
    assert.deepEqual(log(killed), log(whole));
    assert.equal(log(whole).length, 4);
  });
}
