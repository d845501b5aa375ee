// Ops VGGT needs that the engine lacks, composed from its primitives (ONNX has no Expm1).
import * as E from '../../engine/index.ts';

/**
 * exp(x) − 1 without the cancellation of the naive form near 0 (Kahan: (u − 1)·x / log u with u = exp(x), exact
 * to a few ulps; x where u rounds to 1). Far from 0 the naive form is already accurate.
 */
export function expm1(x: E.Tensor): E.Tensor {
  const u = E.exp(x);
  const um1 = E.sub(u, 1);
  const kahan = E.div(E.mul(um1, x), E.log(u));
  return E.where(E.greater(E.abs(x), 10), um1, E.where(E.equal(u, 1), x, kahan));
}
