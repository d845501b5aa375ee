// A small Llama/Qwen-style causal LM built with the engine (RMSNorm, rotary, grouped-KV attention, SiLU-gated MLP,
// tied embeddings) with a masked cross-entropy loss, and the toy copy task it is trained on in the tests.
// Parameter names follow HF Qwen2 checkpoints so LoRA targets read like real ones.
import * as E from '../../src/engine/index.ts';
import { f32, type HostTensor, i64 } from '../../src/tensor.ts';
import { IGNORE_INDEX, maskedCrossEntropy } from '../../src/train/losses.ts';
import type { Rng } from '../../src/train/rng.ts';
import type { TrainerOptions } from '../../src/train/trainer.ts';

export interface LmConfig {
  vocab: number;
  dim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  mlp: number;
  seq: number;
}

const headDim = (c: LmConfig) => c.dim / c.heads;

function ropeTables(c: LmConfig): { cos: Float32Array; sin: Float32Array } {
  const d = headDim(c);
  const cos = new Float32Array(c.seq * d);
  const sin = new Float32Array(c.seq * d);
  for (let i = 0; i < c.seq; i++)
    for (let j = 0; j < d / 2; j++) {
      const a = i / 10000 ** ((2 * j) / d);
      cos[i * d + j] = cos[i * d + j + d / 2] = Math.cos(a);
      sin[i * d + j] = sin[i * d + j + d / 2] = Math.sin(a);
    }
  return { cos, sin };
}

/** Graph inputs: tokens and labels [batch, seq] int64, denominator [] float32. Output: loss. */
export function buildLm(c: LmConfig): E.Graph {
  const g = new E.Graph('tiny_lm');
  const tokens = g.input('tokens', 'int64', ['batch', c.seq]);
  const labels = g.input('labels', 'int64', ['batch', c.seq]);
  const denominator = g.input('denominator', 'float32', []);
  const d = headDim(c);
  const tables = ropeTables(c);
  const cos = E.constant(g, f32([1, c.seq, d], tables.cos));
  const sin = E.constant(g, f32([1, c.seq, d], tables.sin));
  const lin = (x: E.Tensor, name: string, inF: number, outF: number) =>
    E.linear(x, g.param(`${name}.weight`, 'float32', [outF, inF]));
  const norm = (x: E.Tensor, name: string) =>
    E.rmsNorm(x, g.param(`${name}.weight`, 'float32', [c.dim]), 1e-6);

  const embed = g.param('model.embed_tokens.weight', 'float32', [c.vocab, c.dim]);
  let x = E.gather(embed, tokens, 0);
  for (let i = 0; i < c.layers; i++) {
    const p = `model.layers.${i}`;
    const h = norm(x, `${p}.input_layernorm`);
    const q = E.rotary(lin(h, `${p}.self_attn.q_proj`, c.dim, c.dim), cos, sin, c.heads);
    const k = E.rotary(lin(h, `${p}.self_attn.k_proj`, c.dim, c.kvHeads * d), cos, sin, c.kvHeads);
    const v = lin(h, `${p}.self_attn.v_proj`, c.dim, c.kvHeads * d);
    const a = E.attention(q, k, v, { numHeads: c.heads, kvHeads: c.kvHeads, causal: true }).out;
    x = E.add(x, lin(a, `${p}.self_attn.o_proj`, c.dim, c.dim));
    const h2 = norm(x, `${p}.post_attention_layernorm`);
    const gated = E.mul(
      E.silu(lin(h2, `${p}.mlp.gate_proj`, c.dim, c.mlp)),
      lin(h2, `${p}.mlp.up_proj`, c.dim, c.mlp),
    );
    x = E.add(x, lin(gated, `${p}.mlp.down_proj`, c.mlp, c.dim));
  }
  const logits = E.linear(norm(x, 'model.norm'), embed);
  g.output('loss', maskedCrossEntropy(logits, labels, denominator));
  return g;
}

/** Normal(0, 0.02) weights (HF initializer_range), norms at 1. */
export function initLm(g: E.Graph, rng: Rng): Map<string, HostTensor> {
  const w = new Map<string, HostTensor>();
  for (const [name, t] of [...g.params].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const shape = t.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const values = name.endsWith('norm.weight')
      ? new Float32Array(n).fill(1)
      : Float32Array.from({ length: n }, () => 0.02 * rng.normal());
    w.set(name, f32(shape, values));
  }
  return w;
}

/**
 * Copy task: [a1…an, SEP, a1…an] with digits a_i < vocab − 1 and SEP = vocab − 1; the model reads all but the last
 * token and is scored on predicting the second copy (labels elsewhere are IGNORE_INDEX). seq = 2n.
 */
export function copyBatch(c: LmConfig, batch: number, rng: Rng): { tokens: HostTensor; labels: HostTensor } {
  const n = c.seq / 2;
  const tokens: number[] = [];
  const labels: number[] = [];
  for (let b = 0; b < batch; b++) {
    const digits = Array.from({ length: n }, () => rng.int(c.vocab - 1));
    const seq = [...digits, c.vocab - 1, ...digits];
    tokens.push(...seq.slice(0, c.seq));
    labels.push(...seq.slice(1).map((t, i) => (i >= n ? t : IGNORE_INDEX)));
  }
  return { tokens: i64([batch, c.seq], tokens), labels: i64([batch, c.seq], labels) };
}

/** Number of scored labels in a batch (the loss denominator). */
export const scoredCount = (labels: HostTensor): number =>
  Array.from(labels.data as BigInt64Array).filter((v) => v !== BigInt(IGNORE_INDEX)).length;

/** Feeds of one copy-task batch drawn from rng. */
export function copyFeeds(c: LmConfig, batch: number, rng: Rng): Record<string, HostTensor> {
  const b = copyBatch(c, batch, rng);
  return { ...b, denominator: f32([], [scoredCount(b.labels)]) };
}

/** The toy setup shared by the tests, the resume child process and the benchmark. */
export const TOY: LmConfig = { vocab: 10, dim: 32, layers: 2, heads: 4, kvHeads: 2, mlp: 64, seq: 12 };

export const toyOptions = (totalSteps: number): TrainerOptions => ({
  trainable: () => true,
  optimizer: { kind: 'adamw' },
  lr: 1e-2,
  weightDecay: 0.01,
  schedule: { kind: 'cosine', warmupSteps: 10, totalSteps },
  maxGradNorm: 1,
  session: { threads: 2 },
});
