import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { GridThw } from '../../../src/models/qwen2_5_vl/rope_index.ts';
import {
  cuSeqlens,
  inversePermutation,
  patchWindowOrder,
  rotaryAngles,
  rotaryPositionIds,
  windowIndex,
} from '../../../src/models/qwen2_5_vl/vision_index.ts';
import { toFloat32 } from '../../../src/tensor.ts';
import { openSafetensors } from '../../../src/weights/safetensors.ts';
import { findFixtures } from '../../support/fixtures.ts';

/** Rows `order[i]` of a row-major [N, width] matrix. */
function gatherRows(m: Float32Array, width: number, order: Int32Array): Float32Array {
  const out = new Float32Array(order.length * width);
  order.forEach((r, i) => {
    out.set(m.subarray(r * width, (r + 1) * width), i * width);
  });
  return out;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const fx of findFixtures('qwen2_5_vl')) {
  describe(fx.name, () => {
    const io = openSafetensors(join(fx.dir, 'io.safetensors'));
    const vision = JSON.parse(readFileSync(join(fx.dir, 'config.json'), 'utf8')).vision_config;
    const windows = {
      windowSize: vision.window_size,
      patchSize: vision.patch_size,
      spatialMergeSize: vision.spatial_merge_size,
    };
    const mergeUnit = vision.spatial_merge_size ** 2;
    const cases = io
      .names()
      .filter((n) => n.endsWith('.visual.window_index'))
      .map((n) => n.slice(0, -'.visual.window_index'.length));

    for (const c of cases) {
      const gridName = io.names().includes(`${c}.video_grid_thw`)
        ? `${c}.video_grid_thw`
        : `${c}.image_grid_thw`;
      const g = Array.from(io.read(gridName).data as BigInt64Array, Number);
      const grids: GridThw[] = Array.from({ length: g.length / 3 }, (_, i) => [
        g[i * 3],
        g[i * 3 + 1],
        g[i * 3 + 2],
      ]);
      const v = (name: string) =>
        Array.from(io.read(`${c}.visual.${name}`).data as ArrayLike<number | bigint>, Number);

      test(`${c}: window index and cu_window_seqlens (raw, with empty windows, and unique)`, () => {
        const w = windowIndex(grids, windows);
        assert.deepEqual(Array.from(w.windowIndex), v('window_index'));
        assert.deepEqual(w.cuWindowSeqlensRaw, v('cu_window_seqlens_raw'));
        assert.deepEqual(Array.from(w.cuWindowSeqlens), v('cu_window_seqlens'));
      });

      test(`${c}: cu_seqlens`, () => {
        assert.deepEqual(Array.from(cuSeqlens(grids)), v('cu_seqlens'));
      });

      test(`${c}: window order of patches, and its inverse on merged tokens`, () => {
        const w = windowIndex(grids, windows).windowIndex;
        const hidden = vision.hidden_size;
        const patchEmbed = toFloat32(io.read(`${c}.visual.patch_embed`));
        assert.deepEqual(
          gatherRows(patchEmbed, hidden, patchWindowOrder(w, mergeUnit)),
          toFloat32(io.read(`${c}.visual.block0.in_window_order`)),
        );
        const merged = toFloat32(io.read(`${c}.visual.merger.out_window_order`));
        const out = vision.out_hidden_size;
        assert.deepEqual(
          gatherRows(merged, out, inversePermutation(w)),
          toFloat32(io.read(`${c}.visual.output`)),
        );
      });

      test(`${c}: 2D rotary angles (rot_pos_emb) and their cos/sin in window order`, () => {
        const headDim = vision.hidden_size / vision.num_heads;
        const angles = rotaryAngles(grids, headDim, vision.spatial_merge_size);
        const err = maxAbs(angles, toFloat32(io.read(`${c}.visual.rot_pos_emb`)));
        const dim = headDim / 2;
        const ordered = gatherRows(
          angles,
          dim,
          patchWindowOrder(windowIndex(grids, windows).windowIndex, mergeUnit),
        );
        const emb = Float32Array.from(
          { length: ordered.length * 2 },
          (_, i) => ordered[Math.floor(i / headDim) * dim + (i % dim)],
        );
        const cosErr = maxAbs(emb.map(Math.cos), toFloat32(io.read(`${c}.visual.rope_cos_window_order`)));
        const sinErr = maxAbs(emb.map(Math.sin), toFloat32(io.read(`${c}.visual.rope_sin_window_order`)));
        console.log(
          `  ${c}: rot_pos_emb max abs ${err.toExponential(2)}, cos ${cosErr.toExponential(2)}, sin ${sinErr.toExponential(2)}`,
        );
        assert.ok(err <= 1e-6 && cosErr <= 1e-6 && sinErr <= 1e-6);
      });
    }
  });
}

describe('hand-derived', () => {
  test('rotary positions follow the 2×2 merge groups', () => {
    // 1×2×4 patches: merge groups (0,0..1) then (0,2..3), each as (row, col) pairs row-major inside the group.
    assert.deepEqual(
      Array.from(rotaryPositionIds([[1, 2, 4]], 2)),
      [0, 0, 0, 1, 1, 0, 1, 1, 0, 2, 0, 3, 1, 2, 1, 3],
    );
  });

  test('an evenly divisible grid still gets a padded row and column of empty windows', () => {
    // 1×8×8 patches → 4×4 merged tokens, window side 2 merged tokens: 4 real windows + 5 empty ones.
    const w = windowIndex([[1, 8, 8]], { windowSize: 56, patchSize: 14, spatialMergeSize: 2 });
    assert.deepEqual(w.cuWindowSeqlensRaw, [0, 16, 32, 32, 48, 64, 64, 64, 64, 64]);
    assert.deepEqual(Array.from(w.cuWindowSeqlens), [0, 16, 32, 48, 64]);
    assert.deepEqual(Array.from(w.windowIndex), [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
  });

  test('cu_seqlens has one segment per temporal step of every grid', () => {
    assert.deepEqual(
      Array.from(
        cuSeqlens([
          [2, 2, 4],
          [1, 4, 4],
        ]),
      ),
      [0, 8, 16, 32],
    );
  });
});
