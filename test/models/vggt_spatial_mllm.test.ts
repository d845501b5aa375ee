// The VGGT aggregator as Spatial-MLLM's spatial encoder, loaded from every `spatial_mllm` fixture checkpoint
// (weights under `spatial_encoder.vggt_model.` or `vggt.`, sizes from its config.json): the frames /255 in
// float32 as upstream feeds them, against the stored encoder outputs. Tolerance abs and relative 1e-4
// (fixture README: fp32 vs fp64 spread ≤ 3.2e-6). The half-resolution spatial encoder (ours, no upstream) against
// the same aggregator on frames pooled here, its tokens repeated here: 1e-5 abs.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as E from '../../src/engine/index.ts';
import { openSpatialMllm } from '../../src/models/spatial_mllm/checkpoint.ts';
import { readSpatialMllmConfig } from '../../src/models/spatial_mllm/config.ts';
import { buildSpatialFusion } from '../../src/models/spatial_mllm/fusion.ts';
import { selectedLayer } from '../../src/models/spatial_mllm/spatial_encoder.ts';
import { VggtModel } from '../../src/models/vggt/model.ts';
import { Session } from '../../src/runtime/session.ts';
import { type HostTensor, tensor, toFloat32 } from '../../src/tensor.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';
import { pool2x2, repeat2x2 } from '../support/spatial_half.ts';

/** [T, H, W, 3] uint8 → [T, 3, H, W] float32 in [0, 1]. */
function framesTchw(frames: HostTensor): HostTensor {
  const [T, H, W] = frames.shape;
  const src = frames.data as Uint8Array;
  const out = new Float32Array(T * 3 * H * W);
  for (let t = 0; t < T; t++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let ch = 0; ch < 3; ch++)
          out[((t * 3 + ch) * H + y) * W + x] = Math.fround(src[((t * H + y) * W + x) * 3 + ch] / 255);
  return tensor('float32', [T, 3, H, W], out);
}

function maxErrors(got: HostTensor, want: HostTensor): { abs: number; rel: number } {
  const [a, b] = [toFloat32(got), toFloat32(want)];
  assert.equal(a.length, b.length);
  let [abs, ref] = [0, 0];
  for (let i = 0; i < b.length; i++) {
    abs = Math.max(abs, Math.abs(a[i] - b[i]));
    ref = Math.max(ref, Math.abs(b[i]));
  }
  return { abs, rel: abs / ref };
}

for (const fixture of findFixtures('spatial_mllm')) {
  describe(fixture.name, () => {
    const io = openSafetensors(`${fixture.dir}/io.safetensors`);
    const model = VggtModel.load(fixture.dir);
    after(async () => {
      io.close();
      await model.release();
    });
    const names = new Set(io.names());

    test('spatial encoder tokens', async () => {
      const depth = model.config.aggregator.depth;
      // The layer the connector reads: connector_config.spatial_embeds_layer_idx (a Python index; v1.0: last).
      const idx = readSpatialMllmConfig(fixture.dir).connector.layerIndex;
      const selected = (idx + depth) % depth;
      const out = await model.aggregate(framesTchw(io.read('video.frames_uint8')), {
        layers: [...new Set([0, selected, depth - 1])],
        debug: true,
      });
      const expected: [string, HostTensor | undefined][] = [
        ['spatial.selected_layer_tokens', out.layers.get(selected)],
        ['spatial.last_layer_tokens', out.layers.get(depth - 1)],
        ['spatial.first_layer_tokens', out.layers.get(0)],
        ['spatial.dinov2_patch_tokens', out.patchTokens],
      ];
      let checked = 0;
      for (const [name, got] of expected) {
        if (!names.has(name)) continue;
        const e = maxErrors(got!, io.read(name));
        console.log(
          `${fixture.name} ${name}: max abs ${e.abs.toExponential(2)}, relative ${e.rel.toExponential(2)}`,
        );
        assert.ok(e.abs <= 1e-4 && e.rel <= 1e-4, `${name}: ${JSON.stringify(e)}`);
        checked++;
      }
      assert.ok(checked >= 1, 'the fixture stores no spatial encoder output');
    });

    test('half resolution: the aggregator on 2×2-pooled frames, each token over its 2×2 patches', async () => {
      const ckpt = openSpatialMllm(fixture.dir);
      const cfg = ckpt.config;
      const [t, h, w] = Array.from(io.read('video.video_grid_thw').data as BigInt64Array, Number);
      const grid = [t, h, w] as [number, number, number];
      const g = buildSpatialFusion(cfg, grid, {
        spatialInput: 'frames',
        spatialResolution: 'half',
        debug: true,
      });
      const s = await Session.create(E.toOnnx(g, { weights: ckpt.weights }).bytes);
      const frames = io.read('video.frames_uint8');
      const video = io.read('video.visual.output');
      const got = (await s.run({ frames, video_embeds: video })).spatial_tokens;
      await s.release();
      ckpt.checkpoint.close();
      const layer = selectedLayer(cfg);
      const out = await model.aggregate(pool2x2(framesTchw(frames)), { layers: [layer] });
      const tokens = out.layers.get(layer)!;
      const squeezed = tensor('float32', tokens.shape.slice(1), tokens.data as Float32Array);
      const want = repeat2x2(squeezed, 1 + cfg.vggt.aggregator.numRegisterTokens, h / 2, w / 2);
      const e = maxErrors(got, want);
      console.log(`${fixture.name} half-resolution spatial tokens: max abs ${e.abs.toExponential(2)}`);
      assert.deepEqual(got.shape, want.shape);
      assert.ok(e.abs <= 1e-5, JSON.stringify(e));
    });
  });
}
