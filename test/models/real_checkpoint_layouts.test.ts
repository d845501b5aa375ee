// The published checkpoints' layouts at real size, without their weights: for every manifest of every
// `real_checkpoint_manifest` fixture (config.json + each tensor's name, shape and dtype as the upstream classes
// save them), a folder of sparse safetensors files of the real byte size (valid headers, data never written) goes
// through the loaders used for real checkpoints: detection (which model and generation, key layout), key mapping,
// config parsing and graph building (shapes only, no session). Every tensor a graph reads must be there with its
// shape and a float dtype, and every tensor of the checkpoint must be read by some graph or be one the manifest
// says upstream never runs.
import assert from 'node:assert/strict';
import {
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { summarizeWeights } from '../../src/apps/inspect.ts';
import type * as E from '../../src/engine/index.ts';
import { InputError } from '../../src/errors.ts';
import { checkpointKey, detectLayout, qwenWeightSource } from '../../src/models/qwen2_5_vl/checkpoint.ts';
import { parseQwen25VLConfig } from '../../src/models/qwen2_5_vl/config.ts';
import { Qwen25VLModel } from '../../src/models/qwen2_5_vl/model.ts';
import type { GridThw } from '../../src/models/qwen2_5_vl/rope_index.ts';
import { buildTextDecoder } from '../../src/models/qwen2_5_vl/text_decoder.ts';
import { buildVisionEncoder } from '../../src/models/qwen2_5_vl/vision_encoder.ts';
import {
  compareWeights,
  expectedParams,
  openSpatialMllm,
  spatialMllmKey,
  VGGT_PREFIX,
} from '../../src/models/spatial_mllm/checkpoint.ts';
import { detectVersion, V1_0_ARCHITECTURE, V1_1_ARCHITECTURE } from '../../src/models/spatial_mllm/config.ts';
import { buildSpatialFusion } from '../../src/models/spatial_mllm/fusion.ts';
import type { VggtConfig } from '../../src/models/vggt/config.ts';
import { openVggt, vggtWeights } from '../../src/models/vggt/load.ts';
import { buildAggregatorGraph, buildCameraHeadGraph, buildDptGraph } from '../../src/models/vggt/model.ts';
import type { DType } from '../../src/tensor.ts';
import { openCheckpoint, safetensorsHeader } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';

interface Manifest {
  model: string;
  config: Record<string, unknown> | null;
  published_config?: Record<string, unknown>;
  tied: Record<string, string>;
  dropped_by_save_pretrained: string[];
  unused_in_forward_prefixes?: string[];
  num_parameters: number;
  tensors: Record<string, { shape: number[]; dtype: string }>;
}

const ELEMENT_BYTES: Record<string, number> = { BF16: 2, F16: 2, F32: 4 };
const FLOAT_CODES = Object.keys(ELEMENT_BYTES);
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const DTYPES: Record<string, DType> = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' };

/** One safetensors file holding `names` (header only; ftruncate makes the data section a hole of its real size). */
function writeSparse(path: string, m: Manifest, names: readonly string[]): void {
  const specs = names.map((name) => ({
    name,
    dtype: DTYPES[m.tensors[name].dtype],
    shape: m.tensors[name].shape,
  }));
  const { head, dataBytes } = safetensorsHeader(specs);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    ftruncateSync(fd, head.length + dataBytes);
  } finally {
    closeSync(fd);
  }
}

/**
 * The folder as published: a model with a config.json comes as save_pretrained writes it (two shards and
 * model.safetensors.index.json, as the Qwen2.5-VL-3B hub checkpoint); VGGT-1B as its single model.safetensors.
 */
function sparseFolder(m: Manifest, config: Record<string, unknown> | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'real-layout-'));
  const names = Object.keys(m.tensors);
  if (!config) {
    writeSparse(join(dir, 'model.safetensors'), m, names);
    return dir;
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const half = Math.ceil(names.length / 2);
  const shards = [names.slice(0, half), names.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeSparse(join(dir, file), m, shard);
    for (const n of shard) weightMap[n] = file;
  });
  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: totalBytes(m) }, weight_map: weightMap }),
  );
  return dir;
}

function totalBytes(m: Manifest): number {
  return Object.values(m.tensors).reduce((a, t) => a + numel(t.shape) * ELEMENT_BYTES[t.dtype], 0);
}

/** Graph parameter name → shape, over several graphs (a name shared by graphs must agree). */
function graphParams(graphs: readonly E.Graph[]): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  for (const g of graphs)
    for (const [name, t] of g.params) {
      const shape = t.shape as number[];
      const seen = out.get(name);
      if (seen) assert.deepEqual(seen, shape, `${name} declared with two shapes`);
      out.set(name, shape);
    }
  return out;
}

interface Comparison {
  missing: string[];
  wrongShape: string[];
  notFloat: string[];
  /** Checkpoint keys some graph reads. */
  used: Set<string>;
}

/** Maps graph parameters onto the manifest's tensors. */
function compare(
  m: Manifest,
  params: Map<string, readonly number[]>,
  key: (name: string) => string,
): Comparison {
  const r: Comparison = { missing: [], wrongShape: [], notFloat: [], used: new Set() };
  for (const [name, shape] of params) {
    const k = key(name);
    const t = m.tensors[k];
    if (!t) r.missing.push(k);
    else {
      r.used.add(k);
      if (t.shape.join() !== shape.join()) r.wrongShape.push(`${k} [${t.shape}] vs graph [${shape}]`);
      if (!FLOAT_CODES.includes(t.dtype)) r.notFloat.push(`${k} ${t.dtype}`);
    }
  }
  return r;
}

/** Checkpoint tensors no graph reads, less those upstream never runs (`unused`). */
function unexpected(m: Manifest, used: Set<string>, unused: (key: string) => boolean): string[] {
  return Object.keys(m.tensors).filter((k) => !used.has(k) && !unused(k));
}

/** `weights inspect` of the folder agrees with the manifest (headers only, so instant at real size). */
function assertInspected(dir: string, m: Manifest): void {
  const s = summarizeWeights(dir);
  assert.deepEqual(s.total.tensors, Object.keys(m.tensors).length);
  assert.equal(s.total.params, m.num_parameters);
}

function assertAccepted(m: Manifest, r: Comparison, unused: (key: string) => boolean): void {
  assert.deepEqual(r.missing, [], 'tensors the graphs read but the checkpoint lacks');
  assert.deepEqual(r.wrongShape, [], 'tensors whose shape differs from the graph parameter');
  assert.deepEqual(r.notFloat, [], 'tensors that are not bf16/fp16/fp32');
  assert.deepEqual(unexpected(m, r.used, unused), [], 'checkpoint tensors no graph reads');
  // Every parameter is accounted for: read by a graph, or one of the never-run ones.
  let total = 0;
  for (const [k, t] of Object.entries(m.tensors)) if (r.used.has(k) || unused(k)) total += numel(t.shape);
  assert.equal(total, m.num_parameters);
}

/** A tied lm_head is absent from saved files (the loader ties it) and no other tensor is dropped. */
function assertTiedHeadAbsent(m: Manifest, tie: boolean): void {
  for (const alias of m.dropped_by_save_pretrained) assert.ok(!(alias in m.tensors), `${alias} saved`);
  assert.equal(tie, 'lm_head.weight' in m.tied, 'tie_word_embeddings vs the manifest');
}

/** VGGT graphs of a config: aggregator (last layer and the DPT layers) at the training size, camera head, and the
 * DPT heads at a 2×2-patch image (their parameters do not depend on the size; building them at 518² costs
 * seconds of position-embedding tables). */
function vggtGraphs(c: VggtConfig): E.Graph[] {
  const layers = [...new Set([...c.dpt.layers, c.aggregator.depth - 1])];
  const heads = (['depth', 'point'] as const).filter((k) => c.heads[k]);
  return [
    buildAggregatorGraph(c, [c.imgSize, c.imgSize], layers),
    ...(c.heads.camera ? [buildCameraHeadGraph(c)] : []),
    ...(heads.length ? [buildDptGraph(c, [2 * c.patchSize, 2 * c.patchSize], heads)] : []),
  ];
}

// DINOv2's mask token feeds only masked-image training (`prepare_tokens_with_masks` with masks); no inference runs it.
const isMaskToken = (k: string) => k.endsWith('aggregator.patch_embed.mask_token');
// The 16 frames of 644×476 of upstream inference: grid [8, 34, 46] in 14-px patches.
const REAL_GRID: GridThw = [8, 34, 46];

const ARCHITECTURE_VERSION: Record<string, 'v1.1' | 'v1.0'> = {
  [V1_1_ARCHITECTURE]: 'v1.1',
  [V1_0_ARCHITECTURE]: 'v1.0',
};

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

for (const fx of findFixtures('real_checkpoint_manifest')) {
  const files = fx.meta.files;
  assert.ok(Array.isArray(files) && files.length > 0, `${fx.dir}/fixture.json lists no manifest files`);
  for (const file of files as string[]) {
    const m = JSON.parse(readFileSync(join(fx.dir, file), 'utf8')) as Manifest;
    const archs = (m.config?.architectures as string[] | undefined) ?? [];
    const version = archs.map((a) => ARCHITECTURE_VERSION[a]).find(Boolean);

    describe(`${fx.name}/${file}: ${m.model}`, () => {
      if (!m.config) {
        test('VGGT: found at no prefix, 1B defaults without a config.json, every tensor read or a never-run head', () => {
          const dir = sparseFolder(m, null);
          dirs.push(dir);
          assertInspected(dir, m);
          const v = openVggt(dir);
          try {
            assert.equal(v.weights.prefix, '');
            const r = compare(m, graphParams(vggtGraphs(v.config)), (n) => n);
            // The tracking head runs only with query points, which no VGGT pipeline here gives.
            assertAccepted(m, r, (k) => k.startsWith('track_head.') || isMaskToken(k));
          } finally {
            v.checkpoint.close();
          }
        });
        return;
      }
      const config = m.config;

      if (!version) {
        test('Qwen2.5-VL: config (as saved and as published), flat keys, vision tower and decoder read every tensor', () => {
          const dir = sparseFolder(m, config);
          dirs.push(dir);
          assertInspected(dir, m);
          const model = Qwen25VLModel.load(dir);
          const c = model.config;
          if (m.published_config)
            for (const part of ['text', 'vision'] as const)
              assert.deepEqual(parseQwen25VLConfig(m.published_config)[part], c[part]);
          assert.equal(c.text.numLayers, config.num_hidden_layers);
          assert.equal(c.vision.depth, (config.vision_config as Record<string, unknown>).depth);
          assertTiedHeadAbsent(m, c.text.tieWordEmbeddings);
          assert.throws(() => detectVersion(config, Object.keys(m.tensors)), /not a Spatial-MLLM checkpoint/);

          const ckpt = openCheckpoint(dir);
          try {
            const source = qwenWeightSource(ckpt);
            assert.equal(source.layout, detectLayout(Object.keys(m.tensors)));
            const vision = buildVisionEncoder(c.vision, REAL_GRID);
            const out = vision.outputs.find((o) => o.name === 'visual_embeds')!.tensor;
            assert.deepEqual(out.shape, [
              numel(REAL_GRID) / c.vision.spatialMergeSize ** 2,
              c.vision.outHiddenSize,
            ]);
            const params = graphParams([vision, buildTextDecoder(c.text)]);
            const r = compare(m, params, (n) => checkpointKey(n, source.layout));
            assertAccepted(m, r, () => false);
          } finally {
            ckpt.close();
          }
        });
        return;
      }

      test(`Spatial-MLLM ${version}: detected, every tensor checked, fusion built at a real grid`, () => {
        const dir = sparseFolder(m, config);
        dirs.push(dir);
        assertInspected(dir, m);
        const ckpt = openSpatialMllm(dir);
        try {
          const cfg = ckpt.config;
          assert.equal(cfg.version, version);
          assert.equal(detectVersion(config), version, 'from config.json alone');
          assertTiedHeadAbsent(m, cfg.qwen.text.tieWordEmbeddings);
          const report = compareWeights(ckpt.checkpoint, cfg);
          assert.deepEqual(report, { missing: [], unexpected: [], wrongShape: [] });

          const params = new Map([...expectedParams(cfg)].map(([n, t]) => [n, t.shape] as const));
          const r = compare(m, params, (n) => spatialMllmKey(n, cfg.version, ckpt.layout));
          const unused = m.unused_in_forward_prefixes ?? [];
          assertAccepted(m, r, (k) => unused.some((p) => k.startsWith(p)) || isMaskToken(k));

          const fusion = buildSpatialFusion(cfg, REAL_GRID, { spatialInput: 'frames' });
          const fused = fusion.outputs.find((o) => o.name === 'fused_video_embeds')!.tensor;
          assert.deepEqual(fused.shape, [
            numel(REAL_GRID) / cfg.connector.spatialMerge ** 2,
            cfg.connector.hiddenSize,
          ]);
        } finally {
          ckpt.checkpoint.close();
        }
      });

      test(`Spatial-MLLM ${version}: the same layout less one tensor is refused, naming it`, () => {
        const lacking = structuredClone(m);
        const [last] = Object.keys(m.tensors)
          .filter((k) => k.startsWith('model.layers.'))
          .slice(-1);
        delete lacking.tensors[last];
        const dir = sparseFolder(lacking, config);
        dirs.push(dir);
        assert.throws(
          () => openSpatialMllm(dir),
          (e: Error) =>
            e instanceof InputError && e.message.includes(`missing 1 tensor: `) && e.message.includes(last),
        );
      });

      test(`Spatial-MLLM ${version}: VGGT with its heads (space-aware sampling) reads the stored heads`, () => {
        const dir = sparseFolder(m, config);
        dirs.push(dir);
        const v = openVggt(dir);
        try {
          assert.equal(v.weights.prefix, VGGT_PREFIX[version]);
          const stored = (head: string) =>
            Object.keys(m.tensors).some((k) => k.startsWith(`${v.weights.prefix}${head}_head.`));
          assert.deepEqual(v.config.heads, {
            camera: stored('camera'),
            depth: stored('depth'),
            point: stored('point'),
          });
          const ckpt = openCheckpoint(dir);
          assert.deepEqual(vggtWeights(ckpt).available, v.config.heads);
          ckpt.close();
          const r = compare(m, graphParams(vggtGraphs(v.config)), (n) => v.weights.prefix + n);
          assert.deepEqual([r.missing, r.wrongShape, r.notFloat], [[], [], []]);
        } finally {
          v.checkpoint.close();
        }
      });
    });
  }
}
