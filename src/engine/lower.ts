// Lowering pass: replays a graph into a fresh one in which every composite node is expanded with the chosen
// lowering and only nodes that reach an output remain. The result holds standard ONNX ops (and, for 'fused',
// ONNX Runtime contrib ops) only; it is what serialization and autodiff consume.
import { compositeDef, type Lowering } from './composite.ts';
import { type Branch, branchesOf, ifNode, recordBranch } from './control_flow.ts';
import { Graph, type Node, type Tensor } from './graph.ts';

/** Nodes needed to compute the outputs, in build order. */
export function liveNodes(graph: Graph, roots: Tensor[] = graph.outputs.map((o) => o.tensor)): Node[] {
  const live = new Set<Node>();
  const stack = [...roots];
  while (stack.length) {
    const t = stack.pop()!;
    const src = graph.sources.get(t.id)!;
    if (src.kind !== 'node' || live.has(src.node)) continue;
    live.add(src.node);
    for (const i of src.node.inputs) if (i) stack.push(i);
  }
  return graph.nodes.filter((n) => live.has(n));
}

/** A node copied as it is (composites stay composite). */
export function copyNode(node: Node, inputs: (Tensor | null)[], out: Graph): Tensor[] {
  return out.node(
    node.op,
    inputs,
    node.outputs.map((o) => ({ dtype: o.dtype, shape: o.shape })),
    node.attrs,
    { domain: node.domain, composite: node.composite },
  );
}

export interface ReplayOptions {
  /** Outputs to keep (default all); only nodes that reach them are replayed. */
  outputs?: string[];
  /** Produces a node's results in the new graph from its mapped inputs (default: a copy). */
  emit?: (node: Node, inputs: (Tensor | null)[], out: Graph) => Tensor[];
}

/**
 * Copies `nodes` of `source` into `out` through `emit`, in order. `map` holds the tensors of `out` already standing
 * for tensors of `source` (its inputs) and receives the results; a parameter or constant is carried over on first
 * use. Returns the lookup of a `source` tensor's copy.
 */
function copyNodes(
  source: Graph,
  nodes: Iterable<Node>,
  out: Graph,
  map: Map<number, Tensor>,
  emit: NonNullable<ReplayOptions['emit']>,
): (t: Tensor) => Tensor {
  const get = (t: Tensor): Tensor => {
    let m = map.get(t.id);
    if (m) return m;
    const s = source.sources.get(t.id)!;
    if (s.kind === 'param') m = out.param(s.name, t.dtype, t.shape as number[]);
    else if (s.kind === 'const') m = out.constant(s.value);
    else throw new Error(`copy of ${source.name}: tensor t${t.id} used before it is produced`);
    map.set(t.id, m);
    return m;
  };
  for (const node of nodes) {
    const inputs = node.inputs.map((i) => (i ? get(i) : null));
    const branches = branchesOf(node);
    // An If is rebuilt around its replayed branches (their nodes go through `emit` too: composites inside lower).
    const results = branches
      ? ifNode(
          out,
          inputs[0]!,
          ...(branches.map((b) =>
            recordBranch(out, () => b.outputs.map(copyNodes(source, b.nodes, out, map, emit))),
          ) as [Branch, Branch]),
        )
      : emit(node, inputs, out);
    if (results.length !== node.outputs.length)
      throw new Error(`replay of ${node.op}: ${results.length} results for ${node.outputs.length} outputs`);
    node.outputs.forEach((x, i) => {
      if (results[i].dtype !== x.dtype)
        throw new Error(`replay of ${node.op}: output ${i} is ${results[i].dtype}, declared ${x.dtype}`);
      map.set(x.id, results[i]);
    });
  }
  return get;
}

/**
 * Replays the nodes that reach the kept outputs into a fresh graph (inputs, parameters and constants carried over);
 * lowering and training rewrites (LoRA, loss heads) are replays with their own `emit`.
 */
export function replay(graph: Graph, o: ReplayOptions = {}): Graph {
  const kept = o.outputs ? graph.outputs.filter((x) => o.outputs!.includes(x.name)) : graph.outputs;
  const unknown = (o.outputs ?? []).filter((n) => !graph.outputs.some((x) => x.name === n));
  if (unknown.length) throw new Error(`graph ${graph.name} has no output ${unknown.join(', ')}`);
  // Fresh dims made while replaying must not reuse the source graph's names.
  const out = new Graph(graph.name, graph.freshCount);
  const map = new Map<number, Tensor>();
  for (const t of graph.inputs) map.set(t.id, out.input(graph.nameOf(t), t.dtype, t.shape));
  const get = copyNodes(
    graph,
    liveNodes(
      graph,
      kept.map((x) => x.tensor),
    ),
    out,
    map,
    o.emit ?? copyNode,
  );
  for (const x of kept) out.output(x.name, get(x.tensor));
  return out;
}

/**
 * Copies `source` into `into`, its inputs bound to the given tensors of `into` (every input must be bound); its
 * parameters become parameters of `into` under the same names. Returns the copied outputs by name. This is how a
 * model graph is reused inside a larger one (a training graph feeding a decoder with computed embeddings).
 */
export function inline(source: Graph, into: Graph, inputs: Record<string, Tensor>): Record<string, Tensor> {
  const map = new Map<number, Tensor>();
  for (const t of source.inputs) {
    const name = source.nameOf(t);
    const bound = inputs[name];
    if (!bound) throw new Error(`inline ${source.name}: input '${name}' is not bound`);
    if (bound.graph !== into || bound.dtype !== t.dtype)
      throw new Error(`inline ${source.name}: input '${name}' must be a ${t.dtype} tensor of ${into.name}`);
    map.set(t.id, bound);
  }
  const get = copyNodes(source, liveNodes(source), into, map, copyNode);
  return Object.fromEntries(source.outputs.map((o) => [o.name, get(o.tensor)]));
}

/**
 * Every composite expanded with the chosen lowering ('fused' falls back to primitive where it has no form), except
 * the kinds `keep` selects, which stay composite (a later pass lowers them otherwise).
 */
export function lower(graph: Graph, lowering: Lowering, keep?: (kind: string) => boolean): Graph {
  return replay(graph, {
    emit(node, inputs, out) {
      if (!node.composite || keep?.(node.composite.kind)) return copyNode(node, inputs, out);
      const def = compositeDef(node.composite.kind);
      const opts = node.composite.options;
      return (lowering === 'fused' && def.fused?.(out, inputs, opts)) || def.primitive(out, inputs, opts);
    },
  });
}
