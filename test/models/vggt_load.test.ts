// VGGT config parsing and checkpoint loading: the fixture's documented config, Spatial-MLLM layouts (prefixes
// `spatial_encoder.vggt_model.` for v1.1, `vggt.` for v1.0, heads absent), refusal of pickles and of
// checkpoints that do not match the config, with messages that say what to do. Also the host-side resize
// weights of the DINOv2 position table against hand-derived values.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { InputError } from '../../src/errors.ts';
import { defaultVggtConfig, parseVggtConfig, type VggtConfig } from '../../src/models/vggt/config.ts';
import { openVggt } from '../../src/models/vggt/load.ts';
import { bicubicAAWeights } from '../../src/models/vggt/patch_embed.ts';
import { f32 } from '../../src/tensor.ts';
import { openCheckpoint, writeSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'vggt-load-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const json = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));

/** Which prediction heads a checkpoint stores (VGGT-1B keys under `prefix`). */
const storedHeads = (names: readonly string[], prefix: string) => {
  const has = (head: string) => names.some((n) => n.startsWith(`${prefix}${head}_head.`));
  return { camera: has('camera'), depth: has('depth'), point: has('point') };
};

/** The config's sizes against what the checkpoint's tensors imply (widths, block counts, registers, MLP ratios). */
function assertSizesMatchTensors(c: VggtConfig, dir: string, prefix: string): void {
  const ckpt = openCheckpoint(dir);
  const shape = (n: string) => ckpt.info(`${prefix}${n}`).shape;
  const count = (block: string) =>
    new Set(
      ckpt
        .names()
        .filter((n) => n.startsWith(`${prefix}aggregator.${block}.`))
        .map((n) => n.slice(`${prefix}aggregator.${block}.`.length).split('.')[0]),
    ).size;
  try {
    const [, , registers, C] = shape('aggregator.register_token');
    assert.equal(c.aggregator.embedDim, C);
    assert.equal(c.aggregator.numRegisterTokens, registers);
    assert.equal(c.aggregator.depth, count('frame_blocks'));
    assert.equal(c.aggregator.depth, count('global_blocks'));
    assert.equal(
      c.aggregator.embedDim / c.aggregator.numHeads,
      shape('aggregator.frame_blocks.0.attn.q_norm.weight')[0],
    );
    assert.equal(c.aggregator.mlpRatio, shape('aggregator.frame_blocks.0.mlp.fc1.weight')[0] / C);
    const dino = c.aggregator.patchEmbed;
    assert.equal(dino.embedDim, shape('aggregator.patch_embed.cls_token')[2]);
    assert.equal(dino.depth, count('patch_embed.blocks'));
    assert.equal(dino.mlpRatio, shape('aggregator.patch_embed.blocks.0.mlp.fc1.weight')[0] / dino.embedDim);
    assert.equal(1 + (c.imgSize / c.patchSize) ** 2, shape('aggregator.patch_embed.pos_embed')[1]);
    if (c.heads.camera) {
      const trunk = new Set(
        ckpt
          .names()
          .filter((n) => n.startsWith(`${prefix}camera_head.trunk.`))
          .map((n) => n.split('.')[prefix.split('.').length + 1]),
      );
      assert.equal(c.cameraHead.trunkDepth, trunk.size);
      assert.equal(c.cameraHead.mlpRatio, shape('camera_head.trunk.0.mlp.fc1.weight')[0] / (2 * C));
    }
    if (c.heads.depth) {
      assert.equal(c.dpt.features, shape('depth_head.scratch.layer1_rn.weight')[0]);
      assert.deepEqual(
        c.dpt.outChannels,
        [0, 1, 2, 3].map((i) => shape(`depth_head.projects.${i}.weight`)[0]),
      );
    }
  } finally {
    ckpt.close();
  }
}

describe('config', () => {
  test('defaults are VGGT-1B', () => {
    const c = defaultVggtConfig();
    assert.deepEqual(
      [c.imgSize, c.patchSize, c.aggregator.embedDim, c.aggregator.depth, c.aggregator.numHeads],
      [518, 14, 1024, 24, 16],
    );
    assert.deepEqual(c.aggregator.patchEmbed, { embedDim: 1024, depth: 24, numHeads: 16, mlpRatio: 4 });
    assert.equal(c.aggregator.numRegisterTokens, 4);
    assert.deepEqual(c.dpt.layers, [4, 11, 17, 23]);
    assert.deepEqual(c.cameraHead, { trunkDepth: 4, numHeads: 16, mlpRatio: 4, iterations: 4 });
  });

  // Sizes that the stored tensors fix are read from them; head counts, RoPE frequency, DPT layers and the camera
  // iterations only from the config file's own fields (the reference layout documented in the fixture README).
  for (const fixture of findFixtures('vggt'))
    test(`${fixture.name}: the config values its files record`, () => {
      const raw = json(fixture.dir);
      const c = parseVggtConfig(raw);
      assertSizesMatchTensors(c, fixture.dir, '');
      const agg = { ...raw.Aggregator_defaults_in_effect, ...raw.Aggregator_extra };
      assert.deepEqual([c.aggregator.numHeads, c.aggregator.ropeFreq], [agg.num_heads, agg.rope_freq]);
      assert.equal(c.aggregator.patchEmbed.numHeads, raw.patch_embed_dinov2_tiny.num_heads);
      const cam = { ...raw.CameraHead_defaults_in_effect, ...raw.CameraHead_extra };
      assert.deepEqual(
        [c.cameraHead.numHeads, c.cameraHead.iterations],
        [cam.num_heads, cam['forward.num_iterations']],
      );
      assert.deepEqual(c.dpt.layers, raw.DPTHead_extra.intermediate_layer_idx);
    });

  for (const fixture of findFixtures('spatial_mllm'))
    test(`${fixture.name}: the VGGT part of a Spatial-MLLM config`, () => {
      const raw = json(fixture.dir);
      const c = parseVggtConfig(raw);
      const v = openVggt(fixture.dir);
      v.checkpoint.close();
      assertSizesMatchTensors(c, fixture.dir, v.weights.prefix);
      // Head counts are not in the tensors: the fixture records them (v1.1 under spatial_config, v1.0 at the top).
      const overrides = raw.spatial_config?.fixture_vggt_overrides ?? raw.fixture_vggt_overrides;
      assert.equal(c.aggregator.numHeads, overrides.aggregator.num_heads);
      assert.equal(c.aggregator.patchEmbed.numHeads, overrides.dinov2_patch_embed.num_heads);
    });

  test('unsupported upstream options and inconsistent sizes are refused', () => {
    assert.throws(
      () => parseVggtConfig({ Aggregator_extra: { aa_order: ['global', 'frame'] } }),
      (e: Error) => e instanceof InputError && /aa_order/.test(e.message),
    );
    assert.throws(
      () => parseVggtConfig({ Aggregator_extra: { num_heads: 3 } }),
      (e: Error) => e instanceof InputError && /heads/.test(e.message),
    );
    assert.throws(
      () => parseVggtConfig({ VGGT: { embed_dim: 'big' } }),
      (e: Error) => e instanceof InputError && /embed_dim/.test(e.message),
    );
  });
});

describe('checkpoint', () => {
  for (const fixture of findFixtures('vggt'))
    test(`${fixture.name}: VGGT-1B layout, all heads`, () => {
      const v = openVggt(fixture.dir);
      assert.equal(v.weights.prefix, '');
      assert.deepEqual(v.config.heads, storedHeads(v.checkpoint.names(), ''));
      assert.deepEqual(
        v.weights.read('aggregator.camera_token').shape,
        v.checkpoint.info('aggregator.camera_token').shape,
      );
      v.checkpoint.close();
    });

  for (const fixture of findFixtures('spatial_mllm'))
    test(`${fixture.name}: the spatial encoder inside a Spatial-MLLM checkpoint`, () => {
      const v = openVggt(fixture.dir);
      assert.match(v.weights.prefix, /^(spatial_encoder\.vggt_model\.|vggt\.)$/);
      assert.deepEqual(v.config.heads, storedHeads(v.checkpoint.names(), v.weights.prefix));
      assert.deepEqual(
        v.weights.read('aggregator.register_token').shape,
        v.checkpoint.info(`${v.weights.prefix}aggregator.register_token`).shape,
      );
      v.checkpoint.close();
    });

  test('pickle checkpoints are refused with the conversion to do', () => {
    const path = join(tmp, 'model.pt');
    writeFileSync(path, 'not read');
    assert.throws(
      () => openVggt(path),
      (e: Error) => e instanceof InputError && /pickle/.test(e.message) && /safetensors/.test(e.message),
    );
  });

  test('a folder holding only model.pt is refused the same way', () => {
    const dir = mkdtempSync(join(tmp, 'hub-'));
    writeFileSync(join(dir, 'model.pt'), 'not read');
    assert.throws(
      () => openVggt(dir),
      (e: Error) => e instanceof InputError && /pickle/.test(e.message) && /safetensors/.test(e.message),
    );
  });

  test('a safetensors file without VGGT weights is named as such', () => {
    const path = join(tmp, 'other.safetensors');
    writeSafetensors(path, { 'model.embed_tokens.weight': f32([2, 2]) });
    assert.throws(
      () => openVggt(path),
      (e: Error) => e instanceof InputError && /no VGGT weights/.test(e.message),
    );
  });

  for (const fixture of findFixtures('vggt'))
    test(`${fixture.name}: a config that does not fit the weights names the tensor`, () => {
      assert.throws(
        () => openVggt(fixture.dir, defaultVggtConfig()),
        (e: Error) =>
          e instanceof InputError &&
          /aggregator\.camera_token/.test(e.message) &&
          /config\.json/.test(e.message),
      );
    });
});

describe('antialiased bicubic weights (PyTorch bicubic, antialias=True)', () => {
  const cubic = (x: number) => {
    const t = Math.abs(x);
    return t < 1 ? 1.5 * t ** 3 - 2.5 * t ** 2 + 1 : t < 2 ? -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2 : 0;
  };

  test('same size is the identity', () => {
    const w = bicubicAAWeights(5, 5);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) assert.ok(w[i * 5 + j] === (i === j ? 1 : 0));
  });

  test('4 → 2: taps of the stretched kernel, renormalized', () => {
    // scale 2: output 0 centres at 1.0 (pixel-edge units) with support 4; inside taps 0..3 at distance
    // (j + 0.5 − 1) / 2 in kernel units.
    const w = bicubicAAWeights(4, 2);
    const raw = [0, 1, 2, 3].map((j) => cubic((j + 0.5 - 1) / 2));
    const total = raw.reduce((a, b) => a + b, 0);
    raw.forEach((v, j) => {
      assert.ok(Math.abs(w[j] - v / total) < 1e-7);
    });
    // By symmetry output 1 mirrors output 0.
    for (let j = 0; j < 4; j++) assert.ok(Math.abs(w[4 + j] - w[3 - j]) < 1e-7);
  });

  test('2 → 4 upsampling clips taps at the border and renormalizes', () => {
    // scale 0.5: output 0 sits at input coordinate −0.25; of its taps −2..1 only 0 and 1 (distances 0.25 and
    // 1.25) lie inside the input.
    const w = bicubicAAWeights(2, 4);
    const raw = [cubic(0.25), cubic(1.25)];
    assert.ok(Math.abs(w[0] - raw[0] / (raw[0] + raw[1])) < 1e-7);
    assert.ok(Math.abs(w[1] - raw[1] / (raw[0] + raw[1])) < 1e-7);
  });
});
