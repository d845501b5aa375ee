import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { confidenceMask, unprojectDepthMaps } from '../../src/models/vggt/geometry.ts';
import {
  candidateFrameIndices,
  frameVoxelSets,
  greedyMaxCoverage,
  type PointMaps,
  pointMapsFromDepth,
  spaceAwareSampling,
  voxelOfKey,
} from '../../src/pipeline/frame_sampling.ts';
import { npLinspaceInt } from '../../src/python_compat.ts';
import { toFloat32 } from '../../src/tensor.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';

interface Run {
  K: number;
  selected_sorted: number[];
  greedy_order: number[];
  num_selected: number;
  bbox_min_passed_to_compute_voxel_sets: number[];
  voxel_size_passed_to_compute_voxel_sets: number;
  voxels_per_frame: number[];
  voxels_total_union: number;
  voxels_covered_by_selection: number;
  mask_count: number;
}
interface Case {
  name: string;
  runs: Run[];
  percentile50_threshold_informative: number;
}
interface Candidates {
  N: number;
  frame_indices: number[];
  uniform_sampled_indices_num_frames_16: number[];
}

for (const fx of findFixtures('sa_sampling')) {
  describe(fx.name, () => {
    const expected = JSON.parse(readFileSync(join(fx.dir, 'expected.json'), 'utf8')) as {
      cases: Case[];
      candidate_logic: Candidates[];
    };
    const io = openSafetensors(join(fx.dir, 'io.safetensors'));

    for (const c of expected.cases) {
      test(c.name, () => {
        const [, frames, height, width] = io.info(`${c.name}.world_points_conf`).shape;
        const maps: PointMaps = {
          frames,
          height,
          width,
          points: toFloat32(io.read(`${c.name}.world_points`)),
          conf: toFloat32(io.read(`${c.name}.world_points_conf`)),
        };
        const mask = io.read(`${c.name}.mask`).data as Uint8Array;
        for (const run of c.runs) {
          const sel = spaceAwareSampling(maps, run.K);
          assert.equal(sel.threshold, c.percentile50_threshold_informative, 'percentile threshold');
          assert.equal(sel.confidentPoints, run.mask_count);
          assert.deepEqual(sel.grid.min, run.bbox_min_passed_to_compute_voxel_sets);
          assert.equal(sel.grid.voxelSize, run.voxel_size_passed_to_compute_voxel_sets);
          assert.deepEqual(sel.voxelsPerFrame, run.voxels_per_frame);
          assert.equal(sel.totalVoxels, run.voxels_total_union);
          assert.deepEqual(sel.greedyOrder, run.greedy_order);
          assert.deepEqual(sel.selected, run.selected_sorted);
          assert.equal(sel.selected.length, run.num_selected);
          assert.equal(sel.covered, run.voxels_covered_by_selection);

          // The voxel sets themselves: every (frame, ix, iy, iz) upstream's compute_voxel_sets returned.
          const voxels = frameVoxelSets(maps, mask, sel.grid).flatMap((set, frame) =>
            [...set].map((key) => [frame, ...voxelOfKey(key, sel.grid)]),
          );
          const want = io.read(`${c.name}.voxels_frame_ix_iy_iz`).data as BigInt64Array;
          assert.deepEqual(voxels.flat(), Array.from(want, Number));
        }
        console.log(
          `  ${c.name}: K=${c.runs.map((r) => r.K).join('/')} selected ${c.runs.map((r) => r.num_selected).join('/')}, exact`,
        );
      });
    }

    test('confidence mask (float64 median compared in float32, > float32(0.1)) equals upstream mask', () => {
      for (const c of expected.cases) {
        const { mask } = confidenceMask(toFloat32(io.read(`${c.name}.world_points_conf`)), 50, 0.1);
        assert.deepEqual(mask, io.read(`${c.name}.mask`).data, c.name);
      }
    });

    test('candidate frames (np.linspace(0, N-1, min(128, N), dtype=int)) and the 16-frame uniform baseline', () => {
      for (const c of expected.candidate_logic) {
        const candidates = candidateFrameIndices(c.N);
        assert.deepEqual(candidates, c.frame_indices, `N=${c.N}`);
        const uniform =
          candidates.length <= 16
            ? candidates
            : npLinspaceInt(candidates.length - 1, 16).map((i) => candidates[i]);
        assert.deepEqual(uniform, c.uniform_sampled_indices_num_frames_16, `N=${c.N}`);
      }
    });
  });
}

describe('greedy maximum coverage', () => {
  const sets = (...frames: number[][]) => frames.map((f) => Float64Array.from(f));

  test('largest gain first, ties to the lowest index, stops when nothing new is covered', () => {
    const run = greedyMaxCoverage(sets([1, 2], [3, 4, 5], [1, 2], [3, 4, 5, 6], [7]), 10);
    assert.deepEqual(run.order, [3, 0, 4]);
    assert.deepEqual(run.gains, [4, 2, 1]);
  });

  test('k bounds the picks', () => {
    assert.deepEqual(greedyMaxCoverage(sets([1], [2], [3]), 2).order, [0, 1]);
  });
});

describe('paper variant: depth + cameras', () => {
  for (const fx of findFixtures('vggt')) {
    test(`${fx.name}: point maps come from the unprojected depth and select frames in time order`, () => {
      const io = openSafetensors(join(fx.dir, 'io.safetensors'));
      // The case with the most frames that stores depth and cameras.
      const c = io
        .names()
        .filter((n) => n.endsWith('.depth') && io.names().includes(n.replace(/depth$/, 'extrinsic')))
        .map((n) => n.slice(0, -'.depth'.length))
        .sort((a, b) => io.info(`${b}.depth`).shape[1] - io.info(`${a}.depth`).shape[1])[0];
      assert.ok(c, 'the fixture stores no depth with cameras');
      const [, frames, height, width] = io.info(`${c}.depth`).shape;
      const dims = { frames, height, width };
      const cameras = {
        extrinsics: toFloat32(io.read(`${c}.extrinsic`)),
        intrinsics: toFloat32(io.read(`${c}.intrinsic`)),
      };
      const depth = toFloat32(io.read(`${c}.depth`));
      const maps = pointMapsFromDepth(depth, toFloat32(io.read(`${c}.depth_conf`)), cameras, dims);
      assert.deepEqual(maps.points, unprojectDepthMaps(depth, cameras, dims));
      const sel = spaceAwareSampling(maps, 2);
      assert.ok(sel.selected.length >= 1 && sel.selected.length <= 2);
      assert.deepEqual(
        sel.selected,
        [...sel.selected].sort((a, b) => a - b),
      );
      assert.equal(
        sel.covered,
        sel.gains.reduce((a, b) => a + b, 0),
      );
      assert.ok(sel.covered <= sel.totalVoxels);
    });
  }
});
