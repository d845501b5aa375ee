// Scaled dot-product attention on packed heads: q [B, S, Hq·D], k/v [B, S, Hkv·D] (Hq a multiple of Hkv: grouped
// KV heads), an optional KV cache (past [B, Hkv, P, D] → present [B, Hkv, P+S, D]), a causal mask and/or an
// additive bias [1|B, 1|Hq, S, P+S] (padding or block-diagonal masks). Output [B, S, Hq·D].
// A cache can also be a fixed-size buffer (past [B, Hkv, M, D] whose first `length` positions are valid): the new
// keys/values are written at [length, length + S) and present has the buffer's shape, so a caller can bind the
// same memory as past and present (GroupQueryAttention's shared past/present buffer: nothing is copied per step).
// Present positions from length + S on are unspecified unless present is bound to the past buffer (then unchanged).
// A read-only buffer (the caller writes the new rows itself: text_decoder.ts) has no present outputs.
// Fused lowerings: causal without bias → com.microsoft.GroupQueryAttention; non-causal with Hq = Hkv →
// com.microsoft.MultiHeadAttention. Anything else expands to primitive ops. With a read-only buffer a one-token
// step (decoding) instead runs grouped MatMuls over the buffer where it lies (see decodeStep), chosen at run time
// by an If on the sequence length.

import { tensor } from '../tensor.ts';
import { defineComposite } from './composite.ts';
import { ifElse } from './control_flow.ts';
import type { Graph, Tensor } from './graph.ts';
import {
  add,
  cast,
  concat,
  constant,
  equal,
  expand,
  greater,
  greaterOrEqual,
  matmul,
  mul,
  range,
  reshape,
  scalar,
  shape,
  sliceDynamic,
  softmax,
  squeeze,
  sub,
  transpose,
  unsqueeze,
  where,
} from './ops.ts';
import { addDims, compatibleDim, type Dim, fmt, ShapeError } from './shape.ts';

export interface AttentionOptions {
  numHeads: number;
  kvHeads?: number;
  /** Default 1/sqrt(D). */
  scale?: number;
  causal?: boolean;
  bias?: Tensor;
  /**
   * `length` (int64 [1]): the cache is a fixed-size buffer holding `length` valid positions (see above);
   * `readOnly`: the caller writes the new rows into it (no present outputs).
   */
  past?: { key: Tensor; value: Tensor; length?: Tensor; readOnly?: boolean };
}

export interface AttentionResult {
  out: Tensor;
  present?: { key: Tensor; value: Tensor };
}

interface Options {
  numHeads: number;
  kvHeads: number;
  headDim: number;
  scale: number;
  causal: boolean;
  hasBias: boolean;
  hasPast: boolean;
  /** The past is a fixed-size buffer with a valid length (input 6). */
  buffer?: boolean;
  /** ... that the caller updates: the op gives its output only. */
  readOnly?: boolean;
}

/** The most negative float32, as HF uses for masked logits (keeps fully masked rows finite). */
export const MASKED = -3.4028234663852886e38;

const scalarDim = (t: Tensor, axis: number) => squeeze(shape(t, axis, axis + 1), [0]);

/** [B, S, H·D] → [B, H, S, D]. */
export const heads = (x: Tensor, h: number, d: number) =>
  transpose(reshape(x, [x.shape[0], x.shape[1], h, d]), [0, 2, 1, 3]);

/** The buffer `past` with `update` [B, H, S, D] written at positions [length, length + S) of axis 2. */
function writeAt(past: Tensor, update: Tensor, length: Tensor): Tensor {
  const end = add(length, shape(update, 2, 3));
  const before = sliceDynamic(past, [2], constant(past.graph, tensor('int64', [1], [0])), length);
  const after = sliceDynamic(past, [2], end, shape(past, 2, 3));
  return reshape(concat([before, update, after], 2), past.shape);
}

function primitive(g: Graph, inputs: (Tensor | null)[], o: Options): Tensor[] {
  const [q, k, v, bias, pastK, pastV, length] = inputs;
  const [b, s] = q!.shape;
  const qh = heads(q!, o.numHeads, o.headDim);
  let kh = heads(k!, o.kvHeads, o.headDim);
  let vh = heads(v!, o.kvHeads, o.headDim);
  if (length) {
    // Keys past length + S hold stale values: the causal mask (query i at length + i) excludes them.
    kh = writeAt(pastK!, kh, length);
    vh = writeAt(pastV!, vh, length);
  } else if (pastK) {
    kh = concat([pastK, kh], 2);
    vh = concat([pastV!, vh], 2);
  }
  const present = pastK && !o.readOnly ? [kh, vh] : [];
  const rep = o.numHeads / o.kvHeads;
  const repeat = (t: Tensor) => {
    if (rep === 1) return t;
    const [bb, hk, tt, dd] = t.shape;
    return reshape(expand(unsqueeze(t, [2]), [bb, hk, rep, tt, dd]), [bb, o.numHeads, tt, dd]);
  };
  let scores = mul(matmul(qh, transpose(repeat(kh), [0, 1, 3, 2])), o.scale);
  if (o.causal) {
    // query i (absolute position P + i) sees keys j ≤ P + i.
    const total = scalarDim(kh, 2);
    const past = length ? squeeze(length, [0]) : sub(total, scalarDim(qh, 2));
    const qpos = unsqueeze(add(range(g, 0, scalarDim(qh, 2), 1), past), [1]);
    const kpos = unsqueeze(range(g, 0, total, 1), [0]);
    scores = where(greater(kpos, qpos), MASKED, scores);
  }
  if (bias) scores = add(scores, cast(bias, scores.dtype));
  const ctx = matmul(softmax(scores, -1), repeat(vh));
  return [reshape(transpose(ctx, [0, 2, 1, 3]), [b, s, o.numHeads * o.headDim]), ...present];
}

/**
 * One new token against a read-only buffer [B, Hkv, M, D] (decoding): the Hq/Hkv query heads of a group share one
 * MatMul over their key rows, read in place (positions from `length` on are masked), and the new key / value
 * [B, 1, Hkv·D], not yet in the buffer, join as one more softmax column. GroupQueryAttention here would copy the
 * buffer into its present output, once per query head (onnxruntime contrib_ops/cpu/bert/gqa_attention_base.h,
 * ConcatStateChunkGQA): at 3,200 positions 0.95 ms per layer against 0.35 ms for this.
 */
function decodeStep(g: Graph, [q, k, v, pastK, pastV, length]: Tensor[], o: Options): Tensor {
  const [b, , hidden] = q.shape;
  const group = o.numHeads / o.kvHeads;
  const qg = mul(reshape(q, [b, o.kvHeads, group, o.headDim]), o.scale); // head h reads KV head ⌊h / group⌋
  const kNew = reshape(k, [b, o.kvHeads, 1, o.headDim]);
  const vNew = reshape(v, [b, o.kvHeads, 1, o.headDim]);
  const cached = pastK.shape[2];
  const stale = greaterOrEqual(range(g, 0, scalarDim(pastK, 2), 1), length); // [M]
  const scores = concat(
    [
      where(stale, MASKED, matmul(qg, transpose(pastK, [0, 1, 3, 2]))),
      matmul(qg, transpose(kNew, [0, 1, 3, 2])),
    ],
    -1,
  ); // [B, Hkv, group, M + 1]
  const p = softmax(scores, -1);
  const m = shape(pastK, 2, 3);
  const pCached = reshape(sliceDynamic(p, [3], constant(g, tensor('int64', [1], [0])), m), [
    b,
    o.kvHeads,
    group,
    cached,
  ]);
  const pNew = sliceDynamic(p, [3], m, add(m, 1));
  const ctx = add(matmul(pCached, pastV), matmul(pNew, vNew)); // [B, Hkv, group, D]
  return reshape(ctx, [b, 1, hidden]);
}

/** GroupQueryAttention's outputs: out, present key, present value. */
function groupQueryAttention(g: Graph, inputs: (Tensor | null)[], o: Options): Tensor[] {
  const [q, k, v, , pastK, pastV, length] = inputs;
  // seqlens_k = total length − 1 per batch row (no padding), total_sequence_length scalar. With a buffer, present
  // has the past's shape and ONNX Runtime shares the memory when both are bound to it
  // (onnxruntime contrib_ops/cpu/bert/group_query_attention.cc: past_present_share_buffer).
  const past = length ?? (pastK ? shape(pastK, 2, 3) : null);
  const total = past ? add(past, shape(q!, 1, 2)) : shape(q!, 1, 2);
  const totalI32 = cast(squeeze(total, [0]), 'int32');
  const seqlens = cast(expand(sub(total, 1), [q!.shape[0]]), 'int32');
  const presentShape = (p: Tensor | null): Dim[] =>
    length
      ? [...p!.shape]
      : [q!.shape[0], o.kvHeads, p ? addDims(p.shape[2], q!.shape[1]) : q!.shape[1], o.headDim];
  return g.node(
    'GroupQueryAttention',
    [q, k, v, pastK, pastV, seqlens, totalI32],
    [
      { dtype: q!.dtype, shape: q!.shape },
      { dtype: q!.dtype, shape: presentShape(pastK) },
      { dtype: q!.dtype, shape: presentShape(pastK) },
    ],
    { num_heads: o.numHeads, kv_num_heads: o.kvHeads, scale: { float: o.scale } },
    { domain: 'com.microsoft' },
  );
}

function fused(g: Graph, inputs: (Tensor | null)[], o: Options): Tensor[] | undefined {
  const [q, k, v, bias, pastK, pastV, length] = inputs;
  const outShape = q!.shape;
  if (o.causal && !bias && o.readOnly && length) {
    const oneToken = equal(shape(q!, 1, 2), 1);
    const [out] = ifElse(
      oneToken,
      () => [decodeStep(g, [q!, k!, v!, pastK!, pastV!, length], o)],
      () => [groupQueryAttention(g, inputs, o)[0]],
    );
    // The If's output dims are fresh where the branches' differ: the op's output is shaped like q.
    return [reshape(out, outShape)];
  }
  if (o.causal && !bias) {
    const outs = groupQueryAttention(g, inputs, o);
    return pastK ? outs : [outs[0]];
  }
  if (!o.causal && o.numHeads === o.kvHeads && !pastK) {
    return g.node(
      'MultiHeadAttention',
      [q, k, v, null, null, bias ? cast(bias, q!.dtype) : null],
      [{ dtype: q!.dtype, shape: outShape }],
      { num_heads: o.numHeads, scale: { float: o.scale } },
      { domain: 'com.microsoft' },
    );
  }
  return undefined;
}

const node = defineComposite<Options>('Attention', { primitive, fused });

export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): AttentionResult {
  const numHeads = opts.numHeads;
  const kvHeads = opts.kvHeads ?? numHeads;
  const hidden = q.shape[2];
  if (q.shape.length !== 3 || k.shape.length !== 3 || v.shape.length !== 3)
    throw new ShapeError(
      `Attention: q, k, v must be [B, S, H·D], got ${fmt(q.shape)}, ${fmt(k.shape)}, ${fmt(v.shape)}`,
    );
  if (typeof hidden !== 'number' || hidden % numHeads !== 0 || numHeads % kvHeads !== 0)
    throw new ShapeError(
      `Attention: q ${fmt(q.shape)} does not split into ${numHeads} heads grouped over ${kvHeads} KV heads`,
    );
  const headDim = hidden / numHeads;
  if (!compatibleDim(k.shape[2], kvHeads * headDim) || fmt(k.shape) !== fmt(v.shape))
    throw new ShapeError(
      `Attention: k ${fmt(k.shape)} / v ${fmt(v.shape)} must be [B, S, ${kvHeads}·${headDim}]`,
    );
  const past = opts.past;
  if (past?.length && (past.length.dtype !== 'int64' || fmt(past.length.shape) !== fmt([1])))
    throw new ShapeError(
      `Attention: past length must be int64 [1], got ${past.length.dtype}${fmt(past.length.shape)}`,
    );
  if (
    past &&
    (past.key.shape.length !== 4 ||
      !compatibleDim(past.key.shape[1], kvHeads) ||
      past.key.shape[3] !== headDim)
  )
    throw new ShapeError(`Attention: past key ${fmt(past.key.shape)} must be [B, ${kvHeads}, P, ${headDim}]`);
  if (past?.readOnly && !past.length)
    throw new ShapeError('Attention: a read-only past must be a buffer with a length');
  const o: Options = {
    numHeads,
    kvHeads,
    headDim,
    scale: opts.scale ?? 1 / Math.sqrt(headDim),
    causal: !!opts.causal,
    hasBias: !!opts.bias,
    hasPast: !!past,
    ...(past?.length ? { buffer: true } : {}),
    ...(past?.readOnly ? { readOnly: true } : {}),
  };
  const present = past && !past.readOnly;
  const total = past?.length ? past.key.shape[2] : past ? addDims(past.key.shape[2], k.shape[1]) : k.shape[1];
  const presentShape = [k.shape[0], kvHeads, total, headDim];
  const outs = node(
    q.graph,
    [q, k, v, opts.bias ?? null, past?.key ?? null, past?.value ?? null, past?.length ?? null],
    attentionOutputs(q, present ? presentShape : undefined),
    o,
  );
  return attentionResult(outs, !!present);
}

/** An attention op's outputs: out shaped like q, then present key / value [B, KVH, total, D] when there is a past. */
export const attentionOutputs = (q: Tensor, presentShape: Dim[] | undefined) => [
  { dtype: q.dtype, shape: q.shape },
  ...(presentShape ? [0, 1].map(() => ({ dtype: q.dtype, shape: presentShape })) : []),
];

export const attentionResult = (outs: Tensor[], hasPast: boolean): AttentionResult => ({
  out: outs[0],
  present: hasPast ? { key: outs[1], value: outs[2] } : undefined,
});

/** Additive mask [1, 1, S, S] that lets tokens attend only within their own segment (cu_seqlens boundaries). */
export function segmentBias(g: Graph, segmentIds: Tensor): Tensor {
  const same = equal(unsqueeze(segmentIds, [1]), unsqueeze(segmentIds, [0]));
  return unsqueeze(where(same, scalar(g, 0), scalar(g, MASKED)), [0, 1]);
}
