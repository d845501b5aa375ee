// The training-step runner. One optimizer step = one ONNX Runtime run of a graph holding the forward pass, its
// gradient (autodiff) and the optimizer update; with gradient accumulation the first micro-batches run a
// forward + backward graph that adds into gradient accumulators and the last one runs the update graph.
//
// Parameters, optimizer state and accumulators live in host buffers that ONNX Runtime reads and writes in place:
// onnxruntime-node wraps input typed arrays without copying and writes preallocated outputs in place
// (`Session.runInto`), so a step copies no parameter or state bytes on the host; `bytes` reports what crosses the
// JS/runtime boundary per step. A tensor's new value is written into the buffer it was read from when the graph
// allows it (engine/in_place.ts: every other reader runs first; with gradient clipping every update waits for the
// global norm); otherwise it has a pair of buffers, one read and the other written, alternating per step. Frozen
// tensors are fed as they are, never copied. Runs are on the main thread: a worker would have to copy (or share)
// every buffer.
import { backward, hasVjp } from '../engine/autodiff.ts';
import { inPlaceSafe } from '../engine/in_place.ts';
import * as E from '../engine/index.ts';
import { type Feeds, Session, type SessionOptions } from '../runtime/session.ts';
import type { HostTensor } from '../tensor.ts';
import { openSafetensors, writeSafetensors } from '../weights/safetensors.ts';
import {
  clipByGlobalNorm,
  globalNorm,
  groupScalars,
  type OptimizerConfig,
  scalarNames,
  stateSlots,
  update,
} from './optim.ts';
import { replay } from './replay.ts';
import { lrFactor, type Schedule } from './schedule.ts';

export interface ParamGroup {
  name: string;
  /** Trainable parameters whose name matches join this group (the first matching group wins). */
  match: RegExp | ((name: string) => boolean);
  lr: number;
  weightDecay?: number;
}

export interface TrainerOptions {
  /** The graph output holding the scalar loss (default 'loss'). */
  loss?: string;
  /** Other forward outputs to compute and return with each step (default none). */
  outputs?: string[];
  /** Which parameters train; the rest are frozen (fed unchanged, no gradient computed for them). */
  trainable: (name: string) => boolean;
  optimizer: OptimizerConfig;
  /** Base rate and weight decay of the parameters no group matches. */
  lr: number;
  weightDecay?: number;
  groups?: ParamGroup[];
  schedule?: Schedule;
  /** Clip the global gradient norm to this value (torch clip_grad_norm_). */
  maxGradNorm?: number;
  session?: SessionOptions;
  /** Also return each step's accumulated gradients before clipping (parity checks; costs one copy per step). */
  keepGradients?: boolean;
  /** The trainer may update the given trainable tensors themselves (the caller no longer reads them): no copy. */
  adopt?: boolean;
  /**
   * Activation checkpointing: the backward pass recomputes each segment between the graph's recompute boundaries
   * (decoder layers) from its saved input instead of keeping its activations (engine/recompute.ts).
   */
  recompute?: boolean;
}

export interface StepResult {
  /** Optimizer steps done after this one. */
  step: number;
  /** Loss of each micro-batch. */
  losses: number[];
  /** Global gradient norm before clipping (when maxGradNorm is set). */
  gradNorm?: number;
  /** A gradient was NaN or infinite: parameters and optimizer state were left unchanged. */
  skipped?: boolean;
  /** Accumulated gradients before clipping, by parameter (with keepGradients). */
  gradients?: Map<string, HostTensor>;
  /** Rate used per group. */
  lr: Record<string, number>;
  /** Other outputs of the forward graph, per micro-batch. */
  outputs: Record<string, HostTensor>[];
  /** Bytes fed to and fetched from ONNX Runtime over the whole step (all micro-batches). */
  bytes: { fed: number; fetched: number };
}

type Kind = 'step' | 'accumulate' | 'step+acc' | 'forward';

const CHECKPOINT_FORMAT = 'spatial-mllm/train-checkpoint/1';

/**
 * The buffers of a tensor the step rewrites: one read, the other written, alternating per step; both the same
 * buffer when it is updated in place (the default, until a graph shows it cannot be).
 */
type Pair = [HostTensor, HostTensor];

const clone = (t: HostTensor): HostTensor => ({ dtype: t.dtype, shape: [...t.shape], data: t.data.slice() });
const zerosLike = (t: HostTensor): HostTensor => ({
  dtype: t.dtype,
  shape: [...t.shape],
  data: new (t.data.constructor as Float32ArrayConstructor)(t.data.length),
});

export class Trainer {
  /** Optimizer steps taken (skipped ones included: the schedule and the data order move on). */
  stepsDone = 0;
  /** Steps whose update was skipped for non-finite gradients (AdamW's bias correction counts the others). */
  skippedSteps = 0;
  private parity: 0 | 1 = 0;
  private readonly sessions = new Map<Kind, Promise<Session>>();
  private readonly groupOf = new Map<string, ParamGroup>();
  private readonly params = new Map<string, Pair>();
  private readonly state = new Map<string, Pair>();
  /** Gradient accumulators per trainable parameter (micro-batch i reads [i % 2], writes [(i + 1) % 2]). */
  private readonly acc = new Map<string, Pair>();
  private readonly slots: string[];
  private readonly lossName: string;

  private constructor(
    private readonly forward: E.Graph,
    private readonly frozen: Map<string, HostTensor>,
    readonly trainable: string[],
    private readonly o: TrainerOptions,
  ) {
    this.lossName = o.loss ?? 'loss';
    this.slots = stateSlots(o.optimizer);
  }

  /** A trainer for `graph` (with a scalar loss output) starting from `weights` (every parameter it uses). */
  static create(graph: E.Graph, weights: Map<string, HostTensor>, o: TrainerOptions): Trainer {
    // Only what the loss and the requested outputs need.
    const forward = replay(graph, { outputs: [o.loss ?? 'loss', ...(o.outputs ?? [])] });
    const names = [...forward.params.keys()];
    const missing = names.filter((n) => !weights.has(n));
    if (missing.length) throw new Error(`trainer: no weights for ${missing.slice(0, 5).join(', ')}`);
    const trainable = names.filter(o.trainable).sort();
    if (trainable.length === 0) throw new Error('trainer: no parameter of the graph is trainable');
    const frozen = new Map(names.filter((n) => !o.trainable(n)).map((n) => [n, weights.get(n)!]));
    const t = new Trainer(forward, frozen, trainable, o);
    const fallback: ParamGroup = { name: 'default', match: /.*/, lr: o.lr, weightDecay: o.weightDecay };
    for (const name of trainable) {
      const w = weights.get(name)!;
      if (w.dtype !== 'float32')
        throw new Error(`trainer: trainable parameter ${name} is ${w.dtype}, not float32`);
      const p = o.adopt ? w : clone(w);
      t.params.set(name, [p, p]);
      for (const slot of t.slots) {
        const s = zerosLike(w);
        t.state.set(`${slot}:${name}`, [s, s]);
      }
      t.groupOf.set(name, o.groups?.find((g) => matchesGroup(g, name)) ?? fallback);
    }
    return t;
  }

  /** Groups that hold at least one parameter. */
  get groups(): ParamGroup[] {
    return [...new Set(this.groupOf.values())];
  }

  /** Current values of every parameter (trainable ones are views, valid until the next step). */
  parameters(): Map<string, HostTensor> {
    const out = new Map(this.frozen);
    for (const [name, pair] of this.params) out.set(name, pair[this.parity]);
    return out;
  }

  /** Optimizer state by `<slot>:<param>` (views, valid until the next step). */
  optimizerState(): Map<string, HostTensor> {
    return new Map([...this.state].map(([k, pair]) => [k, pair[this.parity]]));
  }

  /** The step graph of a kind: forward, gradients, then accumulation or clipping and the optimizer update. */
  buildGraph(kind: Kind): E.Graph {
    if (kind === 'forward') return this.forward;
    const bw = backward(this.forward, this.lossName, this.trainable, { recompute: this.o.recompute });
    const g = bw.graph;
    let grads = this.trainable.map((n) => bw.grads.get(n)!);
    if (kind !== 'step')
      grads = grads.map((d, i) => E.add(d, g.input(`grad_acc:${this.trainable[i]}`, 'float32', d.shape)));
    if (kind === 'accumulate') {
      grads.forEach((d, i) => {
        g.output(`new:grad_acc:${this.trainable[i]}`, d);
      });
      return g;
    }
    if (this.o.keepGradients)
      grads.forEach((d, i) => {
        g.output(`grad:${this.trainable[i]}`, d);
      });
    let norm: E.Tensor;
    if (this.o.maxGradNorm !== undefined) {
      const clipped = clipByGlobalNorm(grads, this.o.maxGradNorm);
      grads = clipped.grads;
      norm = clipped.norm;
      g.output('grad_norm', norm);
    } else norm = globalNorm(grads);
    // Non-finite guard: with a NaN or infinite gradient anywhere the update keeps every tensor as it was
    // (norm − norm is 0 only for a finite norm).
    const finite = E.equal(E.sub(norm, norm), 0);
    g.output('grads_finite', finite);
    const guarded = (updated: E.Tensor, old: E.Tensor) => E.where(finite, updated, old);
    const scalars = new Map(
      this.groups.map((grp) => [
        grp.name,
        Object.fromEntries(
          scalarNames(this.o.optimizer).map((s) => [s, g.input(`${s}:${grp.name}`, 'float32', [])]),
        ),
      ]),
    );
    this.trainable.forEach((name, i) => {
      const p = bw.values.get(name)!;
      const state = this.slots.map((s) => g.input(`${s}:${name}`, 'float32', p.shape));
      const u = update(this.o.optimizer, p, grads[i], state, scalars.get(this.groupOf.get(name)!.name)!);
      g.output(`new:${name}`, guarded(u.param, p));
      u.state.forEach((s, k) => {
        g.output(`new:${this.slots[k]}:${name}`, guarded(s, state[k]));
      });
    });
    return g;
  }

  private session(kind: Kind): Promise<Session> {
    let s = this.sessions.get(kind);
    if (!s) {
      const g = trainingGraph(this.buildGraph(kind));
      if (kind !== 'forward') this.splitUnsafe(g);
      s = Session.create(E.toOnnx(g, { lowering: 'fused', params: 'inputs' }).bytes, {
        releaseBuffers: true,
        ...this.o.session,
      });
      this.sessions.set(kind, s);
    }
    return s;
  }

  /** Gives a second buffer to each tensor `g` cannot update in place (engine/in_place.ts). */
  private splitUnsafe(g: E.Graph): void {
    const outputs = new Map(g.outputs.map((o) => [o.name, o.tensor]));
    if (outputs.has(`new:grad_acc:${this.trainable[0]}`))
      for (const n of this.trainable) this.accumulators(n);
    const written: [string, Pair][] = [
      ...this.params,
      ...this.state,
      ...[...this.acc].map(([n, pair]): [string, Pair] => [`grad_acc:${n}`, pair]),
    ].filter(([key]) => outputs.has(`new:${key}`));
    const input = (key: string) => g.params.get(key) ?? g.inputs.find((t) => g.nameOf(t) === key)!;
    const safe = inPlaceSafe(
      g,
      written.map(([key]) => ({ input: input(key), output: outputs.get(`new:${key}`)! })),
      outputs.get('grad_norm'),
    );
    written.forEach(([key, pair], i) => {
      if (safe[i] || pair[0] !== pair[1]) return;
      // Parameters and state keep their value in the buffer of the current parity; accumulators restart each step.
      const keep = key.startsWith('grad_acc:') ? 0 : this.parity;
      pair[1 - keep] = zerosLike(pair[keep]);
    });
  }

  /** The rate of each group for the update about to be taken. */
  currentLr(): Record<string, number> {
    const f = lrFactor(this.o.schedule ?? { kind: 'constant' }, this.stepsDone);
    return Object.fromEntries(this.groups.map((g) => [g.name, g.lr * f]));
  }

  /**
   * One optimizer step over one or more micro-batches: their gradients are summed (normalize the loss by the
   * whole step's token count to average them).
   */
  async step(microBatches: Feeds[]): Promise<StepResult> {
    if (microBatches.length === 0) throw new Error('trainer: a step needs at least one micro-batch');
    const cur = this.parity;
    const next = (1 - cur) as 0 | 1;
    const lr = this.currentLr();
    const result: StepResult = {
      step: this.stepsDone + 1,
      losses: [],
      lr,
      outputs: [],
      bytes: { fed: 0, fetched: 0 },
    };
    const base: Feeds = Object.fromEntries(this.frozen);
    for (const [name, pair] of this.params) base[name] = pair[cur];
    const last = microBatches.length - 1;
    for (let i = 0; i <= last; i++) {
      const kind: Kind = last === 0 ? 'step' : i === last ? 'step+acc' : 'accumulate';
      const session = await this.session(kind);
      const feeds: Feeds = { ...base, ...microBatches[i] };
      const fetches: Record<string, HostTensor> = {};
      if (kind !== 'step')
        for (const name of this.trainable) {
          const acc = this.accumulators(name);
          if (i === 0) (acc[0].data as Float32Array).fill(0);
          feeds[`grad_acc:${name}`] = acc[i % 2];
          if (kind === 'accumulate') fetches[`new:grad_acc:${name}`] = acc[(i + 1) % 2];
        }
      if (kind !== 'accumulate') {
        for (const [name, pair] of this.params) fetches[`new:${name}`] = pair[next];
        for (const [key, pair] of this.state) {
          feeds[key] = pair[cur];
          fetches[`new:${key}`] = pair[next];
        }
        for (const grp of this.groups) {
          const values = groupScalars(
            this.o.optimizer,
            lr[grp.name],
            grp.weightDecay ?? 0,
            this.stepsDone - this.skippedSteps,
          );
          for (const [s, v] of Object.entries(values))
            feeds[`${s}:${grp.name}`] = { dtype: 'float32', shape: [], data: Float32Array.of(v) };
        }
      }
      const out = await session.runInto(feeds, fetches);
      result.bytes.fed += sumBytes(Object.values(feeds));
      result.bytes.fetched += sumBytes(Object.values(fetches)) + sumBytes(Object.values(out));
      result.losses.push(Number(out[this.lossName].data[0]));
      if (out.grad_norm) result.gradNorm = Number(out.grad_norm.data[0]);
      if (out.grads_finite && !out.grads_finite.data[0]) result.skipped = true;
      const { [this.lossName]: _, grad_norm: __, grads_finite: ___, ...rest } = out;
      for (const key of Object.keys(rest))
        if (key.startsWith('grad:')) {
          result.gradients ??= new Map();
          result.gradients.set(key.slice(5), rest[key]);
          delete rest[key];
        }
      result.outputs.push(rest);
    }
    this.parity = next;
    this.stepsDone++;
    if (result.skipped) this.skippedSteps++;
    return result;
  }

  /** The forward outputs (loss and the requested outputs) at the current parameters; nothing is updated. */
  async evaluate(batch: Feeds): Promise<Record<string, HostTensor>> {
    const session = await this.session('forward');
    const feeds: Feeds = Object.fromEntries(this.frozen);
    for (const [name, pair] of this.params) feeds[name] = pair[this.parity];
    return session.run({ ...feeds, ...batch });
  }

  private accumulators(name: string): Pair {
    let a = this.acc.get(name);
    if (!a) {
      const z = zerosLike(this.params.get(name)![0]);
      a = [z, z];
      this.acc.set(name, a);
    }
    return a;
  }

  /**
   * Writes trainable parameters, optimizer moments (`optimizer.<slot>.<param>`), the step and `extra` (e.g. the
   * data RNG state) to one safetensors file, atomically (temp file + rename).
   */
  save(path: string, extra: Record<string, unknown> = {}): void {
    const tensors = new Map<string, HostTensor>();
    for (const [name, pair] of this.params) tensors.set(name, pair[this.parity]);
    for (const [key, pair] of this.state) {
      const [slot, ...rest] = key.split(':');
      tensors.set(`optimizer.${slot}.${rest.join(':')}`, pair[this.parity]);
    }
    writeSafetensors(path, tensors, {
      format: CHECKPOINT_FORMAT,
      step: String(this.stepsDone),
      skipped: String(this.skippedSteps),
      optimizer: JSON.stringify(this.o.optimizer),
      extra: JSON.stringify(extra),
    });
  }

  /** Restores a checkpoint written by save (same graph and optimizer); returns its `extra`. */
  load(path: string): Record<string, unknown> {
    const file = openSafetensors(path);
    const meta = file.metadata;
    const refuse = (why: string) => {
      file.close();
      return new Error(why);
    };
    if (meta.format !== CHECKPOINT_FORMAT)
      throw refuse(`${path} is not a training checkpoint (format ${meta.format ?? 'missing'})`);
    if (meta.optimizer !== JSON.stringify(this.o.optimizer))
      throw refuse(
        `${path} was written with optimizer ${meta.optimizer}, this trainer uses ${JSON.stringify(this.o.optimizer)}`,
      );
    const restore = (key: string, pair: Pair) => {
      if (!file.names().includes(key)) throw new Error(`${path} has no tensor ${key}`);
      const t = file.read(key);
      const dst = pair[this.parity];
      if (t.dtype !== dst.dtype || t.shape.join() !== dst.shape.join())
        throw new Error(`${path}: ${key} is ${t.dtype}[${t.shape}], expected ${dst.dtype}[${dst.shape}]`);
      (dst.data as Float32Array).set(t.data as Float32Array);
    };
    try {
      for (const [name, pair] of this.params) restore(name, pair);
      for (const [key, pair] of this.state) {
        const [slot, ...rest] = key.split(':');
        restore(`optimizer.${slot}.${rest.join(':')}`, pair);
      }
    } finally {
      file.close();
    }
    this.stepsDone = Number(meta.step);
    this.skippedSteps = Number(meta.skipped ?? 0);
    return JSON.parse(meta.extra ?? '{}');
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}

/**
 * A training (or reference forward) graph as ONNX bytes, parameters as inputs: composites lowered to primitive ops
 * (what autodiff differentiates), except those with their own gradient rule, which run fused (MatMulNBits: a frozen
 * quantized weight stays quantized, matmul_nbits.ts).
 */
export const trainingOnnx = (graph: E.Graph): Uint8Array =>
  E.toOnnx(trainingGraph(graph), { lowering: 'fused', params: 'inputs' }).bytes;

/** The graph trainingOnnx serializes, before the fused lowering of what autodiff keeps. */
export const trainingGraph = (graph: E.Graph): E.Graph => E.lower(graph, 'primitive', hasVjp);

export const matchesGroup = (g: ParamGroup, name: string): boolean =>
  typeof g.match === 'function' ? g.match(name) : g.match.test(name);

const sumBytes = (ts: HostTensor[]) => ts.reduce((n, t) => n + t.data.byteLength, 0);
