// The graph IR: symbolic tensors produced by nodes. A node is an ONNX operator (domain, op type, attributes) or a
// composite op (attention, RMS norm, rotary, 4-bit matmul) that is expanded into primitive ops or a fused
// ONNX Runtime contrib op when the graph is lowered. Parameters carry their checkpoint names.
import type { DType, HostTensor } from '../tensor.ts';
import { type Dim, fmt, ShapeError } from './shape.ts';

export type AttrValue =
  | number
  | string
  | number[]
  | string[]
  | HostTensor
  | { float: number }
  | { floats: number[] }
  /** A subgraph (If's then_branch / else_branch; control_flow.ts). */
  | { branch: { nodes: Node[]; outputs: Tensor[] } };

export interface Tensor {
  readonly graph: Graph;
  readonly id: number;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

export interface CompositeNode {
  kind: string;
  /** Arbitrary options of the composite (numbers, strings, flags). */
  options: Record<string, unknown>;
}

export interface Node {
  op: string;
  domain: string;
  /** null = an omitted optional input. */
  inputs: (Tensor | null)[];
  outputs: Tensor[];
  attrs: Record<string, AttrValue>;
  composite?: CompositeNode;
}

export type ValueKind =
  | { kind: 'input'; name: string }
  | { kind: 'param'; name: string }
  | { kind: 'const'; value: HostTensor }
  | { kind: 'node'; node: Node };

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Tensor[] = [];
  readonly outputs: { name: string; tensor: Tensor }[] = [];
  readonly params = new Map<string, Tensor>();
  /** How each tensor came to be. */
  readonly sources = new Map<number, ValueKind>();
  /** For each symbolic dim, a tensor and axis that carry it at run time (used to build shapes dynamically). */
  readonly dimSources = new Map<string, { tensor: Tensor; axis: number }>();
  private nextId = 0;

  /** `freshStart`: where fresh-dim numbering starts (a graph derived from another continues its numbering). */
  constructor(
    readonly name = 'graph',
    private nextFresh = 0,
  ) {}

  /** How many fresh dims were made so far (a derived graph starts numbering after them). */
  get freshCount(): number {
    return this.nextFresh;
  }

  /** A new tensor value; registers symbolic dims it introduces. */
  value(dtype: DType, shape: readonly Dim[], source: ValueKind): Tensor {
    for (const d of shape)
      if (typeof d === 'number' && (!Number.isInteger(d) || d < 0))
        throw new ShapeError(`invalid dimension ${d} in ${fmt(shape)}`);
    const t: Tensor = { graph: this, id: this.nextId++, dtype, shape: Object.freeze([...shape]) };
    this.sources.set(t.id, source);
    shape.forEach((d, axis) => {
      if (typeof d === 'string' && !this.dimSources.has(d)) this.dimSources.set(d, { tensor: t, axis });
    });
    return t;
  }

  /** A new symbolic dim for a size only known at run time; numbered per graph so rebuilt graphs serialize alike. */
  freshDim(op: string): string {
    return `${op}_${this.nextFresh++}`;
  }

  input(name: string, dtype: DType, shape: readonly Dim[]): Tensor {
    if (this.inputs.some((t) => (this.sources.get(t.id) as { name: string }).name === name))
      throw new Error(`graph ${this.name}: duplicate input '${name}'`);
    const t = this.value(dtype, shape, { kind: 'input', name });
    this.inputs.push(t);
    return t;
  }

  /** A parameter named as in the checkpoint ('model.layers.0.mlp.up_proj.weight'). Declared once per name. */
  param(name: string, dtype: DType, shape: readonly number[]): Tensor {
    const existing = this.params.get(name);
    if (existing) {
      if (fmt(existing.shape) !== fmt(shape) || existing.dtype !== dtype)
        throw new ShapeError(
          `param ${name} declared twice: ${existing.dtype}${fmt(existing.shape)} vs ${dtype}${fmt(shape)}`,
        );
      return existing;
    }
    const t = this.value(dtype, shape, { kind: 'param', name });
    this.params.set(name, t);
    return t;
  }

  constant(value: HostTensor): Tensor {
    return this.value(value.dtype, value.shape, { kind: 'const', value });
  }

  output(name: string, t: Tensor): void {
    if (t.graph !== this) throw new Error(`output ${name}: tensor belongs to graph ${t.graph.name}`);
    if (this.outputs.some((o) => o.name === name))
      throw new Error(`graph ${this.name}: duplicate output '${name}'`);
    this.outputs.push({ name, tensor: t });
  }

  /** Appends a node whose output dtypes/shapes the caller inferred. */
  node(
    op: string,
    inputs: (Tensor | null)[],
    outputs: { dtype: DType; shape: readonly Dim[] }[],
    attrs: Record<string, AttrValue> = {},
    extra: { domain?: string; composite?: CompositeNode } = {},
  ): Tensor[] {
    for (const t of inputs)
      if (t && t.graph !== this) throw new Error(`${op}: input from another graph (${t.graph.name})`);
    const node: Node = {
      op,
      domain: extra.domain ?? '',
      inputs,
      outputs: [],
      attrs,
      composite: extra.composite,
    };
    for (const o of outputs) node.outputs.push(this.value(o.dtype, o.shape, { kind: 'node', node }));
    this.nodes.push(node);
    return node.outputs;
  }

  nameOf(t: Tensor): string {
    const s = this.sources.get(t.id)!;
    if (s.kind === 'input' || s.kind === 'param') return s.name;
    return `t${t.id}`;
  }
}

/** The graph that owns a set of operands (they must agree). */
export function graphOf(op: string, ...ts: (Tensor | number | null | undefined)[]): Graph {
  let g: Graph | undefined;
  for (const t of ts) {
    if (t === null || t === undefined || typeof t === 'number') continue;
    if (g && t.graph !== g) throw new Error(`${op}: operands from different graphs`);
    g = t.graph;
  }
  if (!g) throw new Error(`${op}: needs at least one tensor operand`);
  return g;
}

export const describe = (t: Tensor): string => `${t.dtype}${fmt(t.shape)}`;
