// Control flow: ONNX `If`, whose two branches are subgraphs that read values of the enclosing graph by name.
// In the IR a branch is a list of nodes of the same Graph (tensor ids are shared, so outer values need no renaming)
// kept out of `graph.nodes`, plus its outputs. The If node's inputs are its condition followed by every outer
// value the branches read (their captures): liveness and replay then see those dependencies like any other input,
// and serialization writes the condition alone (onnx.ts).
import type { AttrValue, Graph, Node, Tensor } from './graph.ts';
import { identity } from './ops.ts';
import { ShapeError } from './shape.ts';

export interface Branch {
  nodes: Node[];
  outputs: Tensor[];
}

/** The branches of an If node (undefined for any other node). */
export function branchesOf(n: Node): [Branch, Branch] | undefined {
  if (n.op !== 'If' || n.domain !== '') return undefined;
  const t = n.attrs.then_branch as { branch: Branch };
  const e = n.attrs.else_branch as { branch: Branch };
  return [t.branch, e.branch];
}

/** Runs `build`, moving the nodes it appends to `g` into a branch. */
export function recordBranch(g: Graph, build: () => Tensor[]): Branch {
  const start = g.nodes.length;
  let outputs = build();
  const produced = new Set(g.nodes.slice(start).flatMap((n) => n.outputs.map((o) => o.id)));
  // A subgraph output must be produced inside it, once: outer values and repeats pass through an Identity.
  const seen = new Set<number>();
  outputs = outputs.map((t) => {
    const own = produced.has(t.id) && !seen.has(t.id);
    seen.add(t.id);
    return own ? t : identity(t);
  });
  const nodes = g.nodes.splice(start);
  // Dims first seen inside the branch have no value outside it.
  for (const [dim, src] of g.dimSources)
    if (nodes.some((n) => n.outputs.includes(src.tensor))) g.dimSources.delete(dim);
  return { nodes, outputs };
}

/** Outer values the branches read: inputs of their nodes (nested Ifs included) not produced inside them. */
export function captures(branches: Branch[]): Tensor[] {
  const inner = new Set<number>();
  const all = (b: Branch): Node[] => b.nodes.flatMap((n) => [n, ...(branchesOf(n) ?? []).flatMap(all)]);
  const nodes = branches.flatMap(all);
  for (const n of nodes) for (const o of n.outputs) inner.add(o.id);
  const out = new Map<number, Tensor>();
  for (const n of nodes)
    for (const i of n.inputs) if (i && !inner.has(i.id) && !out.has(i.id)) out.set(i.id, i);
  return [...out.values()];
}

/** The If node of two recorded branches (outputs typed from the branches; a dim both agree on is kept). */
export function ifNode(g: Graph, cond: Tensor, thenB: Branch, elseB: Branch): Tensor[] {
  if (cond.dtype !== 'bool') throw new ShapeError(`If: condition must be bool, got ${cond.dtype}`);
  if (thenB.outputs.length !== elseB.outputs.length)
    throw new ShapeError(`If: branches give ${thenB.outputs.length} and ${elseB.outputs.length} outputs`);
  const outs = thenB.outputs.map((t, i) => {
    const e = elseB.outputs[i];
    if (t.dtype !== e.dtype || t.shape.length !== e.shape.length)
      throw new ShapeError(
        `If: output ${i} is ${t.dtype}[${t.shape}] in one branch, ${e.dtype}[${e.shape}] in the other`,
      );
    return { dtype: t.dtype, shape: t.shape.map((d, k) => (d === e.shape[k] ? d : g.freshDim('If'))) };
  });
  const attrs: Record<string, AttrValue> = { then_branch: { branch: thenB }, else_branch: { branch: elseB } };
  return g.node('If', [cond, ...captures([thenB, elseB])], outs, attrs);
}

/**
 * `cond ? then() : else()` evaluated by ONNX Runtime at run time: only the chosen branch runs. Both branches must
 * give the same number of outputs with equal dtypes and ranks; `cond` is a one-element bool tensor.
 */
export function ifElse(cond: Tensor, then: () => Tensor[], otherwise: () => Tensor[]): Tensor[] {
  const g = cond.graph;
  return ifNode(g, cond, recordBranch(g, then), recordBranch(g, otherwise));
}
