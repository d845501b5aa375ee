// Graph copy for training-time rewrites: replays the nodes that reach the kept outputs into a new graph (composite
// nodes stay composite), optionally letting a hook replace a node's results (LoRA adds its branch there).
import type * as E from '../engine/index.ts';
import { copyNode, replay as replayGraph } from '../engine/lower.ts';

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
  const rewrite = o.rewrite;
  return replayGraph(graph, {
    outputs: o.outputs,
    emit: rewrite
      ? (node, inputs, out) => rewrite(node, inputs, [...copyNode(node, inputs, out)], out)
      : undefined,
  });
}
