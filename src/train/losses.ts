// Training losses built in the graph: token cross-entropy over selected positions (SFT) and the per-token log
// probabilities and clipped surrogate of policy-gradient training (GRPO).
import * as E from '../engine/index.ts';

/** Label of positions that do not count (prompt, padding, vision tokens), as HF's CrossEntropyLoss ignore_index. */
export const IGNORE_INDEX = -100;

/**
 * log p(target) at each position: logits [..., V] (any float dtype; computed in float32), targets [...] int64 →
 * float32 [...]. Negative targets (ignored positions) read class 0: mask them out.
 */
export function tokenLogProbs(logits: E.Tensor, targets: E.Tensor): E.Tensor {
  const safe = E.where(E.less(targets, 0), 0, targets);
  const logp = E.logSoftmax(E.cast(logits, 'float32'), -1);
  return E.squeeze(E.gatherElements(logp, E.unsqueeze(safe, [-1]), -1), [-1]);
}

/** 1 where the label counts, 0 at IGNORE_INDEX (float32, labels' shape). */
export const labelMask = (labels: E.Tensor): E.Tensor =>
  E.cast(E.not(E.equal(labels, IGNORE_INDEX)), 'float32');

/**
 * Σ −log p(label) over positions whose label is not IGNORE_INDEX, divided by `denominator`: by default the number of
 * such positions (HF's mean cross-entropy). Labels are aligned with the logits (already shifted for next-token
 * prediction). With gradient accumulation pass the count over the whole optimizer step (HF's
 * num_items_in_batch), so that the summed micro-batch gradients are those of one big batch.
 */
export function maskedCrossEntropy(logits: E.Tensor, labels: E.Tensor, denominator?: E.Tensor): E.Tensor {
  const mask = labelMask(labels);
  const total = E.sum(E.mul(E.neg(tokenLogProbs(logits, labels)), mask), []);
  return E.div(total, denominator ?? E.maximum(E.sum(mask, []), 1));
}

export interface PolicyLossInputs {
  /** log π(token) under the policy being trained, [B, T]. */
  logprobs: E.Tensor;
  /** The same under the policy that sampled the completions, [B, T] (a constant input). */
  oldLogprobs: E.Tensor;
  /** One advantage per completion (group-normalized reward), [B]. */
  advantages: E.Tensor;
  /** 1 on completion tokens, 0 on prompt and padding, [B, T] float32. */
  mask: E.Tensor;
  /** log π_ref(token) of the frozen reference policy for the KL penalty, [B, T]. */
  refLogprobs?: E.Tensor;
  /** PPO clip range ε (default 0.2). */
  clip?: number;
  /** KL coefficient β (default 0.04; used when refLogprobs is given). */
  beta?: number;
}

export interface GrpoTokenTerms {
  /** −min(r·A, clip(r, 1−ε, 1+ε)·A) + β·k3 per token, [B, T] (not masked). */
  perToken: E.Tensor;
  /** The k3 KL estimate exp(ref − logπ) − (ref − logπ) − 1 per token (zeros without refLogprobs). */
  kl: E.Tensor;
  /** 1 where the clip is active: r < 1−ε with A < 0, or r > 1+ε with A > 0 (TRL's clip ratio), float32. */
  clipped: E.Tensor;
}

/**
 * GRPO's per-token objective as TRL's GRPOTrainer computes it (trl/trainer/grpo_trainer.py, compute_loss):
 * r = exp(logπ − logπ_old), the clipped surrogate, plus β·KL with the k3 estimator against the reference policy.
 * `advantages` broadcasts against the log-probs ([B, 1], or a scalar for one sequence).
 */
export function grpoTokenTerms(o: Omit<PolicyLossInputs, 'mask'>): GrpoTokenTerms {
  const eps = o.clip ?? 0.2;
  const ratio = E.exp(E.sub(o.logprobs, o.oldLogprobs));
  const adv = o.advantages;
  const clipped = E.minimum(E.maximum(ratio, 1 - eps), 1 + eps);
  let perToken = E.neg(E.minimum(E.mul(ratio, adv), E.mul(clipped, adv)));
  let kl = E.mul(o.logprobs, 0);
  if (o.refLogprobs) {
    const delta = E.sub(o.refLogprobs, o.logprobs);
    kl = E.sub(E.sub(E.exp(delta), delta), 1);
    perToken = E.add(perToken, E.mul(kl, o.beta ?? 0.04));
  }
  const low = E.and(E.less(ratio, 1 - eps), E.less(adv, 0));
  const high = E.and(E.greater(ratio, 1 + eps), E.greater(adv, 0));
  return { perToken, kl, clipped: E.cast(E.or(low, high), 'float32') };
}

/**
 * GRPO loss with per-sequence normalisation (the original GRPO / TRL "grpo" loss type): per-token terms averaged
 * over each completion's tokens, then over completions. `advantages` is one value per completion, [B].
 */
export function grpoLoss(o: PolicyLossInputs): E.Tensor {
  const { perToken } = grpoTokenTerms({ ...o, advantages: E.unsqueeze(o.advantages, [1]) });
  const perSequence = E.div(E.sum(E.mul(perToken, o.mask), [1]), E.maximum(E.sum(o.mask, [1]), 1));
  return E.mean(perSequence, [0]);
}

/**
 * Adds the SFT objective to a graph whose output `logits` is [..., V]: inputs `labels` (logits' shape without V,
 * int64, IGNORE_INDEX where not scored) and `loss_denominator` (float32 scalar: the scored-token count of the
 * whole optimizer step), output `loss`.
 */
export function addLmLoss(g: E.Graph, logitsOutput = 'logits'): void {
  const logits = g.outputs.find((o) => o.name === logitsOutput);
  if (!logits) throw new Error(`addLmLoss: graph ${g.name} has no output '${logitsOutput}'`);
  const labels = g.input('labels', 'int64', logits.tensor.shape.slice(0, -1));
  const denominator = g.input('loss_denominator', 'float32', []);
  g.output('loss', maskedCrossEntropy(logits.tensor, labels, denominator));
}
