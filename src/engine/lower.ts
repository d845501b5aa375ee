// Lowering pass: replays a graph into a fresh one in which every composite node is expanded with the chosen
// lowering and only nodes that reach an output remain. The result holds standard ONNX ops (and, for 'fused',
// ONNX Runtime contrib ops) only; it is what serialization and autodiff consume.
import { compositeDef, type Lowering } from './composite.ts';
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

export function lower(graph: Graph, lowering: Lowering): Graph {
  // Fresh dims of the expansions must not reuse the source graph's names.
  const out = new Graph(graph.name, graph.freshCount);
  const map = new Map<number, Tensor>();
  for (const t of graph.inputs) {
    const s = graph.sources.get(t.id) as { name: string };
    map.set(t.id, out.input(s.name, t.dtype, t.shape));
  }
  const get = (t: Tensor): Tensor => {
    let m = map.get(t.id);
    if (m) return m;
    const s = graph.sources.get(t.id)!;
    if (s.kind === 'param') m = out.param(s.name, t.dtype, t.shape as number[]);
    else if (s.kind === 'const') m = out.constant(s.value);
    else throw new Error(`lower: tensor t${t.id} used before it is produced`);
    map.set(t.id, m);
    return m;
  };
  for (const node of liveNodes(graph)) {
    const inputs = node.inputs.map((i) => (i ? get(i) : null));
    let results: Tensor[];
    if (node.composite) {
      const def = compositeDef(node.composite.kind);
      const opts = node.composite.options;
      results = (lowering === 'fused' && def.fused?.(out, inputs, opts)) || def.primitive(out, inputs, opts);
      if (results.length !== node.outputs.length)
        throw new Error(
          `composite ${node.composite.kind} returned ${results.length} outputs, declared ${node.outputs.length}`,
        );
      results.forEach((r, i) => {
        if (r.dtype !== node.outputs[i].dtype)
          throw new Error(
            `composite ${node.composite!.kind}: output ${i} is ${r.dtype}, declared ${node.outputs[i].dtype}`,
          );
      });
    } else {
      results = out.node(
        node.op,
        inputs,
        node.outputs.map((o) => ({ dtype: o.dtype, shape: o.shape })),
        node.attrs,
        { domain: node.domain },
      );
    }
    node.outputs.forEach((o, i) => {
      map.set(o.id, results[i]);
    });
  }
  for (const o of graph.outputs) out.output(o.name, get(o.tensor));
  return out;
}
