// Attention for training graphs, a few query heads at a time: the forward pass and its gradient (its own vjp, so
// autodiff keeps the node) each loop over blocks of heads, and the backward pass recomputes each block's
// probabilities from q and k instead of keeping them from the forward pass (the memory-saving half of
// FlashAttention, Dao et al. 2022, over heads instead of tiles). The primitive attention (attention.ts) holds
// [heads, S, T] float32 scores and probabilities, and its gradient several more: ~660 MB each at Qwen2.5-VL-3B
// width (16 heads) and a 3.2k-token sample; here one block's [block, S, T] at a time.
// Heads are a static count, so the loop unrolls at build time whatever the sequence length (a loop over query rows
// would need the run-time length). Same inputs and outputs as attention(): q [B, S, Hq·D], k/v [B, S, Hkv·D], an
// optional past (concatenated; present = the concatenation), causal or not; no bias and no fixed-size cache buffer.
import { type AttentionResult, attentionOutputs, attentionResult, heads, MASKED } from './attention.ts';
import { defineComposite } from './composite.ts';
import type { Graph, Tensor } from './graph.ts';
import {
  add,
  concat,
  constInt64,
  greater,
  matmul,
  mul,
  range,
  reshape,
  shape,
  slice,
  sliceDynamic,
  softmax,
  squeeze,
  sub,
  sum,
  transpose,
  unsqueeze,
  where,
} from './ops.ts';
import { orderedAfter } from './recompute.ts';
import { addDims, compatibleDim, fmt, ShapeError } from './shape.ts';

interface Options {
  numHeads: number;
  kvHeads: number;
  headDim: number;
  scale: number;
  causal: boolean;
  /** Query heads per block: a divisor of numHeads / kvHeads, so a block reads one KV head. */
  block: number;
}

export interface BlockedAttentionOptions {
  numHeads: number;
  kvHeads?: number;
  /** Default 1/sqrt(D). */
  scale?: number;
  causal?: boolean;
  past?: { key: Tensor; value: Tensor };
  /** Query heads per block (default 1). */
  block?: number;
}

const scalarDim = (t: Tensor, axis: number) => squeeze(shape(t, axis, axis + 1), [0]);
const swapLast = (t: Tensor) => transpose(t, [0, 1, 3, 2]);

/** Heads-first q [B, Hq, S, D], k and v [B, Hkv, T, D] (past first), and the causal mask [S, T] (true = hidden). */
function prepare(inputs: (Tensor | null)[], o: Options) {
  const [q, k, v, pastK, pastV] = inputs;
  const g = q!.graph;
  const qh = heads(q!, o.numHeads, o.headDim);
  let kh = heads(k!, o.kvHeads, o.headDim);
  let vh = heads(v!, o.kvHeads, o.headDim);
  if (pastK) {
    kh = concat([pastK, kh], 2);
    vh = concat([pastV!, vh], 2);
  }
  let mask: Tensor | undefined;
  if (o.causal) {
    // Query i (absolute position T − S + i) sees keys j ≤ T − S + i.
    const total = scalarDim(kh, 2);
    const qpos = unsqueeze(add(range(g, 0, scalarDim(qh, 2), 1), sub(total, scalarDim(qh, 2))), [1]);
    mask = greater(unsqueeze(range(g, 0, total, 1), [0]), qpos);
  }
  return { qh, kh, vh, mask };
}

/** Heads [first, first + n) of a heads-first tensor. */
const headRange = (t: Tensor, first: number, n: number): Tensor => slice(t, [1], [first], [first + n]);

/** Softmax probabilities [B, block, S, T] of one block of query heads against its KV head. */
function probabilities(qb: Tensor, kb: Tensor, mask: Tensor | undefined, scale: number): Tensor {
  const scores = mul(matmul(qb, swapLast(kb)), scale);
  return softmax(mask ? where(mask, MASKED, scores) : scores, -1);
}

/** The blocks: first query head and its KV head. */
function blocksOf(o: Options): { first: number; kv: number }[] {
  const rep = o.numHeads / o.kvHeads;
  return Array.from({ length: o.numHeads / o.block }, (_, i) => ({
    first: i * o.block,
    kv: Math.floor((i * o.block) / rep),
  }));
}

/** [B, H, S, D] → [B, S, H·D]. */
const packed = (t: Tensor, like: Tensor) => reshape(transpose(t, [0, 2, 1, 3]), like.shape);

function primitive(_g: Graph, inputs: (Tensor | null)[], o: Options): Tensor[] {
  const { qh, kh, vh, mask } = prepare(inputs, o);
  const ctx = blocksOf(o).map(({ first, kv }) =>
    matmul(
      probabilities(headRange(qh, first, o.block), headRange(kh, kv, 1), mask, o.scale),
      headRange(vh, kv, 1),
    ),
  );
  const out = packed(concat(ctx, 1), inputs[0]!);
  return inputs[3] ? [out, kh, vh] : [out];
}

/**
 * Per block: dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale, dQ = dS·K, dK = dSᵀ·Q (the softmax
 * and matmul rules of autodiff, in the same order). A block's three results are concatenated into one tensor so
 * that ONNX Runtime computes them together and frees the block's [block, S, T] tensors before the next block.
 */
function vjp(
  _g: Graph,
  { x: inputs, dy: [dOut, dPresentK, dPresentV] }: { x: (Tensor | null)[]; dy: (Tensor | null)[] },
  o: Options,
): (Tensor | null)[] {
  if (!dOut) return inputs.map(() => null);
  const [q, k, v, pastK] = inputs;
  // q read after dOut exists: ONNX Runtime neither runs the recomputation early nor merges it with the forward
  // pass's identical nodes (which would keep every block's probabilities alive from the forward pass on).
  const { qh, kh, vh, mask } = prepare([orderedAfter(q!, dOut), ...inputs.slice(1)], o);
  const dO = heads(dOut, o.numHeads, o.headDim);
  const g = q!.graph;
  const [sLen, tLen] = [shape(qh, 2, 3), shape(kh, 2, 3)];
  const results = blocksOf(o).map(({ first, kv }) => {
    const [qb, kb, vb] = [headRange(qh, first, o.block), headRange(kh, kv, 1), headRange(vh, kv, 1)];
    const dOb = headRange(dO, first, o.block);
    const p = probabilities(qb, kb, mask, o.scale);
    const dV = matmul(swapLast(p), dOb);
    const dP = matmul(dOb, swapLast(vb));
    const dS = mul(mul(p, sub(dP, sum(mul(dP, p), [-1], true))), o.scale);
    const [bq, , sq, d] = qb.shape;
    const parts = g.node(
      'Split',
      [concat([matmul(dS, kb), matmul(swapLast(dS), qb), dV], 2), concat([sLen, tLen, tLen], 0)],
      [
        { dtype: q!.dtype, shape: [bq, o.block, sq, d] },
        { dtype: q!.dtype, shape: [bq, o.block, kh.shape[2], d] },
        { dtype: q!.dtype, shape: [bq, o.block, kh.shape[2], d] },
      ],
      { axis: 2 },
    );
    const overBlock = (t: Tensor) => (o.block === 1 ? t : sum(t, [1], true));
    return { kv, dQ: parts[0], dK: overBlock(parts[1]), dV: overBlock(parts[2]) };
  });
  const perKv = (pick: (r: (typeof results)[number]) => Tensor, present: Tensor | null) => {
    const byHead = Array.from({ length: o.kvHeads }, (_, h) =>
      results
        .filter((r) => r.kv === h)
        .map(pick)
        .reduce((a, b) => add(a, b)),
    );
    const total = concat(byHead, 1);
    return present ? add(total, present) : total;
  };
  const dK = perKv((r) => r.dK, dPresentK);
  const dV = perKv((r) => r.dV, dPresentV);
  const dq = packed(
    concat(
      results.map((r) => r.dQ),
      1,
    ),
    q!,
  );
  if (!pastK) return [dq, packed(dK, k!), packed(dV, v!), null, null];
  // Past positions first, then the new ones.
  const p = shape(pastK, 2, 3);
  const split = (t: Tensor, x: Tensor) => [
    packed(sliceDynamic(t, [2], p, tLen), x),
    sliceDynamic(t, [2], constInt64(g, [0]), p),
  ];
  const [dk, dPastK] = split(dK, k!);
  const [dv, dPastV] = split(dV, v!);
  return [dq, dk, dv, dPastK, dPastV];
}

const node = defineComposite<Options>('BlockedAttention', { primitive, vjp });

/** attention() (attention.ts) computed and differentiated one block of query heads at a time. */
export function blockedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: BlockedAttentionOptions,
): AttentionResult {
  const numHeads = opts.numHeads;
  const kvHeads = opts.kvHeads ?? numHeads;
  const block = opts.block ?? 1;
  const hidden = q.shape[2];
  if (typeof hidden !== 'number' || hidden % numHeads !== 0 || numHeads % kvHeads !== 0)
    throw new ShapeError(
      `BlockedAttention: q ${fmt(q.shape)} does not split into ${numHeads} heads grouped over ${kvHeads} KV heads`,
    );
  if ((numHeads / kvHeads) % block !== 0)
    throw new ShapeError(
      `BlockedAttention: a block of ${block} heads must divide the ${numHeads / kvHeads} query heads of a KV head`,
    );
  const headDim = hidden / numHeads;
  if (!compatibleDim(k.shape[2], kvHeads * headDim) || fmt(k.shape) !== fmt(v.shape))
    throw new ShapeError(
      `BlockedAttention: k ${fmt(k.shape)} / v ${fmt(v.shape)} must be [B, S, ${kvHeads}·${headDim}]`,
    );
  const o: Options = {
    numHeads,
    kvHeads,
    headDim,
    scale: opts.scale ?? 1 / Math.sqrt(headDim),
    causal: !!opts.causal,
    block,
  };
  const past = opts.past;
  const presentShape = past && [k.shape[0], kvHeads, addDims(past.key.shape[2], k.shape[1]), headDim];
  const outs = node(
    q.graph,
    [q, k, v, past?.key ?? null, past?.value ?? null],
    attentionOutputs(q, presentShape),
    o,
  );
  return attentionResult(outs, !!past);
}
