// Which graph outputs may be written into the buffer of a graph input (an in-place update: a training step feeds a
// parameter and fetches its new value into the same host buffer). ONNX Runtime writes a preallocated output while
// running the node that produces it, in whatever topological order it picks, so sharing is safe when
// (1) every other node reading the input is an ancestor of that writer (it has run before the buffer changes), and
// (2) the writer itself, if it reads the input, is element-wise over equal shapes (each element is read before it
// is overwritten, by the same index).
// Readers include, through ops ONNX Runtime may fuse into their consumer or run as a view of their input
// (Transpose into MatMul, Reshape/Squeeze aliases, a constant scale into FusedMatMul), those ops' own readers.
// Ancestry is checked near the writer (a bounded walk up its inputs: an optimizer's own arithmetic) and through a
// `barrier` every update depends on (the global gradient norm): what the barrier depends on (the forward and
// backward passes) has run before any update.
import type { Graph, Node, Tensor } from './graph.ts';
import { fmt } from './shape.ts';

const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Where', 'Identity', 'Neg', 'Sqrt']);

/** Ops whose consumers may end up reading the op's input buffer itself (fusions, aliasing views). */
const TRANSPARENT = new Set(['Transpose', 'Reshape', 'Identity', 'Squeeze', 'Unsqueeze', 'Flatten', 'Cast']);

const isConst = (g: Graph, t: Tensor | null) => !!t && g.sources.get(t.id)?.kind === 'const';

/** A reader whose output may stand for its input in what consumes it. */
const transparent = (g: Graph, n: Node) =>
  TRANSPARENT.has(n.op) || ((n.op === 'Mul' || n.op === 'Div') && n.inputs.some((i) => isConst(g, i)));

/** How many producer steps above the writer the local ancestry walk looks (an optimizer update is a few ops). */
const NEAR = 16;

function producerOf(g: Graph, t: Tensor): Node | undefined {
  const s = g.sources.get(t.id);
  return s?.kind === 'node' ? s.node : undefined;
}

/** Ancestor nodes of `from` (included), at most `depth` producer steps up (unbounded when undefined). */
function ancestors(g: Graph, from: Node, depth?: number): Set<Node> {
  const seen = new Set<Node>([from]);
  let frontier = [from];
  for (let d = 0; frontier.length && (depth === undefined || d < depth); d++) {
    const next: Node[] = [];
    for (const n of frontier)
      for (const i of n.inputs) {
        const p = i && producerOf(g, i);
        if (p && !seen.has(p)) {
          seen.add(p);
          next.push(p);
        }
      }
    frontier = next;
  }
  return seen;
}

/** The nodes that read `t`'s buffer, directly or through transparent ops. */
function readersOf(g: Graph, readers: Map<number, Node[]>, t: Tensor): Node[] {
  const out: Node[] = [];
  const stack = [t];
  const seen = new Set<number>();
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x.id)) continue;
    seen.add(x.id);
    for (const r of readers.get(x.id) ?? []) {
      out.push(r);
      if (transparent(g, r)) stack.push(...r.outputs);
    }
  }
  return out;
}

/**
 * For each (input, output) pair of `g`, whether the output may be written into the input's buffer. `barrier`: a
 * tensor every writer depends on (its ancestors count as run before every writer).
 */
export function inPlaceSafe(
  g: Graph,
  pairs: { input: Tensor; output: Tensor }[],
  barrier?: Tensor,
): boolean[] {
  const readers = new Map<number, Node[]>();
  for (const n of g.nodes)
    for (const i of n.inputs)
      if (i) {
        const list = readers.get(i.id);
        if (list) list.push(n);
        else readers.set(i.id, [n]);
      }
  const barrierNode = barrier && producerOf(g, barrier);
  const beforeAll = barrierNode ? ancestors(g, barrierNode) : new Set<Node>();
  return pairs.map(({ input, output }) => {
    const writer = producerOf(g, output);
    if (!writer || fmt(input.shape) !== fmt(output.shape)) return false;
    if (writer.inputs.includes(input) && !ELEMENTWISE.has(writer.op)) return false;
    const near = ancestors(g, writer, NEAR);
    const dependsOnBarrier = barrierNode !== undefined && near.has(barrierNode);
    return readersOf(g, readers, input).every(
      (r) => r === writer || near.has(r) || (dependsOnBarrier && beforeAll.has(r)),
    );
  });
}
