// Composite ops: one IR node with two lowerings. `primitive` expands into standard ONNX ops (always available,
// differentiable, the reference); `fused` emits an ONNX Runtime contrib op (fast inference). The lowering is
// chosen per graph when it is lowered (see lower.ts), so one built graph can be checked both ways.
import type { DType } from '../tensor.ts';
import type { Graph, Tensor } from './graph.ts';
import type { Dim } from './shape.ts';

export type Lowering = 'primitive' | 'fused';

export interface CompositeDef<O> {
  /** Builds the expansion in graph g from already-lowered inputs; returns the outputs in order. */
  primitive(g: Graph, inputs: (Tensor | null)[], options: O): Tensor[];
  /** Fused lowering; absent or returning undefined = this configuration has no fused form, use primitive. */
  fused?(g: Graph, inputs: (Tensor | null)[], options: O): Tensor[] | undefined;
  /**
   * Gradient rule of the composite itself (autodiff then keeps the node and it may be lowered fused in a training
   * graph): the gradient of each input from the outputs' gradients (null = none), built with engine ops. Without it
   * autodiff differentiates the primitive lowering.
   */
  vjp?(
    g: Graph,
    c: { x: (Tensor | null)[]; y: Tensor[]; dy: (Tensor | null)[] },
    options: O,
  ): (Tensor | null)[];
}

const registry = new Map<string, CompositeDef<any>>();

export function defineComposite<O>(
  kind: string,
  def: CompositeDef<O>,
): (
  g: Graph,
  inputs: (Tensor | null)[],
  outputs: { dtype: DType; shape: readonly Dim[] }[],
  options: O,
) => Tensor[] {
  if (registry.has(kind)) throw new Error(`composite ${kind} defined twice`);
  registry.set(kind, def);
  return (g, inputs, outputs, options) =>
    g.node(
      kind,
      inputs,
      outputs,
      {},
      { domain: 'composite', composite: { kind, options: options as Record<string, unknown> } },
    );
}

export function compositeDef(kind: string): CompositeDef<any> {
  const def = registry.get(kind);
  if (!def) throw new Error(`unknown composite op ${kind}`);
  return def;
}
