// GRPO for Spatial-MLLM as the paper (§3.4) describes it; upstream never released its GRPO code, the authors used
// the open-r1 / VLM-R1 trainers (TRL GRPOTrainer): per prompt G completions sampled from the policy, rewards
// (rewards.ts), group-normalised advantages A = (r − mean) / (std + 1e-4) (std unbiased, as torch), the clipped
// ratio objective with ε and β·KL (k3) to the reference policy, one optimizer step per batch of prompts.
// The reference is the starting model: with LoRA the base without adapters (and the starting connector / merger,
// which are small), so no second copy of the LLM; full fine-tuning keeps the starting weights.
// Loss normalisation (what the per-token terms Σ over completion tokens are divided by, per micro-batch):
//   sequence  each completion's token count × completions in the step (GRPO / TRL "grpo", the default);
//   token     the token count of the completion's group × prompts in the step (per-token mean, TRL "bnpo");
//   dapo      the token count of the whole step (DAPO);
//   dr_grpo   max completion length × completions (Dr. GRPO; rewards are then not divided by their std).
import * as E from '../engine/index.ts';
import { sampleToken, seededRandom } from '../models/generate.ts';
import { decodePositionIds } from '../models/qwen2_5_vl/rope_index.ts';
import type { SpatialMllmConfig } from '../models/spatial_mllm/config.ts';
import { Session } from '../runtime/session.ts';
import { f32, type HostTensor, i64 } from '../tensor.ts';
import { grpoTokenTerms, IGNORE_INDEX, tokenLogProbs } from './losses.ts';
import { replay } from './replay.ts';
import { type Reward, reward, type TaskKind, taskKind } from './rewards.ts';
import type { SftModel, SftOptions } from './sft.ts';
import type { SftExample } from './sft_example.ts';
import {
  buildPolicyDecoder,
  buildTrainableLogits,
  labelledPositions,
  type SftGraphOptions,
} from './sft_graph.ts';
import { buildSftTokens } from './sft_labels.ts';
import { trainingOnnx } from './trainer.ts';

export type LossNorm = 'sequence' | 'token' | 'dapo' | 'dr_grpo';

export interface GrpoHyperparameters {
  /** Completions per prompt (G). */
  groupSize: number;
  /** KL coefficient β. */
  beta: number;
  /** Clip range ε. */
  epsilon: number;
  lossNorm: LossNorm;
  /** Divide advantages by the group's reward std (default: yes, except dr_grpo). */
  scaleRewards?: boolean;
  maxCompletionLength: number;
  temperature: number;
  /** Prompts per optimizer step. */
  promptsPerStep: number;
  /**
   * How completions are sampled: 'cache' (default) with the KV-cache decoder at the current policy weights, one
   * token per run; 'recompute' reruns the training graph over the whole sequence per token (the reference).
   */
  rollout?: 'cache' | 'recompute';
}

/** The open-r1 / VLM-R1 settings the paper reports (G 8, β 0.04, ε 0.2, lr 1e-6, per-sequence normalisation). */
export const PAPER_GRPO: GrpoHyperparameters = {
  groupSize: 8,
  beta: 0.04,
  epsilon: 0.2,
  lossNorm: 'sequence',
  maxCompletionLength: 1024,
  temperature: 1,
  promptsPerStep: 1,
};

/** Outputs of the GRPO graph besides `loss`. */
export const GRPO_OUTPUTS = ['token_logprobs', 'kl_sum', 'clipped_sum', 'last_logits'];

/**
 * The trainable model with the GRPO objective. Inputs (besides the model's): labels [1, S] (completion tokens
 * aligned with the logits, IGNORE_INDEX elsewhere), old_logprobs / ref_logprobs [1, S], advantage [],
 * loss_denominator []. Outputs: loss, token_logprobs [1, S] (0 off the completion), kl_sum, clipped_sum,
 * last_logits [V]. Logits are computed only at the completion's positions and the last one (the rollout reference
 * reads it), not over the whole ~3k-token prompt × vocabulary; `o.allLogits` computes them everywhere (the
 * reference a test compares with).
 */
export function buildGrpoGraph(
  cfg: SpatialMllmConfig,
  o: SftGraphOptions,
  h: Pick<GrpoHyperparameters, 'beta' | 'epsilon'>,
): E.Graph {
  let labels: E.Tensor | undefined;
  let scored: E.Tensor | undefined;
  const labelInputs = (g: E.Graph) => {
    labels = g.input('labels', 'int64', [1, 'seq']);
    scored = labelledPositions(E.squeeze(labels, [0]));
    return scored;
  };
  // The completion's positions, then the last one.
  const rowsOf = (g: E.Graph) => E.concat([labelInputs(g), E.sub(E.shape(labels!, 1, 2), 1)], 0);
  const { graph: g, logits } = buildTrainableLogits(cfg, 'grpo', o, o.allLogits ? undefined : rowsOf);
  if (o.allLogits) labelInputs(g);
  const at = (x: E.Tensor) => E.gather(x, scored!, 1); // [1, S] → [1, N]
  // All positions: the labelled rows of the full logits (the last row is not labelled).
  const rows = o.allLogits ? E.gather(logits, scored!, 1) : E.slice(logits, [1], [0], [-1]);
  const old = g.input('old_logprobs', 'float32', [1, 'seq']);
  const ref = g.input('ref_logprobs', 'float32', [1, 'seq']);
  const advantage = g.input('advantage', 'float32', []);
  const denominator = g.input('loss_denominator', 'float32', []);
  const logprobs = tokenLogProbs(rows, at(labels!));
  const t = grpoTokenTerms({
    logprobs,
    oldLogprobs: at(old),
    refLogprobs: h.beta > 0 ? at(ref) : undefined,
    advantages: advantage,
    clip: h.epsilon,
    beta: h.beta,
  });
  const total = (x: E.Tensor) => E.sum(x, []);
  g.output('loss', E.div(total(t.perToken), denominator));
  const zeros = E.full(g, labels!.shape, 0);
  g.output('token_logprobs', E.scatterElements(zeros, E.unsqueeze(scored!, [0]), logprobs, 1));
  g.output('kl_sum', total(t.kl));
  g.output('clipped_sum', total(t.clipped));
  const vocab = logits.shape[2] as number;
  g.output('last_logits', E.reshape(E.slice(logits, [1], [-1], [Number.MAX_SAFE_INTEGER]), [vocab]));
  return g;
}

/** Group-normalised advantages: (r − mean) / (std + 1e-4) with the unbiased std, or r − mean. */
export function groupAdvantages(rewards: readonly number[], scale: boolean): number[] {
  const n = rewards.length;
  const mean = rewards.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / (n - 1)) : 0;
  return rewards.map((r) => (scale ? (r - mean) / (std + 1e-4) : r - mean));
}

/** Per-completion loss denominators for the chosen normalisation; `counts[p][g]` = tokens of completion g of prompt p. */
export function lossDenominators(
  counts: number[][],
  norm: LossNorm,
  maxCompletionLength: number,
): number[][] {
  const completions = counts.reduce((n, c) => n + c.length, 0);
  const all = counts.flat().reduce((a, b) => a + b, 0);
  return counts.map((group) => {
    const groupTokens = group.reduce((a, b) => a + b, 0);
    return group.map((c) => {
      if (norm === 'sequence') return c * completions;
      if (norm === 'token') return groupTokens * counts.length;
      if (norm === 'dapo') return all;
      return maxCompletionLength * completions;
    });
  });
}

export interface GrpoPrompt {
  example: SftExample;
  promptIds: number[];
  truth: string;
  kind: TaskKind;
}

export interface Rollout {
  prompt: GrpoPrompt;
  completion: number[];
  text: string;
  reward: Reward;
  advantage: number;
}

export interface GrpoStep {
  step: number;
  loss: number;
  rollouts: Rollout[];
  /** Mean k3 KL per completion token, fraction of completion tokens clipped. */
  kl: number;
  clipFraction: number;
  completionLength: number;
  rewardMean: number;
  rewardStd: number;
  /** Reward mean/std per task kind, and the format / accuracy parts. */
  byTask: Record<string, { mean: number; std: number; n: number }>;
  formatMean: number;
  accuracyMean: number;
  gradNorm?: number;
  /** Non-finite gradients: the update was skipped (Trainer). */
  skipped?: boolean;
  lr: Record<string, number>;
}

const meanStd = (xs: readonly number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean, std: Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length), n: xs.length };
};

export class GrpoTrainer {
  private ref?: Promise<Session>;
  private policy?: Promise<Session>;

  constructor(
    readonly model: SftModel,
    readonly h: GrpoHyperparameters,
  ) {}

  /** Options that make SftModel.load build the GRPO graph. */
  static head(h: Pick<GrpoHyperparameters, 'beta' | 'epsilon'>): NonNullable<SftOptions['head']> {
    return { build: (cfg, o) => buildGrpoGraph(cfg, o, h), outputs: GRPO_OUTPUTS };
  }

  /** The prompt of a sample: its turns up to the last answer, then the assistant header; the answer is the truth. */
  prompt(example: SftExample): GrpoPrompt {
    const turns = example.record.turns;
    const last = turns.map((t) => t.from).lastIndexOf('gpt');
    const tok = this.model.tokenizer;
    const [t, h, w] = example.grid;
    const merged = (t * h * w) / this.model.config.qwen.vision.spatialMergeSize ** 2;
    const { inputIds } = buildSftTokens(turns.slice(0, last), (s) => tok.encode(s), [merged]);
    const truth = turns[last].value;
    return {
      example,
      promptIds: [...inputIds, ...tok.encode('<|im_start|>assistant\n')],
      truth,
      kind: taskKind(truth, example.record.extra.question_type),
    };
  }

  private async feeds(
    p: GrpoPrompt,
    ids: readonly number[],
    extra: {
      labels?: number[];
      old?: HostTensor;
      ref?: HostTensor;
      advantage?: number;
      denominator?: number;
    } = {},
  ): Promise<Record<string, HostTensor>> {
    const { feeds } = await this.model.sequenceFeeds(p.example, ids);
    const S = ids.length;
    feeds.labels = i64([1, S], extra.labels ?? new Array(S).fill(IGNORE_INDEX));
    feeds.old_logprobs = extra.old ?? f32([1, S]);
    feeds.ref_logprobs = extra.ref ?? f32([1, S]);
    feeds.advantage = f32([], [extra.advantage ?? 0]);
    feeds.loss_denominator = f32([], [extra.denominator ?? 1]);
    return feeds;
  }

  /**
   * Samples one completion from the current policy, seeded: the next-token logits come from the KV-cache decoder
   * (policyLogits) or, with rollout 'recompute', from the training graph over the whole sequence.
   */
  async sample(p: GrpoPrompt, seed: number): Promise<number[]> {
    const random = seededRandom(seed);
    const q = this.model.config.qwen;
    const stop = new Set(q.eosTokenIds);
    // Vision tokens would open a video block without a video: never sampled (finite: sampleToken sorts by
    // differences).
    const banned = [q.imageTokenId, q.videoTokenId, q.visionStartTokenId, q.visionEndTokenId];
    const ids = [...p.promptIds];
    const next =
      this.h.rollout === 'recompute' ? () => this.recomputeLogits(p, ids) : await this.policyLogits(p);
    for (let t = 0; t < this.h.maxCompletionLength; t++) {
      const logits = await next(ids[ids.length - 1]);
      for (const b of banned) logits[b] = -3.4e38;
      const token = sampleToken(logits, { temperature: this.h.temperature }, random);
      ids.push(token);
      if (stop.has(token)) break;
    }
    return ids.slice(p.promptIds.length);
  }

  /** Next-token logits after `ids` from the training graph over the whole sequence (the rollout reference). */
  async recomputeLogits(p: GrpoPrompt, ids: readonly number[]): Promise<Float32Array> {
    return (await this.model.trainer.evaluate(await this.feeds(p, ids))).last_logits.data as Float32Array;
  }

  /**
   * A decode loop over the prompt of `p` with the KV-cache decoder at the current weights: the first call runs the
   * prompt (with its video) and returns the next-token logits; each later call feeds the token just chosen.
   */
  async policyLogits(p: GrpoPrompt): Promise<(token: number) => Promise<Float32Array>> {
    this.policy ??= Session.create(
      E.toOnnx(this.model.policyGraph(buildPolicyDecoder), { lowering: 'fused', params: 'inputs' }).bytes,
      { threads: this.model.options.threads },
    );
    const session = await this.policy;
    const params = Object.fromEntries(this.model.trainer.parameters());
    const text = this.model.config.qwen.text;
    const prompt = (await this.model.sequenceFeeds(p.example, p.promptIds)).feeds;
    const S = p.promptIds.length;
    // Decode positions continue from the prompt's largest M-RoPE position (rope_index.ts ropeDeltas).
    const delta =
      Array.from(prompt.position_ids.data as BigInt64Array, Number).reduce((a, b) => Math.max(a, b)) + 1 - S;
    const noVideo = {
      vit_hidden: f32([0, prompt.vit_hidden.shape[1]]),
      spatial_merged: f32([0, prompt.spatial_merged.shape[1]]),
      visual_index: i64([0, 1]),
    };
    let cache: Record<string, HostTensor> = {};
    for (let i = 0; i < text.numLayers; i++)
      for (const kv of ['key', 'value'])
        cache[`past_${kv}.${i}`] = f32([1, text.numKvHeads, 0, text.headDim]);
    let length = 0;
    return async (token) => {
      const feeds =
        length === 0
          ? prompt
          : {
              ...noVideo,
              input_ids: i64([1, 1], [token]),
              position_ids: decodePositionIds(length, 1, [delta]),
            };
      const out = await session.run({ ...params, ...feeds, ...cache });
      length += feeds.input_ids.shape[1] as number;
      cache = {};
      for (const [k, t] of Object.entries(out))
        if (k.startsWith('present_')) cache[k.replace('present_', 'past_')] = t;
      return out.logits.data as Float32Array;
    };
  }

  /** log π_ref of the completion tokens: the base graph (no adapters) at the starting weights. */
  private async refLogprobs(feeds: Record<string, HostTensor>): Promise<HostTensor> {
    if (!this.ref) {
      const g = replay(this.model.base.graph, { outputs: ['token_logprobs'] });
      this.ref = Session.create(trainingOnnx(g), {
        threads: this.model.options.threads,
      });
    }
    const s = await this.ref;
    return (await s.run({ ...Object.fromEntries(this.model.base.weights), ...feeds })).token_logprobs;
  }

  /** One GRPO step: G rollouts for each prompt, rewards, advantages, then one optimizer step over all of them. */
  async step(prompts: readonly GrpoPrompt[], seed: number): Promise<GrpoStep> {
    const groups: Rollout[][] = [];
    for (const [pi, p] of prompts.entries()) {
      const group: Rollout[] = [];
      for (let g = 0; g < this.h.groupSize; g++) {
        const completion = await this.sample(p, (seed * 131 + pi * this.h.groupSize + g) >>> 0);
        const text = this.model.tokenizer.decode(completion, { skipSpecialTokens: true });
        group.push({ prompt: p, completion, text, reward: reward(text, p.truth, p.kind), advantage: 0 });
      }
      const adv = groupAdvantages(
        group.map((r) => r.reward.total),
        this.h.scaleRewards ?? this.h.lossNorm !== 'dr_grpo',
      );
      group.forEach((r, i) => {
        r.advantage = adv[i];
      });
      groups.push(group);
    }
    const denominators = lossDenominators(
      groups.map((g) => g.map((r) => r.completion.length)),
      this.h.lossNorm,
      this.h.maxCompletionLength,
    );
    const micro: Record<string, HostTensor>[] = [];
    for (const [pi, group] of groups.entries())
      for (const [gi, r] of group.entries()) {
        const ids = [...r.prompt.promptIds, ...r.completion];
        const labels = ids.map((_, i) =>
          i >= r.prompt.promptIds.length - 1 && i < ids.length - 1 ? ids[i + 1] : IGNORE_INDEX,
        );
        const probe = await this.feeds(r.prompt, ids, { labels });
        const old = (await this.model.trainer.evaluate(probe)).token_logprobs;
        const ref = this.h.beta > 0 ? await this.refLogprobs(probe) : undefined;
        micro.push(
          await this.feeds(r.prompt, ids, {
            labels,
            old,
            ref,
            advantage: r.advantage,
            denominator: denominators[pi][gi],
          }),
        );
      }
    const res = await this.model.trainer.step(micro);
    const rollouts = groups.flat();
    const tokens = rollouts.reduce((n, r) => n + r.completion.length, 0);
    const sumOf = (k: string) => res.outputs.reduce((a, o) => a + (o[k].data[0] as number), 0);
    const totals = rollouts.map((r) => r.reward.total);
    const kinds = [...new Set(rollouts.map((r) => r.prompt.kind))];
    const all = meanStd(totals);
    return {
      step: res.step,
      loss: res.losses.reduce((a, b) => a + b, 0),
      rollouts,
      kl: sumOf('kl_sum') / tokens,
      clipFraction: sumOf('clipped_sum') / tokens,
      completionLength: tokens / rollouts.length,
      rewardMean: all.mean,
      rewardStd: all.std,
      byTask: Object.fromEntries(
        kinds.map((k) => [
          k,
          meanStd(rollouts.filter((r) => r.prompt.kind === k).map((r) => r.reward.total)),
        ]),
      ),
      formatMean: meanStd(rollouts.map((r) => r.reward.format)).mean,
      accuracyMean: meanStd(rollouts.map((r) => r.reward.accuracy)).mean,
      gradNorm: res.gradNorm,
      skipped: res.skipped,
      lr: res.lr,
    };
  }

  async release(): Promise<void> {
    if (this.ref) await (await this.ref).release();
    if (this.policy) await (await this.policy).release();
  }
}
