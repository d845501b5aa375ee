// Graph copy for training-time rewrites: replays the nodes that reach the kept outputs into a new graph (composite
// nodes stay composite), optionally letting a hook replace a node's results (LoRA adds its branch there).
import * as E from '../engine/index.ts';
import { liveNodes } from '../engine/lower.ts';

export interface ReplayOptions {
  /** Outputs to keep (default all). */
  outputs?: string[];
  /**
   * Called after each node is copied with the source node and the copied inputs and results; returns the results
   * to use downstream (same count and dtypes).
   */
  rewrite?: (node: E.Node, inputs: (E.Tensor | null)[], results: E.Tensor[], out: E.Graph) => E.Tensor[];
}

export function replay(graph: E.Graph, o: ReplayOptions = {}): E.Graph {
  const kept = o.outputs ? graph.outputs.filter((x) => o.outputs!.includes(x.name)) : graph.outputs;
  const unknown = (o.outputs ?? []).filter((n) => !graph.outputs.some((x) => x.name === n));
  if (unknown.length) throw new Error(`graph ${graph.name} has no output ${unknown.join(', ')}`);
  const out = new E.Graph(graph.name);
  const map = new Map<number, E.Tensor>();
  for (const t of graph.inputs) map.set(t.id, out.input(graph.nameOf(t), t.dtype, t.shape));
  const get = (t: E.Tensor): E.Tensor => {
    let m = map.get(t.id);
    if (m) return m;
    const s = graph.sources.get(t.id)!;
    if (s.kind === 'param') m = out.param(s.name, t.dtype, t.shape as number[]);
    else if (s.kind === 'const') m = out.constant(s.value);
    else throw new Error(`replay: tensor t${t.id} used before it is produced`);
    map.set(t.id, m);
    return m;
  };
  for (const n of liveNodes(
    graph,
    kept.map((x) => x.tensor),
  )) {
    const inputs = n.inputs.map((i) => (i ? get(i) : null));
    // A copy: Graph.node returns the node's own output list.
    let results = [
      ...out.node(
        n.op,
        inputs,
        n.outputs.map((x) => ({ dtype: x.dtype, shape: x.shape })),
        n.attrs,
        { domain: n.domain, composite: n.composite },
      ),
    ];
    if (o.rewrite) results = o.rewrite(n, inputs, results, out);
    n.outputs.forEach((x, i) => {
      map.set(x.id, results[i]);
    });
  }
  for (const x of kept) out.output(x.name, get(x.tensor));
  return out;
}
