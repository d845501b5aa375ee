// A Llama/Qwen-style transformer block (RMSNorm → attention with rotary and grouped KV heads → residual → RMSNorm
// → SiLU-gated MLP → residual) built with the engine API from random weights stored in safetensors, against a
// float64 JS forward. Also the int4 path: MatMulNBits (fused) and in-graph dequantization (primitive) against
// the same forward on the dequantized weights.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as E from '../../src/engine/index.ts';
import { dense, type LinearFormat } from '../../src/models/layers.ts';
import { Session } from '../../src/runtime/session.ts';
import { f32, type HostTensor } from '../../src/tensor.ts';
import { dequantizeMatMulNBits, quantizeMatMulNBits } from '../../src/weights/quantize.ts';
import { quantizedSource } from '../../src/weights/quantized_source.ts';
import { openCheckpoint, writeSafetensors } from '../../src/weights/safetensors.ts';
import { randn, rng } from '../support/random.ts';
import { attentionRef, linearRef, maxErrors, rmsNormRef, rotaryRef, siluRef } from './nn_reference.ts';

const [S, H, HEADS, KV, D, F] = [6, 64, 4, 2, 16, 96];
const LINEARS: [string, number, number][] = [
  ['attn.q', H, HEADS * D],
  ['attn.k', H, KV * D],
  ['attn.v', H, KV * D],
  ['attn.o', HEADS * D, H],
  ['mlp.gate', H, F],
  ['mlp.up', H, F],
  ['mlp.down', F, H],
];

function randomWeights(seed: number): Map<string, HostTensor> {
  const r = rng(seed);
  const w = new Map<string, HostTensor>();
  for (const [name, i, o] of LINEARS) w.set(`${name}.weight`, f32([o, i], randn(r, i * o, 1 / Math.sqrt(i))));
  w.set(
    'norm1.weight',
    f32(
      [H],
      randn(r, H).map((v) => 1 + 0.1 * v),
    ),
  );
  w.set(
    'norm2.weight',
    f32(
      [H],
      randn(r, H).map((v) => 1 + 0.1 * v),
    ),
  );
  return w;
}

/** The weights with every linear replaced by its quantize → dequantize round trip. */
function dequantized(
  weights: Map<string, HostTensor>,
  quant: { bits: 4; blockSize: number },
): Map<string, HostTensor> {
  const deq = new Map(weights);
  for (const [name] of LINEARS)
    deq.set(
      `${name}.weight`,
      dequantizeMatMulNBits(quantizeMatMulNBits(weights.get(`${name}.weight`)!, quant)),
    );
  return deq;
}

function buildBlock(f: LinearFormat): E.Graph {
  const g = new E.Graph('block');
  const x = g.input('x', 'float32', [1, 'seq', H]);
  const cos = g.input('cos', 'float32', [1, 'seq', D]);
  const sin = g.input('sin', 'float32', [1, 'seq', D]);
  const h = E.rmsNorm(x, g.param('norm1.weight', 'float32', [H]), 1e-6);
  const q = E.rotary(dense(g, h, 'attn.q', H, HEADS * D, false, f), cos, sin, HEADS);
  const k = E.rotary(dense(g, h, 'attn.k', H, KV * D, false, f), cos, sin, KV);
  const v = dense(g, h, 'attn.v', H, KV * D, false, f);
  const a = E.attention(q, k, v, { numHeads: HEADS, kvHeads: KV, causal: true }).out;
  const x2 = E.add(x, dense(g, a, 'attn.o', HEADS * D, H, false, f));
  const h2 = E.rmsNorm(x2, g.param('norm2.weight', 'float32', [H]), 1e-6);
  const gated = E.mul(
    E.silu(dense(g, h2, 'mlp.gate', H, F, false, f)),
    dense(g, h2, 'mlp.up', H, F, false, f),
  );
  g.output('y', E.add(x2, dense(g, gated, 'mlp.down', F, H, false, f)));
  return g;
}

function blockRef(
  x: Float32Array,
  cos: Float32Array,
  sin: Float32Array,
  w: Map<string, HostTensor>,
): Float64Array {
  const W = (n: string) => w.get(`${n}.weight`)!.data as Float32Array;
  const lin = (inp: ArrayLike<number>, n: string, i: number, o: number) => linearRef(inp, W(n), S, i, o);
  const h = rmsNormRef(x, W('norm1'), S, H, 1e-6);
  const q = rotaryRef(lin(h, 'attn.q', H, HEADS * D), cos, sin, S, HEADS, D);
  const k = rotaryRef(lin(h, 'attn.k', H, KV * D), cos, sin, S, KV, D);
  const a = attentionRef(q, k, lin(h, 'attn.v', H, KV * D), {
    s: S,
    t: S,
    hq: HEADS,
    hkv: KV,
    d: D,
    causal: true,
  });
  const o = lin(a, 'attn.o', HEADS * D, H);
  const x2 = x.map((v, i) => v + o[i]);
  const h2 = rmsNormRef(x2, W('norm2'), S, H, 1e-6);
  const gate = lin(h2, 'mlp.gate', H, F);
  const up = lin(h2, 'mlp.up', H, F);
  const down = lin(
    gate.map((v, i) => siluRef(v) * up[i]),
    'mlp.down',
    F,
    H,
  );
  return Float64Array.from(x2, (v, i) => v + down[i]);
}

function inputs(seed: number) {
  const r = rng(seed);
  const x = randn(r, S * H, 2);
  const cos = new Float32Array(S * D);
  const sin = new Float32Array(S * D);
  for (let i = 0; i < S; i++)
    for (let j = 0; j < D / 2; j++) {
      const angle = i / 10000 ** ((2 * j) / D);
      cos[i * D + j] = cos[i * D + j + D / 2] = Math.cos(angle);
      sin[i * D + j] = sin[i * D + j + D / 2] = Math.sin(angle);
    }
  return { x, cos, sin };
}

describe('transformer block from safetensors weights', () => {
  const dir = mkdtempSync(join(tmpdir(), 'block-'));
  const file = join(dir, 'model.safetensors');
  const weights = randomWeights(11);
  writeSafetensors(file, weights);
  const { x, cos, sin } = inputs(12);
  const feeds = { x: f32([1, S, H], x), cos: f32([1, S, D], cos), sin: f32([1, S, D], sin) };

  for (const lowering of ['primitive', 'fused'] as E.Lowering[]) {
    test(`fp32, ${lowering} lowering, matches the float64 reference (rel ≤ 1e-5)`, async () => {
      const s = await Session.create(
        E.toOnnx(buildBlock({ dtype: 'float32' }), { weights: openCheckpoint(file), lowering }).bytes,
      );
      const y = (await s.run(feeds)).y;
      await s.release();
      const e = maxErrors(y.data as Float32Array, blockRef(x, cos, sin, weights));
      assert.ok(e.rel <= 1e-5, `abs ${e.abs}, rel ${e.rel}`);
    });

    test(`int4 (block 32), ${lowering} lowering, matches the reference on dequantized weights`, async () => {
      const quant = { bits: 4 as const, blockSize: 32 };
      const source = quantizedSource(openCheckpoint(file), quant);
      const s = await Session.create(
        E.toOnnx(buildBlock({ dtype: 'float32', quant }), { weights: source, lowering }).bytes,
      );
      const y = (await s.run(feeds)).y;
      await s.release();
      const exact = blockRef(x, cos, sin, dequantized(weights, quant));
      const e = maxErrors(y.data as Float32Array, exact);
      assert.ok(e.rel <= 1e-5, `vs dequantized reference: abs ${e.abs}, rel ${e.rel}`);
      // And int4 stays close to the float block (not a bound, a sanity check on the quantizer's scale).
      const drift = maxErrors(y.data as Float32Array, blockRef(x, cos, sin, weights));
      assert.ok(drift.rel < 0.1, `int4 drift ${drift.rel}`);
    });
  }

  test('int4 with accuracy level 4 (int8 activations, fused MatMulNBits) stays within 1% of the dequantized reference', async () => {
    const quant = { bits: 4 as const, blockSize: 32 };
    const source = quantizedSource(openCheckpoint(file), quant);
    const graph = buildBlock({ dtype: 'float32', quant: { ...quant, accuracyLevel: 4 } });
    const s = await Session.create(E.toOnnx(graph, { weights: source, lowering: 'fused' }).bytes);
    const y = (await s.run(feeds)).y;
    await s.release();
    const e = maxErrors(y.data as Float32Array, blockRef(x, cos, sin, dequantized(weights, quant)));
    assert.ok(e.rel > 0 && e.rel <= 1e-2, `abs ${e.abs}, rel ${e.rel}`);
  });
});
