// Ops VGGT needs that the engine lacks, composed from its primitives (ONNX has no Expm1).
import * as E from '../../engine/index.ts';

/** Beyond this |x| the naive exp(x) − 1 is accurate; the Kahan form is evaluated on x clamped to it. */
const NAIVE_BEYOND = 10;

/**
 * exp(x) − 1 without the cancellation of the naive form near 0 (Kahan: (u − 1)·x / log u with u = exp(x), exact
 * to a few ulps; x where u rounds to 1). Far from 0 the naive form is already accurate.
 * The branches a Where does not select still get a (zero) gradient, and 0 · ∞ is NaN: so the Kahan branch sees x
 * clamped to ±10 and divides by 1 where log u = 0. The forward values are unchanged by both guards.
 */
export function expm1(x: E.Tensor): E.Tensor {
  const naive = E.sub(E.exp(x), 1);
  const xk = E.minimum(E.maximum(x, -NAIVE_BEYOND), NAIVE_BEYOND);
  const u = E.exp(xk);
  const one = E.equal(u, 1);
  const kahan = E.div(E.mul(E.sub(u, 1), xk), E.where(one, 1, E.log(u)));
  return E.where(E.greater(E.abs(x), NAIVE_BEYOND), naive, E.where(one, xk, kahan));
}
