// LoRA: target selection by name (PEFT semantics), training only the adapters on the tiny LM leaves every base
// weight bit-identical, merge/unmerge against the adapted graph, and the PEFT files (key names and config).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as E from '../../src/engine/index.ts';
import { dense } from '../../src/models/layers.ts';
import { Session } from '../../src/runtime/session.ts';
import type { HostTensor } from '../../src/tensor.ts';
import {
  applyLora,
  initLora,
  type LoraConfig,
  loadPeft,
  matchesTarget,
  mergeLora,
  PEFT_PREFIX,
  savePeft,
} from '../../src/train/lora.ts';
import { Rng } from '../../src/train/rng.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { buildLm, copyFeeds, initLm, TOY } from './tiny_lm.ts';

const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const CONFIG: LoraConfig = { r: 8, alpha: 16, targets: TARGETS };

async function lossOf(g: E.Graph, weights: Map<string, HostTensor>, feeds: Record<string, HostTensor>) {
  const s = await Session.create(E.toOnnx(g, { lowering: 'primitive', weights }).bytes);
  try {
    return (await s.run(feeds)).loss.data[0] as number;
  } finally {
    await s.release();
  }
}

describe('LoRA', () => {
  test('targets: suffix list and full-match regex, as PEFT', () => {
    const m = 'model.layers.1.self_attn.q_proj';
    assert.ok(matchesTarget(m, ['q_proj']));
    assert.ok(!matchesTarget(m, ['proj']));
    assert.ok(matchesTarget(m, '.*layers\\.1\\..*(q|k)_proj'));
    assert.ok(!matchesTarget(m, 'layers\\.1'));
    const { modules } = applyLora(buildLm(TOY), { ...CONFIG, targets: '.*\\.1\\.self_attn\\.(q|k)_proj' });
    assert.deepEqual(
      modules.map((x) => x.name),
      ['model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.k_proj'],
    );
    assert.throws(() => applyLora(buildLm(TOY), { ...CONFIG, targets: ['nothing'] }), /no linear layer/);
  });

  test('quantized linear layers (MatMulNBits) take adapters too (QLoRA)', () => {
    const g = new E.Graph('q');
    const x = g.input('x', 'float32', [1, 64]);
    g.output(
      'y',
      dense(g, x, 'mlp.up_proj', 64, 32, false, { dtype: 'float32', quant: { bits: 4, blockSize: 32 } }),
    );
    const { graph, modules } = applyLora(g, { r: 2, alpha: 2, targets: ['up_proj'] });
    assert.deepEqual(modules, [{ name: 'mlp.up_proj', inFeatures: 64, outFeatures: 32 }]);
    assert.ok(graph.params.has('mlp.up_proj.lora_A.weight') && graph.params.has('mlp.up_proj.lora_B.weight'));
  });

  test('training the adapters: loss falls, base weights stay bit-identical, merge = adapted model, unmerge restores', async (t) => {
    const base = buildLm(TOY);
    const baseWeights = initLm(base, new Rng(1));
    const snapshot = new Map([...baseWeights].map(([k, v]) => [k, new Uint8Array(v.data.buffer.slice(0))]));
    const { graph, modules } = applyLora(base, CONFIG);
    assert.equal(modules.length, TARGETS.length * TOY.layers);
    const weights = new Map([...baseWeights, ...initLora(modules, CONFIG, new Rng(2))]);
    const probe = copyFeeds(TOY, 8, new Rng(99));
    assert.equal(
      await lossOf(graph, weights, probe),
      await lossOf(base, baseWeights, probe),
      'B = 0: the adapted model is the base',
    );

    const trainer = Trainer.create(graph, weights, {
      trainable: (n) => n.includes('.lora_'),
      optimizer: { kind: 'adamw' },
      lr: 1e-2,
      session: { threads: 2 },
    });
    const rng = new Rng(7);
    const losses: number[] = [];
    try {
      for (let s = 0; s < 60; s++) losses.push((await trainer.step([copyFeeds(TOY, 16, rng)])).losses[0]);
      const last = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
      t.diagnostic(
        `LoRA r=8 on all projections, base frozen: loss ${losses[0].toFixed(3)} → ${last.toFixed(3)} (steps 56-60)`,
      );
      assert.ok(last < losses[0] - 0.3, `loss ${losses[0]} → ${last}`);
      assert.equal(trainer.trainable.length, 2 * modules.length);
      for (const [name, bytes] of snapshot) {
        const now = trainer.parameters().get(name)!;
        assert.deepEqual(
          new Uint8Array(now.data.buffer, now.data.byteOffset, now.data.byteLength),
          bytes,
          name,
        );
      }

      const adapters = new Map([...trainer.parameters()].filter(([k]) => k.includes('.lora_')));
      const merged = await mergeLora(baseWeights, adapters, modules, CONFIG);
      const adapted = await lossOf(graph, trainer.parameters(), probe);
      const folded = await lossOf(base, new Map([...baseWeights, ...merged]), probe);
      assert.ok(Math.abs(adapted - folded) <= 1e-5 * adapted, `adapted ${adapted} vs merged ${folded}`);
      const restored = await mergeLora(new Map([...baseWeights, ...merged]), adapters, modules, CONFIG, -1);
      for (const [name, w] of restored) {
        const orig = baseWeights.get(name)!.data as Float32Array;
        const err = Math.max(...(w.data as Float32Array).map((v, i) => Math.abs(v - orig[i])));
        assert.ok(err <= 1e-6, `${name}: unmerge differs by ${err}`);
      }

      const dir = mkdtempSync(join(tmpdir(), 'peft-'));
      savePeft(dir, adapters, CONFIG, 'tiny-lm');
      const file = openSafetensors(join(dir, 'adapter_model.safetensors'));
      const keys = file.names().sort();
      file.close();
      t.diagnostic(`PEFT keys: ${keys.slice(0, 2).join(', ')}, … (${keys.length})`);
      assert.ok(keys.includes(`${PEFT_PREFIX}model.layers.0.self_attn.q_proj.lora_A.weight`));
      assert.ok(keys.includes(`${PEFT_PREFIX}model.layers.1.mlp.down_proj.lora_B.weight`));
      assert.equal(keys.length, 2 * modules.length);
      const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
      assert.deepEqual(
        [cfg.peft_type, cfg.r, cfg.lora_alpha, cfg.target_modules, cfg.base_model_name_or_path],
        ['LORA', 8, 16, TARGETS, 'tiny-lm'],
      );
      const loaded = loadPeft(dir);
      assert.deepEqual(loaded.config, { ...CONFIG, useRslora: false });
      for (const [k, v] of adapters) assert.deepEqual(loaded.adapters.get(k)!.data, v.data, k);
    } finally {
      await trainer.release();
    }
  });
});
