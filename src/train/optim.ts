// Optimizers as graph nodes: each parameter's update is built into the training-step graph, so parameters and
// optimizer state go in and come out of one ONNX Runtime run. The arithmetic follows torch.optim (AdamW and SGD,
// single-tensor path); step-dependent scalars (bias corrections, the scheduled rate) are computed on the host in
// float64 and fed each step, as torch computes them in Python floats.
import * as E from '../engine/index.ts';

export interface AdamWConfig {
  kind: 'adamw';
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
}

export interface SgdConfig {
  kind: 'sgd';
  /** Default 0 (no state). Dampening is 0; weight decay is added to the gradient (L2), as torch.optim.SGD. */
  momentum?: number;
  nesterov?: boolean;
}

export type OptimizerConfig = AdamWConfig | SgdConfig;

/** Per-parameter state tensors, named as torch's optimizer state keys. */
export function stateSlots(c: OptimizerConfig): string[] {
  if (c.kind === 'adamw') return ['exp_avg', 'exp_avg_sq'];
  return (c.momentum ?? 0) > 0 ? ['momentum_buffer'] : [];
}

/** Scalars of one parameter group for the update about to be taken (`step` = updates already done). */
export function groupScalars(
  c: OptimizerConfig,
  lr: number,
  weightDecay: number,
  step: number,
): Record<string, number> {
  if (c.kind === 'sgd') return { lr, weight_decay: weightDecay };
  const [b1, b2] = c.betas ?? [0.9, 0.999];
  const t = step + 1;
  return {
    decay: 1 - lr * weightDecay,
    step_size: lr / (1 - b1 ** t),
    bias_correction2_sqrt: Math.sqrt(1 - b2 ** t),
  };
}

/** The names of groupScalars' entries (graph inputs `<name>:<group>`). */
export const scalarNames = (c: OptimizerConfig): string[] =>
  c.kind === 'sgd' ? ['lr', 'weight_decay'] : ['decay', 'step_size', 'bias_correction2_sqrt'];

export interface Update {
  param: E.Tensor;
  state: E.Tensor[];
}

/** Builds one parameter's update from its gradient, state (in stateSlots order) and group scalars. */
export function update(
  c: OptimizerConfig,
  p: E.Tensor,
  grad: E.Tensor,
  state: E.Tensor[],
  scalars: Record<string, E.Tensor>,
): Update {
  if (c.kind === 'adamw') {
    const [b1, b2] = c.betas ?? [0.9, 0.999];
    const [m, v] = state;
    // exp_avg.lerp_(grad, 1 − β1); exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 − β2)
    const m1 = E.add(m, E.mul(E.sub(grad, m), 1 - b1));
    const v1 = E.add(E.mul(v, b2), E.mul(E.mul(grad, grad), 1 - b2));
    // Decoupled weight decay first, then param −= step_size · m / (sqrt(v) / sqrt(bc2) + eps).
    const denom = E.add(E.div(E.sqrt(v1), scalars.bias_correction2_sqrt), c.eps ?? 1e-8);
    const decayed = E.mul(p, scalars.decay);
    return { param: E.sub(decayed, E.mul(scalars.step_size, E.div(m1, denom))), state: [m1, v1] };
  }
  const momentum = c.momentum ?? 0;
  let d = E.add(grad, E.mul(p, scalars.weight_decay));
  const state1: E.Tensor[] = [];
  if (momentum > 0) {
    const buf = E.add(E.mul(state[0], momentum), d);
    state1.push(buf);
    d = c.nesterov ? E.add(d, E.mul(buf, momentum)) : buf;
  }
  return { param: E.sub(p, E.mul(d, scalars.lr)), state: state1 };
}

/**
 * torch.nn.utils.clip_grad_norm_: the global L2 norm over all gradients; when it exceeds maxNorm every gradient
 * is scaled by maxNorm / (norm + 1e-6). Returns the clipped gradients and the norm before clipping.
 */
export function clipByGlobalNorm(grads: E.Tensor[], maxNorm: number): { grads: E.Tensor[]; norm: E.Tensor } {
  const norm = globalNorm(grads);
  const coef = E.minimum(E.div(maxNorm, E.add(norm, 1e-6)), 1);
  return { grads: grads.map((g) => E.mul(g, coef)), norm };
}

/** The L2 norm of all gradients together (NaN or +inf when one element is). */
export function globalNorm(grads: E.Tensor[]): E.Tensor {
  return E.sqrt(grads.map((g) => E.sum(E.mul(g, g), [])).reduce((a, b) => E.add(a, b)));
}
