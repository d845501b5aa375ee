// Spatial-MLLM fusion: config and version detection, the 3D token merge against a hand-derived index formula,
// checkpoint checks (missing/unexpected/misshapen tensors), and parity with every `spatial_mllm` fixture from the
// selected aggregator layer (and from the raw frames, through VGGT's aggregator) to the fused video embeddings.
// Tolerances: the merge is data movement (exact); the fixture README measures fp32-vs-fp64 spreads of ~3e-6 on
// the spatial tokens and ~5e-5 on the fused embeddings, so spatial tokens 2e-5 abs, projections and fused 1e-4 abs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import * as E from '../../src/engine/index.ts';
import { InputError } from '../../src/errors.ts';
import { QWEN2_5_VL_3B_CONFIG } from '../../src/models/qwen2_5_vl/config.ts';
import { Qwen25VLModel } from '../../src/models/qwen2_5_vl/model.ts';
import {
  checkWeights,
  compareWeights,
  expectedParams,
  keyGroup,
  openSpatialMllm,
  spatialMllmKey,
  VGGT_PREFIX,
} from '../../src/models/spatial_mllm/checkpoint.ts';
import { detectVersion, parseSpatialMllmConfig } from '../../src/models/spatial_mllm/config.ts';
import { buildSpatialFusion, type FusionOptions } from '../../src/models/spatial_mllm/fusion.ts';
import { merge3d } from '../../src/models/spatial_mllm/merge_3d.ts';
import { Session } from '../../src/runtime/session.ts';
import { type HostTensor, tensor, toFloat32 } from '../../src/tensor.ts';
import { openCheckpoint, openSafetensors, type TensorSource } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';

const fixtures = findFixtures('spatial_mllm');
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

function errors(got: HostTensor, want: HostTensor): { abs: number; rel: number } {
  const a = toFloat32(got);
  const b = toFloat32(want);
  assert.deepEqual(got.shape, want.shape);
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    abs = Math.max(abs, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { abs, rel: abs / scale };
}

const report: string[] = [];
after(() => {
  if (report.length)
    console.log(`spatial-mllm max errors (abs / rel to max |want|):\n  ${report.join('\n  ')}`);
});

describe('merge3d', () => {
  // tokens[s, patchStart + y·w + x, d] = a unique code; each version's channel formula (DESIGN §3) says where
  // every (dt, dh, dw, d) of a merged token must come from.
  const [S, h, w, D, start] = [4, 2, 4, 3, 2];
  const code = (s: number, p: number, d: number) => (s * 100 + p) * 10 + d;
  const data = new Float32Array(S * (start + h * w) * D);
  for (let s = 0; s < S; s++)
    for (let p = 0; p < start + h * w; p++)
      for (let d = 0; d < D; d++) data[(s * (start + h * w) + p) * D + d] = code(s, p, d);

  for (const version of ['v1.1', 'v1.0'] as const) {
    test(`${version} channel order`, async () => {
      const g = new E.Graph('merge');
      const x = g.input('x', 'float32', [S, start + h * w, D]);
      g.output('y', merge3d(x, { h, w, patchStart: start, temporalMerge: 2, spatialMerge: 2 }, version));
      const s = await Session.create(E.toOnnx(g).bytes);
      const y = (await s.run({ x: tensor('float32', [S, start + h * w, D], data) })).y;
      assert.deepEqual(y.shape, [(S / 2) * (h / 2) * (w / 2), 8 * D]);
      const out = y.data as Float32Array;
      let row = 0;
      for (let T = 0; T < S / 2; T++)
        for (let Y = 0; Y < h / 2; Y++)
          for (let X = 0; X < w / 2; X++, row++)
            for (let dt = 0; dt < 2; dt++)
              for (let dh = 0; dh < 2; dh++)
                for (let dw = 0; dw < 2; dw++)
                  for (let d = 0; d < D; d++) {
                    const ch =
                      version === 'v1.1'
                        ? ((dh * 2 + dw) * D + d) * 2 + dt
                        : ((dt * 2 + dh) * 2 + dw) * D + d;
                    const want = code(T * 2 + dt, start + (Y * 2 + dh) * w + X * 2 + dw, d);
                    assert.equal(out[row * 8 * D + ch], want, `row ${row} channel ${ch}`);
                  }
      await s.release();
    });
  }

  test('refuses grids that do not split into 2 × 2×2 groups', () => {
    const g = new E.Graph('merge');
    const x = g.input('x', 'float32', [3, start + h * w, D]);
    assert.throws(
      () => merge3d(x, { h, w, patchStart: start, temporalMerge: 2, spatialMerge: 2 }, 'v1.1'),
      /3 frames of 2×4 patches/,
    );
  });
});

describe('config and version detection', () => {
  for (const qwen of findFixtures('qwen2_5_vl'))
    test(`a plain Qwen2.5-VL folder (${qwen.name}) is not a Spatial-MLLM checkpoint`, () => {
      const json = readJson(`${qwen.dir}/config.json`);
      const ckpt = openCheckpoint(qwen.dir);
      const names = ckpt.names();
      ckpt.close();
      assert.throws(
        () => detectVersion(json, names),
        (e: Error) => {
          assert.ok(e instanceof InputError);
          assert.match(e.message, /not a Spatial-MLLM checkpoint/);
          return true;
        },
      );
    });

  test('config and weights of different generations are refused', () => {
    assert.throws(
      () => detectVersion({ model_type: 'spatial-mllm' }, ['vggt_embedding_merger.token_merge_ln_q.weight']),
      /describes Spatial-MLLM v1.1 but the weights hold v1.0/,
    );
  });

  test('v1.0 is recognised from key names alone (its config is a qwen2_5_vl one)', () => {
    assert.equal(detectVersion({ model_type: 'qwen2_5_vl' }, ['vggt.aggregator.camera_token']), 'v1.0');
  });

  for (const f of fixtures)
    test(`unsupported connector types are named (${f.name} config)`, () => {
      const json = readJson(`${f.dir}/config.json`);
      json.connector_config = { connector_type: 'cross_attn', spatial_embeds_layer_idx: -1 };
      assert.throws(() => parseSpatialMllmConfig(json), /connector_type "cross_attn" is not supported/);
    });
});

for (const fixture of fixtures) {
  describe(fixture.name, () => {
    const ckpt = openSpatialMllm(fixture.dir);
    after(() => ckpt.checkpoint.close());
    const cfg = ckpt.config;
    const v11 = cfg.version === 'v1.1';
    const io = openSafetensors(`${fixture.dir}/io.safetensors`);
    const grid = Array.from(io.read('video.video_grid_thw').data as BigInt64Array, Number) as [
      number,
      number,
      number,
    ];
    const spatialTokens = io.read(v11 ? 'spatial.selected_layer_tokens' : 'spatial.last_layer_tokens');

    test('config', () => {
      const json = readJson(`${fixture.dir}/config.json`);
      assert.equal(cfg.version, json.connector_config ? 'v1.1' : 'v1.0');
      assert.equal(cfg.connector.kind, v11 ? 'mlp_add' : 'vggt_embedding_merger');
      // v1.0 always feeds the last layer; v1.1 reads connector_config.spatial_embeds_layer_idx (default -1).
      const idx = (json.connector_config as Record<string, unknown> | undefined)?.spatial_embeds_layer_idx;
      assert.equal(cfg.connector.layerIndex, v11 ? (idx ?? -1) : -1);
      assert.equal(cfg.connector.tokenDim, spatialTokens.shape[2]);
      assert.equal(cfg.connector.hiddenSize, cfg.qwen.text.hiddenSize);
      assert.equal(
        cfg.vggt.aggregator.depth,
        Number((io.read('spatial.num_layers').data as BigInt64Array)[0]),
      );
      assert.equal(
        1 + cfg.vggt.aggregator.numRegisterTokens,
        Number((io.read('spatial.patch_start_idx').data as BigInt64Array)[0]),
      );
    });

    const cases: { input: FusionOptions['spatialInput']; lowering: E.Lowering }[] = [
      { input: 'tokens', lowering: 'primitive' },
      { input: 'tokens', lowering: 'fused' },
      { input: 'frames', lowering: 'fused' },
    ];
    for (const { input, lowering } of cases) {
      test(`fusion from ${input} (${lowering} lowering)`, async () => {
        const g = buildSpatialFusion(cfg, grid, { debug: true, spatialInput: input });
        const s = await Session.create(E.toOnnx(g, { weights: ckpt.weights, lowering }).bytes);
        const feeds: Record<string, HostTensor> = { video_embeds: io.read('video.visual.output') };
        if (input === 'frames') feeds.frames = io.read('video.frames_uint8');
        else feeds.spatial_tokens = spatialTokens;
        const out = await s.run(feeds);
        await s.release();
        const check = (got: string, want: string, tol: number) => {
          const e = errors(out[got], io.read(want));
          report.push(
            `${fixture.name} ${input} ${lowering} ${want}: ${e.abs.toExponential(2)} / ${e.rel.toExponential(2)}`,
          );
          assert.ok(e.abs <= tol, `${got} vs ${want} off by ${e.abs}`);
        };
        if (input === 'frames')
          check('spatial_tokens', v11 ? 'spatial.selected_layer_tokens' : 'spatial.last_layer_tokens', 2e-5);
        if (v11) {
          if (input === 'tokens') check('merged_spatial_tokens', 'connector.merged_spatial_tokens', 0);
          check('spatial_projection', 'connector.spatial_projection', 1e-4);
          check('fused_video_embeds', 'connector.fused_video_embeds', 1e-4);
        } else {
          const merge = out.token_merge_out;
          out.token_merge_out = {
            ...merge,
            shape: [grid[0], grid[1] / 2, grid[2] / 2, merge.shape[1]],
          } as HostTensor;
          check('token_merge_out', 'merger.token_merge_out', 1e-4);
          check('spatial_projection', 'merger.vggt_embeds', 1e-4);
          check('fused_video_embeds', 'video.fused_video_embeds', 1e-4);
        }
      });
    }

    test('the Qwen vision tower reads its weights through the Spatial-MLLM source', async () => {
      const model = Qwen25VLModel.load(fixture.dir, { weights: ckpt.weights });
      const got = await model.encodeVision(io.read('video.pixel_values_videos'), grid);
      await model.release();
      const e = errors(got, io.read('video.visual.output'));
      report.push(
        `${fixture.name} video.visual.output: ${e.abs.toExponential(2)} / ${e.rel.toExponential(2)}`,
      );
      assert.ok(e.abs <= 2e-4, `visual output off by ${e.abs}`);
    });

    test('weights map graph names onto the checkpoint keys', () => {
      const vggt = VGGT_PREFIX[cfg.version];
      assert.equal(
        spatialMllmKey('aggregator.camera_token', cfg.version, 'flat'),
        `${vggt}aggregator.camera_token`,
      );
      assert.equal(
        spatialMllmKey('visual.merger.ln_q.weight', cfg.version, 'nested'),
        'model.visual.merger.ln_q.weight',
      );
      const name = v11 ? 'connector.ln_q.weight' : 'vggt_embedding_merger.token_merge_ln_q.weight';
      assert.deepEqual(ckpt.weights.read(name).shape, ckpt.checkpoint.info(name).shape);
    });

    test('missing, unexpected and misshapen tensors are reported by group', () => {
      const names = ckpt.checkpoint.names();
      const vggt = VGGT_PREFIX[cfg.version];
      const lastGlobal = `${vggt}aggregator.global_blocks.${cfg.vggt.aggregator.depth - 1}.`;
      const dropped = names.filter((n) => n.startsWith(lastGlobal) || n === 'model.norm.weight');
      const reshaped = v11 ? 'connector.mlp.2.bias' : 'vggt_embedding_merger.vgg_to_language_mlp.2.bias';
      const extra = ['visual.extra_proj.weight', `${vggt}camera_head.trunk.0.norm1.weight`, 'lm_head.weight'];
      const source: TensorSource = {
        path: 'edited.safetensors',
        names: () => [...names.filter((n) => !dropped.includes(n)), ...extra],
        info: (n) =>
          n === reshaped ? { dtype: 'float32', shape: [7], byteLength: 28 } : ckpt.checkpoint.info(n),
        read: (n) => ckpt.checkpoint.read(n),
        close: () => {},
      };
      const r = compareWeights(source, cfg);
      assert.deepEqual(r.missing.sort(), dropped.sort());
      // VGGT heads and a tied lm_head exist in real checkpoints but feed nothing: not reported.
      assert.deepEqual(r.unexpected, ['visual.extra_proj.weight']);
      assert.deepEqual(
        r.wrongShape.map((w) => w.key),
        [reshaped],
      );
      assert.throws(
        () => checkWeights(source, cfg),
        (e: Error) => {
          assert.ok(e instanceof InputError);
          for (const part of [
            `Spatial-MLLM ${cfg.version} (`,
            `missing ${dropped.length} tensors: `,
            `${vggt}aggregator.global_blocks.* (${dropped.length - 1}: ${lastGlobal}`,
            'model.norm.* (1: model.norm.weight)',
            'unexpected 1 tensor: visual.extra_proj.* (1: visual.extra_proj.weight)',
            `${reshaped} is [7], config implies [${ckpt.checkpoint.info(reshaped).shape}]`,
          ])
            assert.ok(e.message.includes(part), `message lacks "${part}":\n${e.message}`);
          return true;
        },
      );
    });
  });
}

test('real sizes: Qwen2.5-VL-3B + VGGT-1B aggregator + connector ≈ 4.96B parameters (paper)', () => {
  // Qwen2.5-VL-3B-Instruct's published config.json fields (DESIGN §3) with the v1.1 spatial/connector sections.
  const json = {
    ...structuredClone(QWEN2_5_VL_3B_CONFIG),
    model_type: 'spatial-mllm',
    spatial_config: { embed_dim: 1024, img_size: 518, patch_size: 14 },
    connector_config: { connector_type: 'mlp_add', spatial_embeds_layer_idx: -1 },
  };
  const cfg = parseSpatialMllmConfig(json);
  assert.equal(cfg.connector.mergedDim, 16384);
  let total = 0;
  for (const { shape } of expectedParams(cfg).values()) total += shape.reduce((a, b) => a * b, 1);
  assert.ok(Math.abs(total / 1e9 - 4.96) < 0.01, `${total} parameters`);
});

test('keyGroup', () => {
  assert.equal(keyGroup('model.layers.12.mlp.up_proj.weight'), 'model.layers.*');
  assert.equal(keyGroup('connector.mlp.0.weight'), 'connector.mlp.*');
  assert.equal(keyGroup('model.embed_tokens.weight'), 'model.embed_tokens.*');
  assert.equal(keyGroup('lm_head.weight'), 'lm_head.*');
});
