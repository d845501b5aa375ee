// Activation checkpointing (recomputation) for autodiff. Without it, every activation the backward pass reads
// stays alive from its forward use until its gradient is computed: at a long sequence that is all the decoder
// layers' attention probabilities and MLP intermediates at once. With it, a model marks segment boundaries
// (`recomputeBoundary`, e.g. each decoder layer's input as HF's `gradient_checkpointing` wraps each layer); the
// forward pass keeps only the boundary tensors, and the backward pass recomputes one segment's forward from its
// saved input right before differentiating it (torch.utils.checkpoint), so one segment's activations live at a time.
// The recomputed nodes read the boundary through a node that also reads the next segment's gradient: ONNX Runtime
// cannot run them before the backward pass reaches the segment, nor merge them with the forward copies (its common
// subexpression elimination needs identical inputs).
import { defineComposite } from './composite.ts';
import type { Node, Tensor } from './graph.ts';
import * as op from './ops.ts';

const boundaryNodes = new WeakSet<Node>();

const boundaryNode = defineComposite<Record<string, never>>('RecomputeBoundary', {
  primitive(g, [x]) {
    const [y] = g.node('Identity', [x], [{ dtype: x!.dtype, shape: x!.shape }]);
    boundaryNodes.add(g.nodes[g.nodes.length - 1]);
    return [y];
  },
});

/**
 * x unchanged. With recomputation on (`backward(…, { recompute: true })`), the nodes between two consecutive
 * boundaries are recomputed in the backward pass from the first boundary's value instead of kept from the forward.
 */
export function recomputeBoundary(x: Tensor): Tensor {
  return boundaryNode(x.graph, [x], [{ dtype: x.dtype, shape: x.shape }], {})[0];
}

/** The nodes between two boundaries: they read `start` (directly or through each other) and produce `end`. */
export interface Segment {
  start: Tensor;
  end: Tensor;
  /** In build order. */
  nodes: Node[];
}

/**
 * The segments of `nodes` (a graph's nodes in build order): between consecutive boundary nodes, the nodes that
 * depend on the first boundary's output, when they produce the second boundary's input. Nodes of the range that do
 * not depend on it (shared tables, parameter casts) stay outside: they are computed once. A segment tensor read
 * after the segment (other than its end) would need its own saved copy: that is an error.
 */
export function recomputeSegments(nodes: readonly Node[]): Segment[] {
  const consumers = new Map<number, Node[]>();
  for (const n of nodes)
    for (const i of n.inputs)
      if (i) {
        const list = consumers.get(i.id);
        if (list) list.push(n);
        else consumers.set(i.id, [n]);
      }
  const marks = nodes.flatMap((n, k) => (boundaryNodes.has(n) ? [k] : []));
  const segments: Segment[] = [];
  for (let m = 0; m + 1 < marks.length; m++) {
    const start = nodes[marks[m]].outputs[0];
    const end = nodes[marks[m + 1]].inputs[0]!;
    const inside = new Set([start.id]);
    const members: Node[] = [];
    for (let k = marks[m] + 1; k < marks[m + 1]; k++) {
      const n = nodes[k];
      if (!n.inputs.some((i) => i && inside.has(i.id))) continue;
      members.push(n);
      for (const o of n.outputs) inside.add(o.id);
    }
    if (!inside.has(end.id) || end === start) continue;
    const set = new Set(members);
    for (const n of members)
      for (const o of n.outputs)
        if (o !== end && (consumers.get(o.id) ?? []).some((c) => !set.has(c)))
          throw new Error(
            `recompute: tensor t${o.id} (${n.op}) of the segment after boundary ${m} is read outside it; ` +
              'move the boundary or pass it through the next one',
          );
    segments.push({ start, end, nodes: members });
  }
  return segments;
}

/**
 * `x` again, as a tensor that ONNX Runtime can compute only once every tensor of `after` exists: Where(c, x, x) with
 * c read from one element of each (the value is x whatever c is; a full copy of x, small next to a segment's
 * activations).
 */
export function orderedAfter(x: Tensor, after: Tensor | readonly Tensor[]): Tensor {
  const firsts = (Array.isArray(after) ? after : [after]).map((t) =>
    op.cast(op.slice(op.reshape(t, [-1]), [0], [0], [1]), 'float32'),
  );
  const probe = firsts.reduce((a, b) => op.add(a, b));
  return op.where(op.equal(probe, probe), x, x);
}
