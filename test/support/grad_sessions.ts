// Sessions for finite-difference gradient checks: the graph's `loss` and its autodiff gradients w.r.t. `wrt`
// (outputs `grad:<name>`), both with parameters as inputs so a test can perturb weights between runs.
import { backward } from '../../src/engine/autodiff.ts';
import * as E from '../../src/engine/index.ts';
import { Session } from '../../src/runtime/session.ts';

export async function gradSessions(
  forward: E.Graph,
  wrt: readonly string[],
): Promise<{ grads: Session; loss: Session }> {
  const bw = backward(forward, 'loss', [...wrt]);
  for (const name of wrt) bw.graph.output(`grad:${name}`, bw.grads.get(name)!);
  const onnx = (g: E.Graph) => E.toOnnx(g, { lowering: 'primitive', params: 'inputs' }).bytes;
  return { grads: await Session.create(onnx(bw.graph)), loss: await Session.create(onnx(forward)) };
}
