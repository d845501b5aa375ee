// Generation after a step that produced <|image_pad|> or <|video_pad|>: upstream embeds such a token as a plain
// token (transformers `Qwen2_5_VLForConditionalGeneration.prepare_inputs_for_generation` and Spatial-MLLM's drop
// the visual inputs once the cache is non-empty), so the next step must run and give the logits of a single
// forward over prompt + that token whose extra pad slot holds the token's own embedding row. The token is forced
// by a logit bias on the prefill; image and video prompts of every `qwen2_5_vl` fixture and the fused video
// prompt of every `spatial_mllm` fixture, both lowerings.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type * as E from '../../src/engine/index.ts';
import { generateQwen } from '../../src/models/generate.ts';
import { ropeIndexConfig } from '../../src/models/qwen2_5_vl/config.ts';
import { type ForwardInput, Qwen25VLModel } from '../../src/models/qwen2_5_vl/model.ts';
import { decodePositionIds, type GridThw, ropeIndex } from '../../src/models/qwen2_5_vl/rope_index.ts';
import { type HostTensor, tensor, toFloat32 } from '../../src/tensor.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';
import {
  type QwenFixtureCase,
  qwenFixtureCaseNames,
  readQwenFixtureCase,
} from '../support/qwen_fixture_cases.ts';
import { fusedFixtureVideo } from '../support/spatial_mllm_video.ts';

const ints = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);
const report: string[] = [];
after(() => {
  if (report.length)
    console.log(`step after a generated pad token, max abs vs reference:\n  ${report.join('\n  ')}`);
});

/** The model whose prefill logits favour `token` above all others (a logit bias), so the first step yields it. */
function forcing(model: Qwen25VLModel, token: number): Qwen25VLModel {
  const forward = async (input: ForwardInput) => {
    const out = await model.forward(input);
    if (!input.cache) {
      const last = out.logits.data.subarray(
        out.logits.data.length - model.config.text.vocabSize,
      ) as Float32Array;
      last[token] = Math.max(...last) + 10;
    }
    return out;
  };
  return Object.assign(Object.create(model) as Qwen25VLModel, { forward });
}

interface Prompt {
  ids: number[];
  imageGridThw: GridThw[];
  videoGridThw: GridThw[];
  secondPerGridTs?: number[];
  visualEmbeds?: HostTensor;
}

/**
 * Generates 3 tokens with `padId` forced first; the step after it must equal one uncached forward over
 * prompt + pad where that pad's slot is given the embedding row of `padId` (a plain token).
 */
async function checkAfterPad(model: Qwen25VLModel, table: HostTensor, p: Prompt, padId: number) {
  const cfg = ropeIndexConfig(model.config);
  const rope = ropeIndex({ inputIds: [p.ids], ...p }, cfg);
  const res = await generateQwen(
    forcing(model, padId),
    {
      inputIds: p.ids,
      positionIds: rope.positionIds,
      ropeDelta: rope.ropeDeltas[0],
      visualEmbeds: p.visualEmbeds,
    },
    { maxNewTokens: 3, stopTokens: [], keepLogits: true },
  );
  assert.equal(res.tokens[0], padId);
  assert.equal(res.tokens.length, 3);

  const ids = [...p.ids, padId];
  const refRope = ropeIndex({ inputIds: [ids], ...p }, cfg);
  // The reference's last position is the decode position of the generated token.
  const S = p.ids.length;
  const refPos = ints(refRope.positionIds);
  assert.deepEqual(
    [0, 1, 2].map((a) => refPos[a * (S + 1) + S]),
    ints(decodePositionIds(S, 1, rope.ropeDeltas)),
  );
  const H = model.config.text.hiddenSize;
  const row = toFloat32(table).subarray(padId * H, (padId + 1) * H);
  const prior = p.visualEmbeds ? toFloat32(p.visualEmbeds) : new Float32Array(0);
  const visual = tensor('float32', [prior.length / H + 1, H]);
  visual.data.set(prior);
  visual.data.set(row, prior.length);
  const ref = await model.forward({ inputIds: ids, positionIds: refRope.positionIds, visualEmbeds: visual });
  const want = toFloat32(ref.logits);
  const got = res.stepLogits![1];
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]));
  assert.ok(e <= 1e-4, `logits after the pad token off by ${e}`);
  return e;
}

const LOWERINGS: E.Lowering[] = ['fused', 'primitive'];

for (const fixture of findFixtures('qwen2_5_vl')) {
  describe(`${fixture.name} (qwen2_5_vl)`, () => {
    const io = openSafetensors(`${fixture.dir}/io.safetensors`);
    const cases = qwenFixtureCaseNames(io);
    for (const lowering of LOWERINGS) {
      const model = Qwen25VLModel.load(fixture.dir, { lowering });
      after(() => model.release());
      for (const c of cases) {
        for (const pad of ['image', 'video'] as const) {
          test(`${c} prompt, generated <|${pad}_pad|> (${lowering})`, async () => {
            const { visual, ...p }: Prompt & QwenFixtureCase = readQwenFixtureCase(io, c);
            if (visual) p.visualEmbeds = await model.encodeVision(visual.pixels, visual.grid);
            const padId = pad === 'image' ? model.config.imageTokenId : model.config.videoTokenId;
            const table = openSafetensors(`${fixture.dir}/model.safetensors`);
            const e = await checkAfterPad(model, table.read('model.embed_tokens.weight'), p, padId);
            table.close();
            report.push(`${fixture.name} ${c} ${pad}_pad ${lowering}: ${e.toExponential(2)}`);
          });
        }
      }
    }
  });
}

for (const fixture of findFixtures('spatial_mllm')) {
  describe(`${fixture.name} (spatial_mllm)`, () => {
    for (const lowering of LOWERINGS) {
      test(`fused video prompt, generated <|video_pad|> and <|image_pad|> (${lowering})`, async () => {
        const io = openSafetensors(`${fixture.dir}/io.safetensors`);
        const { ckpt, qwen, grid, fused } = await fusedFixtureVideo(fixture.dir, io, lowering);
        const p: Prompt = {
          ids: ints(io.read('video.input_ids')),
          imageGridThw: [],
          videoGridThw: [grid],
          secondPerGridTs: [toFloat32(io.read('video.second_per_grid_ts'))[0]],
          visualEmbeds: fused,
        };
        const table = ckpt.weights.read('model.embed_tokens.weight');
        for (const padId of [qwen.config.videoTokenId, qwen.config.imageTokenId]) {
          const e = await checkAfterPad(qwen, table, p, padId);
          report.push(`${fixture.name} pad ${padId} ${lowering}: ${e.toExponential(2)}`);
        }
        await qwen.release();
        ckpt.checkpoint.close();
      });
    }
  });
}
