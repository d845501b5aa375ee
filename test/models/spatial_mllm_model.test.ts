// Spatial-MLLM end-to-end parity with every `spatial_mllm` fixture (v1.1 and v1.0), through the loaders used for
// real checkpoints: raw frames → VGGT aggregator + 3D merge + connector (fusion graph) plus the Qwen ViT on the
// processor output → fused video embeddings → prompt logits, hidden states and greedy generation with the KV
// cache. Tolerances as the fixture README suggests: features 2e-4, logits 1e-4 (abs).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type * as E from '../../src/engine/index.ts';
import { generateQwen } from '../../src/models/generate.ts';
import { ropeIndexConfig } from '../../src/models/qwen2_5_vl/config.ts';
import { ropeIndex } from '../../src/models/qwen2_5_vl/rope_index.ts';
import { type HostTensor, toFloat32 } from '../../src/tensor.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures, generationStops } from '../support/fixtures.ts';
import { fusedFixtureVideo } from '../support/spatial_mllm_video.ts';

const ints = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);
function maxAbs(got: HostTensor, want: HostTensor): number {
  const [a, b] = [toFloat32(got), toFloat32(want)];
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const report: string[] = [];
after(() => {
  if (report.length) console.log(`spatial-mllm max abs errors:\n  ${report.join('\n  ')}`);
});

for (const fixture of findFixtures('spatial_mllm')) {
  describe(fixture.name, () => {
    const io = openSafetensors(`${fixture.dir}/io.safetensors`);
    const has = (n: string) => io.names().includes(n);
    for (const lowering of ['fused', 'primitive'] as E.Lowering[]) {
      test(`frames → fused embeddings → logits → greedy tokens (${lowering})`, async () => {
        const { ckpt, qwen, grid, fused } = await fusedFixtureVideo(fixture.dir, io, lowering);
        const fusedKey = has('connector.fused_video_embeds')
          ? 'connector.fused_video_embeds'
          : 'video.fused_video_embeds';
        const eFused = maxAbs(fused, io.read(fusedKey));
        assert.ok(eFused <= 2e-4, `fused embeddings off by ${eFused}`);

        const q = ckpt.config.qwen;
        const ids = ints(io.read('video.input_ids'));
        const rope = ropeIndex(
          {
            inputIds: [ids],
            videoGridThw: [grid],
            secondPerGridTs: [toFloat32(io.read('video.second_per_grid_ts'))[0]],
          },
          ropeIndexConfig(q),
        );
        assert.deepEqual(ints(rope.positionIds), ints(io.read('video.position_ids')));
        const full = await qwen.forward({
          inputIds: ids,
          positionIds: rope.positionIds,
          visualEmbeds: fused,
          allLogits: true,
          hiddenStates: true,
        });
        const eLogits = maxAbs(full.logits, io.read('video.logits'));
        const eHidden = maxAbs(full.hiddenStates!, io.read('video.hidden_states'));
        assert.ok(eLogits <= 1e-4, `logits off by ${eLogits}`);
        assert.ok(eHidden <= 2e-4, `hidden states off by ${eHidden}`);

        const want = ints(io.read('video.generate.new_tokens'));
        const res = await generateQwen(
          qwen,
          {
            inputIds: ids,
            positionIds: rope.positionIds,
            ropeDelta: rope.ropeDeltas[0],
            visualEmbeds: fused,
          },
          { maxNewTokens: want.length, keepLogits: true, stopTokens: generationStops(fixture.dir) },
        );
        assert.deepEqual(res.tokens, want);
        const stepWant = toFloat32(io.read('video.generate.step_logits'));
        let eStep = 0;
        res.stepLogits!.forEach((l, s) => {
          for (let i = 0; i < l.length; i++)
            eStep = Math.max(eStep, Math.abs(l[i] - stepWant[s * l.length + i]));
        });
        assert.ok(eStep <= 1e-4, `step logits off by ${eStep}`);
        report.push(
          `${fixture.name} ${lowering}: fused ${eFused.toExponential(2)}, logits ${eLogits.toExponential(2)}, hidden ${eHidden.toExponential(2)}, step logits ${eStep.toExponential(2)}, tokens ${res.tokens.join(',')}`,
        );
        await qwen.release();
        ckpt.checkpoint.close();
      });
    }
  });
}
