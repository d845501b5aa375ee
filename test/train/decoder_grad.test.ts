// The project's Qwen2.5-VL text decoder (src/models/qwen2_5_vl/text_decoder.ts: M-RoPE, grouped KV attention with an
// empty KV cache, visual features scattered into the token embeddings) with the SFT loss is differentiable end to
// end: directional derivatives ⟨∇L, u⟩ from autodiff match central differences of the loss along random directions
// u, for the visual embeddings (the connector's output: what SFT trains upstream of the LLM) and for weights of
// every kind. float32 throughout, so the tolerance is loose: |numeric − analytic| ≤ 1e-2·|analytic| + 5e-4 (h = 1e-3).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TextConfig } from '../../src/models/qwen2_5_vl/config.ts';
import { buildTextDecoder } from '../../src/models/qwen2_5_vl/text_decoder.ts';
import { f32, type HostTensor, i64 } from '../../src/tensor.ts';
import { addLmLoss, IGNORE_INDEX } from '../../src/train/losses.ts';
import { replay } from '../../src/train/replay.ts';
import { Rng } from '../../src/train/rng.ts';
import { gradSessions } from '../support/grad_sessions.ts';

const C: TextConfig = {
  hiddenSize: 32,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 8,
  intermediateSize: 48,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  mropeSection: [1, 1, 2],
  vocabSize: 50,
  tieWordEmbeddings: true,
};
const S = 7;

const normal = (rng: Rng, shape: number[], scale: number) =>
  f32(
    shape,
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()),
  );

test('Qwen2.5-VL text decoder + SFT loss: directional derivatives match central differences', async (t) => {
  const g = buildTextDecoder(C, { allLogits: true });
  addLmLoss(g);
  const forward = replay(g, { outputs: ['loss'] });
  const rng = new Rng(11);
  const weights = new Map<string, HostTensor>();
  for (const [name, p] of forward.params)
    weights.set(name, normal(rng, p.shape as number[], name.endsWith('norm.weight') ? 0 : 0.2));
  for (const [name, w] of weights) if (name.endsWith('norm.weight')) (w.data as Float32Array).fill(1);

  const ids = Array.from({ length: S }, () => rng.int(C.vocabSize));
  const feeds: Record<string, HostTensor> = {
    input_ids: i64([1, S], ids),
    position_ids: i64([3, 1, S], [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6]),
    visual_embeds: normal(rng, [2, C.hiddenSize], 1),
    visual_index: i64([2, 1], [2, 3]),
    labels: i64([1, S], [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, ...ids.slice(4), 7]),
    loss_denominator: f32([], [4]),
  };
  for (let i = 0; i < C.numLayers; i++) {
    feeds[`past_key.${i}`] = f32([1, C.numKvHeads, 0, C.headDim]);
    feeds[`past_value.${i}`] = f32([1, C.numKvHeads, 0, C.headDim]);
  }
  const wrt = [
    'visual_embeds',
    'model.embed_tokens.weight',
    'model.layers.0.self_attn.q_proj.weight',
    'model.layers.0.self_attn.k_proj.bias',
    'model.layers.1.self_attn.v_proj.weight',
    'model.layers.1.self_attn.o_proj.weight',
    'model.layers.0.mlp.gate_proj.weight',
    'model.layers.1.mlp.down_proj.weight',
    'model.layers.1.post_attention_layernorm.weight',
    'model.norm.weight',
  ];
  const { grads, loss } = await gradSessions(forward, wrt);
  const all = (): Record<string, HostTensor> => ({ ...Object.fromEntries(weights), ...feeds });
  const lines: string[] = [];
  try {
    const g0 = await grads.run(all());
    for (const name of wrt) {
      const value = (feeds[name] ?? weights.get(name)!).data as Float32Array;
      const u = Float32Array.from(value, () => rng.normal());
      const grad = g0[`grad:${name}`].data as Float32Array;
      const analytic = grad.reduce((s, v, i) => s + v * u[i], 0);
      const h = 1e-3;
      const original = value.slice();
      const at = async (sign: number) => {
        value.set(original.map((v, i) => v + sign * h * u[i]));
        return (await loss.run(all())).loss.data[0] as number;
      };
      const numeric = ((await at(1)) - (await at(-1))) / (2 * h);
      value.set(original);
      lines.push(`${name}: ${analytic.toExponential(3)} vs ${numeric.toExponential(3)}`);
      assert.ok(Math.abs(numeric - analytic) <= 1e-2 * Math.abs(analytic) + 5e-4, lines[lines.length - 1]);
    }
  } finally {
    t.diagnostic(lines.join('\n'));
    await grads.release();
    await loss.release();
  }
});
