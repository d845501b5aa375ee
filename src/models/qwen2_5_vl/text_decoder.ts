// The Qwen2.5-VL language model (transformers `Qwen2_5_VLModel` + lm_head) as one graph used for both prefill and
// incremental decoding: token ids → embeddings, visual features scattered into the <|image_pad|>/<|video_pad|>
// positions, N decoder layers with M-RoPE and a KV cache, final RMSNorm, logits.
//
// Inputs:  input_ids [1, S] int64; position_ids [3, 1, S] int64 (rope_index.ts); visual_embeds [V, H] and
//          visual_index [V, 1] int64 (positions of the pad tokens; V = 0 when decoding);
//          past_key.i / past_value.i [1, KVH, P, D] (P = 0 on the first call).
// Outputs: logits [1, S, vocab] (or [1, 1, vocab] for the last position), present_key.i / present_value.i
//          (with a cache buffer: new_key.i / new_value.i, the S new positions only),
//          optionally hidden_states [L+1, 1, S, H] as HF's output_hidden_states (last entry after the final norm).
import * as E from '../../engine/index.ts';
import { dense, FP32, type LinearFormat, quantizedWeight } from '../layers.ts';
import type { TextConfig } from './config.ts';

export interface DecoderOptions {
  /** Logits for every position (parity tests) instead of the last one only (generation). */
  allLogits?: boolean;
  /**
   * Logits only at the positions of the input `logits_index` [N] int64 (training: the labelled positions): the
   * final hidden states are gathered before the head, so the [S, vocab] logits of a long sequence never exist.
   * Output logits [1, N, vocab].
   */
  logitsIndex?: boolean;
  hiddenStates?: boolean;
  format?: LinearFormat;
  /**
   * With a quantized format and tied embeddings: store the embedding table once, quantized like the linears, and
   * use it for both the lookup (GatherBlockQuantized) and the head (MatMulNBits) — no float copy of the
   * 151,936 × 2,048 table.
   */
  quantizedTable?: boolean;
  /**
   * The KV cache as fixed-size buffers: past_key.i / past_value.i [1, KVH, M, D] of which the first `past_length`
   * (int64 [1]) positions are valid, read where they lie (onnxruntime-node wraps input arrays without copying).
   * The outputs are the new positions only, new_key.i / new_value.i [1, KVH, S, D] (rotary applied), which the
   * caller writes into its buffers at past_length: a decode step moves the token, 2·layers rows and the logits.
   * (Binding the buffers as outputs instead would let GroupQueryAttention write the row in place, but
   * onnxruntime-node copies every fetched output, bound or not, into a fresh array after the run: the whole
   * cache, every step — js/node/src/inference_session_wrap.cc, Run.)
   */
  cacheBuffer?: boolean;
  /**
   * Mark each decoder layer's input (and the last layer's output) as a recomputation boundary: a training graph
   * can then recompute one layer at a time in its backward pass (HF `gradient_checkpointing`; engine/recompute.ts).
   */
  layerBoundaries?: boolean;
  /**
   * Attention one query head at a time, its backward pass recomputing each head's probabilities (training graphs:
   * no [heads, S, S] tensor; engine/blocked_attention.ts). Not with a cache buffer.
   */
  blockedAttention?: boolean;
}

/**
 * M-RoPE tables: angles pos[c] · inv_freq[j] where the component c (t, h, w) of frequency j is chosen by
 * mrope_section; cos/sin of cat(angles, angles) → [1, S, D]. float32 as upstream.
 */
export function mropeTables(
  g: E.Graph,
  positionIds: E.Tensor,
  c: TextConfig,
): { cos: E.Tensor; sin: E.Tensor } {
  const half = c.headDim / 2;
  const invFreq = Float32Array.from({ length: half }, (_, j) => 1 / c.ropeTheta ** ((2 * j) / c.headDim));
  // One-hot selector [3, 1, 1, half]: frequency j reads component section(j).
  const select = new Float32Array(3 * half);
  let j = 0;
  c.mropeSection.forEach((n, comp) => {
    for (let k = 0; k < n; k++) select[comp * half + j++] = 1;
  });
  const pos = E.unsqueeze(E.cast(positionIds, 'float32'), [-1]); // [3, 1, S, 1]
  const angles3 = E.mul(pos, E.constant(g, { dtype: 'float32', shape: [half], data: invFreq })); // [3, 1, S, half]
  const angles = E.sum(
    E.mul(angles3, E.constant(g, { dtype: 'float32', shape: [3, 1, 1, half], data: select })),
    [0],
  );
  const full = E.concat([angles, angles], -1); // [1, S, D]
  return { cos: E.cos(full), sin: E.sin(full) };
}

/** The token embedding table: lookup by id, and the tied head (x · tableᵀ). */
function embeddingTable(g: E.Graph, c: TextConfig, f: LinearFormat, quantized: boolean) {
  const name = 'model.embed_tokens';
  if (!quantized || !f.quant) {
    const table = g.param(`${name}.weight`, f.dtype, [c.vocabSize, c.hiddenSize]);
    return { lookup: (ids: E.Tensor) => E.gather(table, ids, 0), head: (x: E.Tensor) => E.linear(x, table) };
  }
  const { qweight, scales, zeros, options } = quantizedWeight(g, name, c.hiddenSize, c.vocabSize, f);
  return {
    lookup: (ids: E.Tensor) => E.gatherNBits(qweight, scales, zeros, ids, options),
    head: (x: E.Tensor) => E.matmulNBits(x, qweight, scales, zeros, options),
  };
}

export function buildTextDecoder(c: TextConfig, opts: DecoderOptions = {}): E.Graph {
  const f = opts.format ?? FP32;
  const g = new E.Graph('qwen2_5_vl_text');
  const [H, D, KV] = [c.hiddenSize, c.headDim, c.numKvHeads];
  const ids = g.input('input_ids', 'int64', [1, 'seq']);
  const positions = g.input('position_ids', 'int64', [3, 1, 'seq']);
  const visual = g.input('visual_embeds', f.dtype, ['visual', H]);
  const visualIndex = g.input('visual_index', 'int64', ['visual', 1]);

  const table = embeddingTable(g, c, f, !!opts.quantizedTable && c.tieWordEmbeddings);
  const tokens = table.lookup(E.squeeze(ids, [0])); // [S, H]
  let x = E.unsqueeze(E.scatterND(tokens, visualIndex, visual), [0]); // [1, S, H]
  const hidden: E.Tensor[] = [x];
  const { cos, sin } = mropeTables(g, positions, c);
  const pastLength = opts.cacheBuffer ? g.input('past_length', 'int64', [1]) : undefined;
  const cacheLength = opts.cacheBuffer ? 'cache' : 'past';
  const cosT = E.cast(cos, f.dtype);
  const sinT = E.cast(sin, f.dtype);

  const boundary = (t: E.Tensor) => (opts.layerBoundaries ? E.recomputeBoundary(t) : t);
  for (let i = 0; i < c.numLayers; i++) {
    x = boundary(x);
    const p = `model.layers.${i}`;
    const h = E.rmsNorm(x, g.param(`${p}.input_layernorm.weight`, f.dtype, [H]), c.rmsNormEps);
    const q = E.rotary(
      dense(g, h, `${p}.self_attn.q_proj`, H, c.numHeads * D, true, f),
      cosT,
      sinT,
      c.numHeads,
    );
    const k = E.rotary(dense(g, h, `${p}.self_attn.k_proj`, H, KV * D, true, f), cosT, sinT, KV);
    const v = dense(g, h, `${p}.self_attn.v_proj`, H, KV * D, true, f);
    const past = {
      key: g.input(`past_key.${i}`, f.dtype, [1, KV, cacheLength, D]),
      value: g.input(`past_value.${i}`, f.dtype, [1, KV, cacheLength, D]),
      length: pastLength,
      // With a cache buffer the caller writes the new rows (new_key / new_value below).
      readOnly: !!opts.cacheBuffer,
    };
    const att = opts.blockedAttention
      ? E.blockedAttention(q, k, v, { numHeads: c.numHeads, kvHeads: KV, causal: true, past })
      : E.attention(q, k, v, { numHeads: c.numHeads, kvHeads: KV, causal: true, past });
    if (opts.cacheBuffer) {
      g.output(`new_key.${i}`, E.heads(k, KV, D));
      g.output(`new_value.${i}`, E.heads(v, KV, D));
    } else {
      g.output(`present_key.${i}`, att.present!.key);
      g.output(`present_value.${i}`, att.present!.value);
    }
    x = E.add(x, dense(g, att.out, `${p}.self_attn.o_proj`, c.numHeads * D, H, false, f));

    const h2 = E.rmsNorm(x, g.param(`${p}.post_attention_layernorm.weight`, f.dtype, [H]), c.rmsNormEps);
    const gate = E.silu(dense(g, h2, `${p}.mlp.gate_proj`, H, c.intermediateSize, false, f));
    const up = dense(g, h2, `${p}.mlp.up_proj`, H, c.intermediateSize, false, f);
    x = E.add(x, dense(g, E.mul(gate, up), `${p}.mlp.down_proj`, c.intermediateSize, H, false, f));
    hidden.push(x);
  }
  x = E.rmsNorm(boundary(x), g.param('model.norm.weight', f.dtype, [H]), c.rmsNormEps);
  hidden[hidden.length - 1] = x;
  if (opts.hiddenStates)
    g.output(
      'hidden_states',
      E.concat(
        hidden.map((t) => E.unsqueeze(t, [0])),
        0,
      ),
    );

  const last = opts.logitsIndex
    ? E.unsqueeze(E.gather(E.squeeze(x, [0]), g.input('logits_index', 'int64', ['rows']), 0), [0])
    : opts.allLogits
      ? x
      : E.slice(x, [1], [-1], [Number.MAX_SAFE_INTEGER]);
  // Tied embeddings reuse the table (lm_head.weight is absent from such checkpoints).
  const logits = c.tieWordEmbeddings
    ? table.head(last)
    : E.linear(last, g.param('lm_head.weight', f.dtype, [c.vocabSize, H]));
  g.output('logits', E.cast(logits, 'float32'));
  return g;
}
