// Qwen2.5-VL parity with every `qwen2_5_vl` fixture, loaded through the same loader as real checkpoints:
// vision tower output, prompt logits and hidden states (positions from our rope index), and greedy generation
// with the KV cache (tokens exact, per-step logits). Tolerances (fixture README: fp32 vs fp64 spread
// ~1e-5 logits, ~5e-5 features): logits 1e-4 abs, hidden states and vision features 2e-4 abs.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import type { Lowering } from '../../src/engine/index.ts';
import { generateQwen } from '../../src/models/generate.ts';
import { ropeIndexConfig } from '../../src/models/qwen2_5_vl/config.ts';
import { Qwen25VLModel } from '../../src/models/qwen2_5_vl/model.ts';
import { ropeIndex } from '../../src/models/qwen2_5_vl/rope_index.ts';
import { type HostTensor, toFloat32 } from '../../src/tensor.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures, generationStops } from '../support/fixtures.ts';
import { qwenFixtureCaseNames, readQwenFixtureCase } from '../support/qwen_fixture_cases.ts';

function maxAbs(got: HostTensor | Float32Array, want: HostTensor): number {
  const a = got instanceof Float32Array ? got : toFloat32(got);
  const b = toFloat32(want);
  assert.equal(a.length, b.length, 'sizes differ');
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const ints = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);
const errors: string[] = [];
after(() => {
  if (errors.length) console.log(`qwen2.5-vl max abs errors:\n  ${errors.join('\n  ')}`);
});

for (const fixture of findFixtures('qwen2_5_vl')) {
  describe(fixture.name, () => {
    const io = openSafetensors(`${fixture.dir}/io.safetensors`);
    const cases = qwenFixtureCaseNames(io);
    test('release() closes the checkpoint files load() opened', {
      skip: !existsSync('/proc/self/fd') && 'needs /proc/self/fd',
    }, async () => {
      const dir = realpathSync(fixture.dir);
      // Open descriptors on this fixture's checkpoint files (from /proc).
      const openFiles = () =>
        readdirSync('/proc/self/fd').filter((fd) => {
          try {
            const target = readlinkSync(`/proc/self/fd/${fd}`);
            return (
              target.startsWith(dir) && target.endsWith('.safetensors') && !target.endsWith('io.safetensors')
            );
          } catch {
            return false; // closed since it was listed
          }
        }).length;
      const before = openFiles();
      const model = Qwen25VLModel.load(fixture.dir);
      assert.ok(openFiles() > before, 'load opens the checkpoint');
      await model.release();
      assert.equal(openFiles(), before);
    });
    for (const lowering of ['fused', 'primitive'] as Lowering[]) {
      const model = Qwen25VLModel.load(fixture.dir, { lowering });
      after(() => model.release());
      for (const c of cases) {
        test(`${c} case (${lowering} lowering)`, async () => {
          const k = readQwenFixtureCase(io, c);
          let visualEmbeds: HostTensor | undefined;
          if (k.visual) {
            visualEmbeds = await model.encodeVision(k.visual.pixels, k.visual.grid);
            const e = maxAbs(visualEmbeds, io.read(`${c}.visual.output`));
            errors.push(`${fixture.name} ${c} ${lowering} visual.output ${e.toExponential(2)}`);
            assert.ok(e <= 2e-4, `visual output off by ${e}`);
          }
          const { ids } = k;
          const cfg = model.config;
          const rope = ropeIndex({ inputIds: [ids], ...k }, ropeIndexConfig(cfg));
          assert.deepEqual(ints(rope.positionIds), ints(io.read(`${c}.position_ids`)));
          const full = await model.forward({
            inputIds: ids,
            positionIds: rope.positionIds,
            visualEmbeds,
            allLogits: true,
            hiddenStates: true,
          });
          const eLogits = maxAbs(full.logits, io.read(`${c}.logits`));
          const eHidden = maxAbs(full.hiddenStates!, io.read(`${c}.hidden_states`));
          errors.push(
            `${fixture.name} ${c} ${lowering} logits ${eLogits.toExponential(2)} hidden ${eHidden.toExponential(2)}`,
          );
          assert.ok(eLogits <= 1e-4, `logits off by ${eLogits}`);
          assert.ok(eHidden <= 2e-4, `hidden states off by ${eHidden}`);

          const want = ints(io.read(`${c}.generate.new_tokens`));
          const res = await generateQwen(
            model,
            { inputIds: ids, positionIds: rope.positionIds, ropeDelta: rope.ropeDeltas[0], visualEmbeds },
            { maxNewTokens: want.length, keepLogits: true, stopTokens: generationStops(fixture.dir) },
          );
          assert.deepEqual(res.tokens, want);
          const stepWant = toFloat32(io.read(`${c}.generate.step_logits`));
          const vocab = cfg.text.vocabSize;
          let eStep = 0;
          res.stepLogits!.forEach((l, s) => {
            for (let i = 0; i < vocab; i++) eStep = Math.max(eStep, Math.abs(l[i] - stepWant[s * vocab + i]));
          });
          errors.push(`${fixture.name} ${c} ${lowering} step logits ${eStep.toExponential(2)}`);
          assert.ok(eStep <= 1e-4, `step logits off by ${eStep}`);
        });
      }
    }
  });
}
