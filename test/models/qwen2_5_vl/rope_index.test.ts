import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  decodePositionIds,
  type GridThw,
  type RopeIndexConfig,
  ropeIndex,
} from '../../../src/models/qwen2_5_vl/rope_index.ts';
import type { HostTensor } from '../../../src/tensor.ts';
import { openSafetensors } from '../../../src/weights/safetensors.ts';
import { findFixtures } from '../../support/fixtures.ts';

/** Rows of a [B, S] tensor. */
const rows = (t: HostTensor) => {
  const [b, s] = t.shape;
  return Array.from({ length: b }, (_, i) => (t.data as BigInt64Array).subarray(i * s, (i + 1) * s));
};
const grids = (t: HostTensor | undefined): GridThw[] | undefined =>
  t && rows(t).map((r) => Array.from(r, Number) as unknown as GridThw);

function configOf(dir: string): RopeIndexConfig {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  return {
    imageTokenId: c.image_token_id,
    videoTokenId: c.video_token_id,
    visionStartTokenId: c.vision_start_token_id,
    spatialMergeSize: c.vision_config.spatial_merge_size,
    tokensPerSecond: c.vision_config.tokens_per_second,
  };
}

for (const fx of [...findFixtures('qwen2_5_vl'), ...findFixtures('spatial_mllm')]) {
  describe(fx.name, () => {
    const io = openSafetensors(join(fx.dir, 'io.safetensors'));
    const names = io.names();
    const get = (n: string) => (names.includes(n) ? io.read(n) : undefined);
    const config = configOf(fx.dir);
    for (const c of names
      .filter((n) => n.endsWith('.position_ids'))
      .map((n) => n.slice(0, -'.position_ids'.length))) {
      const input = {
        attentionMask: rows(io.read(`${c}.attention_mask`)),
        imageGridThw: grids(get(`${c}.image_grid_thw`)),
        videoGridThw: grids(get(`${c}.video_grid_thw`)),
        secondPerGridTs:
          get(`${c}.second_per_grid_ts`) && Array.from(get(`${c}.second_per_grid_ts`)!.data as Float32Array),
      };

      test(`${c}: position ids and rope deltas`, () => {
        const out = ropeIndex({ ...input, inputIds: rows(io.read(`${c}.input_ids`)) }, config);
        const expected = io.read(`${c}.position_ids`);
        assert.deepEqual(out.positionIds.shape, expected.shape);
        assert.deepEqual(out.positionIds.data, expected.data);
        assert.deepEqual(
          out.ropeDeltas,
          Array.from(io.read(`${c}.rope_deltas`).data as BigInt64Array, Number),
        );
      });

      test(`${c}: decode positions (cache position + rope delta) continue the prompt's positions`, () => {
        // The prompt + generated ids through ropeIndex give the generated tokens' positions independently.
        const seqs = io.read(`${c}.generate.sequences`);
        const promptLength = io.read(`${c}.input_ids`).shape[1];
        const generated = seqs.shape[1] - promptLength;
        const full = ropeIndex(
          { ...input, attentionMask: undefined, inputIds: rows(seqs) },
          config,
        ).positionIds;
        const { ropeDeltas } = ropeIndex({ ...input, inputIds: rows(io.read(`${c}.input_ids`)) }, config);
        const decode = decodePositionIds(promptLength, generated, ropeDeltas);
        for (let axis = 0; axis < 3; axis++) {
          const want = (full.data as BigInt64Array).subarray(
            axis * seqs.shape[1] + promptLength,
            (axis + 1) * seqs.shape[1],
          );
          assert.deepEqual(decode.data.subarray(axis * generated, (axis + 1) * generated), want);
        }
      });
    }
  });
}

describe('hand-derived', () => {
  const config: RopeIndexConfig = {
    imageTokenId: 5,
    videoTokenId: 6,
    visionStartTokenId: 3,
    spatialMergeSize: 2,
    tokensPerSecond: 2,
  };
  const [P, A, VS, V, VE, I] = [0, 1, 3, 6, 4, 5];

  test('left padding, two videos across the batch, fractional time scaling truncated', () => {
    const out = ropeIndex(
      {
        inputIds: [
          [P, P, A, VS, V, V, V, V, VE, A],
          [A, A, A, VS, V, V, V, V, VE, A],
        ],
        attentionMask: [
          [0, 0, 1, 1, 1, 1, 1, 1, 1, 1],
          [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        ],
        // video 0: 2×1×2 merged tokens, 0.75 s/step · 2 tokens/s → t = 0, trunc(1.5) = 1
        // video 1: 4×1×1 merged tokens, 0.5 s/step → t = 0, 1, 2, 3
        videoGridThw: [
          [2, 2, 4],
          [4, 2, 2],
        ],
        secondPerGridTs: [0.75, 0.5],
      },
      config,
    );
    const t = [
      [1, 1, 0, 1, 2, 2, 3, 3, 4, 5],
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    ];
    const h = [
      [1, 1, 0, 1, 2, 2, 2, 2, 4, 5],
      [0, 1, 2, 3, 4, 4, 4, 4, 8, 9],
    ];
    const w = [
      [1, 1, 0, 1, 2, 3, 2, 3, 4, 5],
      [0, 1, 2, 3, 4, 4, 4, 4, 8, 9],
    ];
    assert.deepEqual(Array.from(out.positionIds.data, Number), [t, h, w].flat(2));
    assert.deepEqual(out.ropeDeltas, [5 + 1 - 10, 9 + 1 - 10]);
  });

  test('an image sits at time 0; text after it resumes at max + 1', () => {
    // Grid 1×4×2 patches = 2×1 merged tokens at base 2: t 2,2 / h 2,3 / w 2,2; max 3, so the end token is at 4.
    const out = ropeIndex({ inputIds: [[A, VS, I, I, VE, A]], imageGridThw: [[1, 4, 2]] }, config);
    assert.deepEqual(
      Array.from(out.positionIds.data, Number),
      [
        [0, 1, 2, 2, 4, 5],
        [0, 1, 2, 3, 4, 5],
        [0, 1, 2, 2, 4, 5],
      ].flat(),
    );
    assert.deepEqual(out.ropeDeltas, [0]);
  });

  test('text only: positions count real tokens, padding holds 1; no mask gives aranges and delta 0', () => {
    const masked = ropeIndex({ inputIds: [[P, A, A]], attentionMask: [[0, 1, 1]] }, config);
    assert.deepEqual(Array.from(masked.positionIds.data, Number), [1, 0, 1, 1, 0, 1, 1, 0, 1]);
    assert.deepEqual(masked.ropeDeltas, [-1]);
    const plain = ropeIndex({ inputIds: [Int32Array.of(A, A, A)] }, config);
    assert.deepEqual(Array.from(plain.positionIds.data, Number), [0, 1, 2, 0, 1, 2, 0, 1, 2]);
    assert.deepEqual(plain.ropeDeltas, [0]);
  });

  test('decode positions add the delta to the cache position on all three axes', () => {
    const d = decodePositionIds(10, 2, [-3, 0]);
    assert.deepEqual(d.shape, [3, 2, 2]);
    assert.deepEqual(Array.from(d.data, Number), [7, 8, 10, 11, 7, 8, 10, 11, 7, 8, 10, 11]);
  });
});
