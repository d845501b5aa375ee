// Accuracy (and speed) cost of the quantized formats (a script, not a test; it prints tables).
// 1. Fixtures: every `qwen2_5_vl` fixture case through the real loader with int8/int4 weights (MatMulNBits,
//    accuracy level 0 = float activations, 4 = int8 activations; the tied embedding table quantized too unless
//    marked), against the fixture's float32 PyTorch logits: max abs error, cosine, greedy tokens still exact.
// 2. Random weights at real width (reduced depth): the 3B text decoder (last-position logits), the ViT and VGGT's
//    aggregator (incl. its DINOv2 patch embedding): cosine of the quantized graph's output against the float32
//    graph's, with the time of one run of each graph side by side (the machine is shared: compare within a run).
// 3. `--spatial-res half` (VGGT on 2×2-pooled frames, its tokens repeated over the 2×2 patches they cover): every
//    `spatial_mllm` fixture's connector output (the spatial projection added to the video embeddings) against
//    upstream's full-resolution one; at real width (random weights, 2 aggregator units, 4 frames of 644×476) the
//    half-resolution aggregator's tokens, repeated, against the full-resolution ones, with both times.
// Usage: npm run bench:accuracy [-- --skip-random]
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as E from '../src/engine/index.ts';
import { generateQwen } from '../src/models/generate.ts';
import { FP32, type LinearFormat } from '../src/models/layers.ts';
import { qwenWeightSource } from '../src/models/qwen2_5_vl/checkpoint.ts';
import {
  parseQwen25VLConfig,
  QWEN2_5_VL_3B_CONFIG,
  ropeIndexConfig,
} from '../src/models/qwen2_5_vl/config.ts';
import { Qwen25VLModel } from '../src/models/qwen2_5_vl/model.ts';
import { type GridThw, ropeIndex } from '../src/models/qwen2_5_vl/rope_index.ts';
import { buildTextDecoder } from '../src/models/qwen2_5_vl/text_decoder.ts';
import { buildVisionEncoder } from '../src/models/qwen2_5_vl/vision_encoder.ts';
import { openSpatialMllm } from '../src/models/spatial_mllm/checkpoint.ts';
import { buildSpatialFusion } from '../src/models/spatial_mllm/fusion.ts';
import { defaultVggtConfig } from '../src/models/vggt/config.ts';
import { buildAggregatorGraph } from '../src/models/vggt/model.ts';
import { ortVersion, Session } from '../src/runtime/session.ts';
import { type HostTensor, tensor, toFloat32 } from '../src/tensor.ts';
import { quantizedSource } from '../src/weights/quantized_source.ts';
import { openCheckpoint, openSafetensors } from '../src/weights/safetensors.ts';
import { findFixtures } from '../test/support/fixtures.ts';
import { qwenFixtureCaseNames, readQwenFixtureCase } from '../test/support/qwen_fixture_cases.ts';
import { pool2x2, repeat2x2 } from '../test/support/spatial_half.ts';
import { randomTensor, randomWeights } from './support/random_weights.ts';
import { markdownTable } from './support/table.ts';

interface Variant {
  name: string;
  format: LinearFormat;
  quantizedTable: boolean;
}

const q = (bits: 4 | 8, accuracyLevel: 0 | 4, blockSize = 32): LinearFormat => ({
  dtype: 'float32',
  quant: { bits, blockSize, accuracyLevel },
});
const VARIANTS: Variant[] = [
  { name: 'int8, level 0', format: q(8, 0), quantizedTable: true },
  { name: 'int8, level 4', format: q(8, 4), quantizedTable: true },
  { name: 'int4, level 0', format: q(4, 0), quantizedTable: true },
  { name: 'int4, level 4', format: q(4, 4), quantizedTable: true },
  { name: 'int4, level 4, fp32 table', format: q(4, 4), quantizedTable: false },
  { name: 'int4, level 4, block 128', format: q(4, 4, 128), quantizedTable: true },
  { name: 'int8, level 4, block 128', format: q(8, 4, 128), quantizedTable: true },
];

function compare(got: HostTensor | Float32Array, want: HostTensor | Float32Array) {
  const a = got instanceof Float32Array ? got : toFloat32(got);
  const b = want instanceof Float32Array ? want : toFloat32(want);
  let [maxAbs, scale, dot, na, nb] = [0, 0, 0, 0, 0];
  for (let i = 0; i < b.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return { maxAbs, scale, cosine: dot / Math.sqrt(na * nb) };
}

const ints = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);

async function fixtureRows(): Promise<string[][]> {
  const rows: string[][] = [];
  for (const fixture of findFixtures('qwen2_5_vl')) {
    const io = openSafetensors(`${fixture.dir}/io.safetensors`);
    const cases = qwenFixtureCaseNames(io);
    for (const v of VARIANTS) {
      const weights = quantizedSource(qwenWeightSource(openCheckpoint(fixture.dir)), v.format.quant!);
      const model = Qwen25VLModel.load(fixture.dir, {
        format: v.format,
        weights,
        quantizedTable: v.quantizedTable,
      });
      for (const c of cases) {
        const k = readQwenFixtureCase(io, c);
        let visualEmbeds: HostTensor | undefined;
        let vision = '–';
        if (k.visual) {
          visualEmbeds = await model.encodeVision(k.visual.pixels, k.visual.grid);
          const e = compare(visualEmbeds, io.read(`${c}.visual.output`));
          vision = `${e.maxAbs.toExponential(1)} (cos ${e.cosine.toFixed(5)})`;
        }
        const { ids } = k;
        const rope = ropeIndex({ inputIds: [ids], ...k }, ropeIndexConfig(model.config));
        const full = await model.forward({
          inputIds: ids,
          positionIds: rope.positionIds,
          visualEmbeds,
          allLogits: true,
        });
        const e = compare(full.logits, io.read(`${c}.logits`));
        const want = ints(io.read(`${c}.generate.new_tokens`));
        const res = await generateQwen(
          model,
          { inputIds: ids, positionIds: rope.positionIds, ropeDelta: rope.ropeDeltas[0], visualEmbeds },
          { maxNewTokens: want.length, stopTokens: [] },
        );
        const same = res.tokens.filter((t, i) => t === want[i]).length;
        const prefix = res.tokens.findIndex((t, i) => t !== want[i]);
        rows.push([
          `${fixture.name} ${c}`,
          v.name,
          vision,
          `${e.maxAbs.toExponential(1)} of ${e.scale.toFixed(2)}`,
          e.cosine.toFixed(6),
          `${same}/${want.length}${prefix >= 0 ? ` (first differs at ${prefix})` : ''}`,
        ]);
        console.error(`fixture: ${rows[rows.length - 1].join(' | ')}`);
      }
      await model.release();
    }
  }
  return rows;
}

// ---- random weights at real width ----

const QWEN = parseQwen25VLConfig(structuredClone(QWEN2_5_VL_3B_CONFIG) as unknown as Record<string, unknown>);

/** VGGT-1B's widths with 2 aggregator units (2 DINOv2 blocks + 2 frame/global pairs). */
function twoUnitVggt() {
  const vggt = defaultVggtConfig();
  vggt.aggregator.depth = 2;
  vggt.aggregator.patchEmbed.depth = 2;
  return vggt;
}

interface Probe {
  name: string;
  build: (format: LinearFormat) => E.Graph;
  feeds: Record<string, HostTensor>;
  output: string;
}

function probes(): Probe[] {
  const text = { ...QWEN.text, numLayers: 2 };
  const seq = 64;
  const ids = Array.from({ length: seq }, (_, i) => (i * 7919 + 13) % 151000);
  const grid: GridThw = [1, 34, 46]; // one frame pair of 644×476
  const v = QWEN.vision;
  const vggt = twoUnitVggt();
  return [
    {
      name: 'text decoder, 2 layers + tied head, 64 tokens (last logits)',
      build: (format) =>
        buildTextDecoder(text, { format, quantizedTable: !!format.quant, cacheBuffer: false }),
      feeds: {
        input_ids: tensor('int64', [1, seq], ids),
        position_ids: tensor(
          'int64',
          [3, 1, seq],
          [0, 1, 2].flatMap(() => ids.map((_, i) => i)),
        ),
        visual_embeds: tensor('float32', [0, text.hiddenSize]),
        visual_index: tensor('int64', [0, 1]),
        ...Object.fromEntries(
          Array.from({ length: 2 }, (_, i) => [
            [`past_key.${i}`, tensor('float32', [1, text.numKvHeads, 0, text.headDim])],
            [`past_value.${i}`, tensor('float32', [1, text.numKvHeads, 0, text.headDim])],
          ]).flat(),
        ),
      },
      output: 'logits',
    },
    {
      name: `ViT, 2 blocks (1 window + 1 full) + merger, grid ${grid.join('×')}`,
      build: (format) => buildVisionEncoder({ ...v, depth: 2, fullAttBlockIndexes: [1] }, grid, { format }),
      feeds: {
        pixel_values: randomTensor(
          'float32',
          [grid[0] * grid[1] * grid[2], v.inChannels * v.temporalPatchSize * v.patchSize ** 2],
          5,
          1,
        ),
      },
      output: 'visual_embeds',
    },
    {
      name: 'VGGT aggregator, 2 DINOv2 blocks + 2 frame/global pairs, 4 frames 518×392',
      build: (format) => buildAggregatorGraph(vggt, [392, 518], [1], false, format),
      feeds: {
        images: tensor(
          'float32',
          [1, 4, 3, 392, 518],
          toFloat32(randomTensor('float32', [1, 4, 3, 392, 518], 9, 0.3)).map((x) => x + 0.5),
        ),
      },
      output: 'aggregated_tokens.1',
    },
  ];
}

async function runGraph(
  graph: E.Graph,
  weights: E.WeightSource,
  feeds: Record<string, HostTensor>,
  output: string,
) {
  const model = E.toOnnx(graph, { weights, lowering: 'fused' });
  const session = await Session.create(model.bytes);
  try {
    await session.run(feeds, [output]); // warm-up
    const t0 = performance.now();
    const out = (await session.run(feeds, [output]))[output];
    return { out, ms: performance.now() - t0 };
  } finally {
    await session.release();
  }
}

async function randomRows(): Promise<string[][]> {
  const rows: string[][] = [];
  for (const p of probes()) {
    const random = randomWeights(p.build(FP32));
    const ref = await runGraph(p.build(FP32), random, p.feeds, p.output);
    rows.push([p.name, 'fp32', '1', '–', `${ref.ms.toFixed(0)} ms`, '1.00×']);
    for (const v of VARIANTS.filter((x) => x.quantizedTable)) {
      const got = await runGraph(
        p.build(v.format),
        quantizedSource(random, v.format.quant!),
        p.feeds,
        p.output,
      );
      const e = compare(got.out, ref.out);
      rows.push([
        p.name,
        v.name,
        e.cosine.toFixed(6),
        `${e.maxAbs.toExponential(1)} of ${e.scale.toFixed(2)}`,
        `${got.ms.toFixed(0)} ms`,
        `${(ref.ms / got.ms).toFixed(2)}×`,
      ]);
      console.error(`random: ${rows[rows.length - 1].join(' | ')}`);
    }
  }
  return rows;
}

// ---- --spatial-res half ----

async function halfRows(skipRandom: boolean): Promise<string[][]> {
  const rows: string[][] = [];
  for (const fixture of findFixtures('spatial_mllm')) {
    const ckpt = openSpatialMllm(fixture.dir);
    const io = openSafetensors(`${fixture.dir}/io.safetensors`);
    const grid = ints(io.read('video.video_grid_thw')) as unknown as GridThw;
    const feeds = { frames: io.read('video.frames_uint8'), video_embeds: io.read('video.visual.output') };
    const want = io.read(
      ckpt.config.version === 'v1.1' ? 'connector.spatial_projection' : 'merger.vggt_embeds',
    );
    for (const res of ['full', 'half'] as const) {
      const g = buildSpatialFusion(ckpt.config, grid, {
        spatialInput: 'frames',
        spatialResolution: res,
        debug: true,
      });
      const { out } = await runGraph(g, ckpt.weights, feeds, 'spatial_projection');
      const e = compare(out, want);
      rows.push([
        `${fixture.name} spatial projection, grid ${grid.join('×')}`,
        res,
        e.cosine.toFixed(6),
        `${e.maxAbs.toExponential(1)} of ${e.scale.toFixed(2)}`,
        '–',
        '–',
      ]);
    }
    ckpt.checkpoint.close();
  }
  if (skipRandom) return rows;
  const vggt = twoUnitVggt();
  const [S, H, W] = [4, 476, 644];
  const images = tensor(
    'float32',
    [1, S, 3, H, W],
    toFloat32(randomTensor('float32', [1, S, 3, H, W], 9, 0.3)).map((x) => x + 0.5),
  );
  const fullGraph = buildAggregatorGraph(vggt, [H, W], [1]);
  const random = randomWeights(fullGraph);
  const full = await runGraph(fullGraph, random, { images }, 'aggregated_tokens.1');
  const half = await runGraph(
    buildAggregatorGraph(vggt, [H / 2, W / 2], [1]),
    random,
    { images: pool2x2(images) },
    'aggregated_tokens.1',
  );
  const e = compare(repeat2x2(half.out, 1 + vggt.aggregator.numRegisterTokens, H / 28, W / 28), full.out);
  const name = `VGGT aggregator, 2 DINOv2 blocks + 2 frame/global pairs, ${S} frames ${W}×${H}`;
  rows.push([name, 'full', '1', '–', `${full.ms.toFixed(0)} ms`, '1.00×']);
  rows.push([
    name,
    'half',
    e.cosine.toFixed(6),
    `${e.maxAbs.toExponential(1)} of ${e.scale.toFixed(2)}`,
    `${half.ms.toFixed(0)} ms`,
    `${(full.ms / half.ms).toFixed(2)}×`,
  ]);
  return rows;
}

const { values } = parseArgs({ options: { 'skip-random': { type: 'boolean', default: false } } });
const fixtures = await fixtureRows();
const random = values['skip-random'] ? [] : await randomRows();
const halves = await halfRows(values['skip-random']);
console.log(
  `Quantization accuracy — onnxruntime-node ${ortVersion()} CPU, ${cpus().length} cores, load average ` +
    `${loadavg()[0].toFixed(1)}; MatMulNBits block 32 (asymmetric), level 0 = float activations, 4 = int8 ` +
    'activations; "table" = the tied embedding table / lm_head',
);
console.log("\nFixtures (vs the fixture's float32 PyTorch outputs; fp32 reaches ≈1e-5 on these):");
console.log(
  markdownTable(
    ['case', 'format', 'vision output max abs', 'logits max abs', 'logits cosine', 'greedy tokens'],
    fixtures,
  ),
);
if (random.length) {
  console.log('\nRandom weights at real width (vs the float32 graph; one run after a warm-up each):');
  console.log(markdownTable(['graph', 'format', 'cosine', 'max abs', 'time', 'speed vs fp32'], random));
}
console.log(
  "\n--spatial-res half (fixtures: vs upstream's full-resolution output, with full as the parity row; real width: vs " +
    'the full-resolution graph, one run after a warm-up each):',
);
console.log(markdownTable(['output', 'spatial res', 'cosine', 'max abs', 'time', 'speed vs full'], halves));
