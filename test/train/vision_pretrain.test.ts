// Vision pretraining (src/train/vision_pretrain.ts): the per-patch targets on a hand-made instance/depth map, the
// ViT + heads graph's gradients against finite differences on a micro config, and the metrics on a hand count.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VisionConfig } from '../../src/models/qwen2_5_vl/config.ts';
import { f32, type HostTensor, i64 } from '../../src/tensor.ts';
import { replay } from '../../src/train/replay.ts';
import { Rng } from '../../src/train/rng.ts';
import {
  BACKGROUND,
  buildVisionPretrainGraph,
  HEADS,
  patchLabels,
  patchMetrics,
  visionClasses,
} from '../../src/train/vision_pretrain.ts';
import { gradSessions } from '../support/grad_sessions.ts';

test('the class list: background first, then each catalog category once', () => {
  const classes = visionClasses();
  assert.equal(classes[0], BACKGROUND);
  assert.equal(new Set(classes).size, classes.length);
  for (const c of ['chair', 'table', 'bed', 'sofa', 'tv', 'trash bin']) assert.ok(classes.includes(c), c);
});

test('patch labels: majority category over both frames of the pair, background a class, mean log-depth of valid pixels', () => {
  // 2×2-pixel patches, 2×2 merge, 2 frames per temporal patch: grid [1, 2, 4] = a 4×8 frame, rows in the
  // processor's order (merge group (0,0): patches (0,0) (0,1) (1,0) (1,1); group (0,1): (0,2) (0,3) (1,2) (1,3)).
  const [H, W] = [4, 8];
  const instance = new Uint8Array(2 * H * W);
  const depth = new Float32Array(2 * H * W).fill(2);
  const px = (f: number, y: number, x: number) => f * H * W + y * W + x;
  // Patch (0,0): id 5 on 5 of its 8 pixels (3 in frame 0, 2 in frame 1) → class of 5.
  for (const [f, y, x] of [
    [0, 0, 0],
    [0, 0, 1],
    [0, 1, 0],
    [1, 0, 0],
    [1, 1, 1],
  ])
    instance[px(f, y, x)] = 5;
  // Patch (0,1): id 7 on 4 pixels, background on 4 → the tie goes to the lower class (background, 0).
  for (const [f, y, x] of [
    [0, 0, 2],
    [0, 0, 3],
    [1, 1, 2],
    [1, 1, 3],
  ])
    instance[px(f, y, x)] = 7;
  // Patch (1,3): id 7 on frame 1 only (4 pixels) and id 5 on 3 pixels of frame 0 → 7; depth 0 (invalid) on
  // frame 1, e on frame 0 → log-depth 1 from frame 0's 4 pixels alone.
  for (const [y, x] of [
    [2, 6],
    [2, 7],
    [3, 6],
  ])
    instance[px(0, y, x)] = 5;
  for (const [y, x] of [
    [2, 6],
    [2, 7],
    [3, 6],
    [3, 7],
  ]) {
    instance[px(1, y, x)] = 7;
    depth[px(1, y, x)] = 0;
    depth[px(0, y, x)] = Math.E;
  }
  // Patch (1,2): no valid depth at all.
  for (const f of [0, 1])
    for (const [y, x] of [
      [2, 4],
      [2, 5],
      [3, 4],
      [3, 5],
    ])
      depth[px(f, y, x)] = 0;
  const classOf = (id: number) => ({ 0: 0, 5: 3, 7: 9 })[id as 0 | 5 | 7]!;
  const geo = {
    grid: [1, 2, 4] as [number, number, number],
    patchSize: 2,
    mergeSize: 2,
    temporalPatchSize: 2,
  };
  const l = patchLabels({ instance, depth, height: H, width: W }, { ...geo, frameIndices: [0, 1] }, classOf);
  // Rows: (0,0) (0,1) (1,0) (1,1) | (0,2) (0,3) (1,2) (1,3).
  assert.deepEqual([...l.category], [3, 0, 0, 0, 0, 0, 0, 9]);
  assert.deepEqual([...l.depthMask], [1, 1, 1, 1, 1, 1, 0, 1]);
  const ln2 = Math.log(2);
  // e is stored as float32: ln(fround(e)) = 1 − 6e-8.
  const want = [ln2, ln2, ln2, ln2, ln2, ln2, 0, 1];
  l.logDepth.forEach((v, i) => {
    assert.ok(Math.abs(v - want[i]) < 1e-6, `row ${i}: ${v} vs ${want[i]}`);
  });

  // The same maps at twice the size give the same targets (each processed pixel reads the map under its centre).
  const up = (src: Uint8Array | Float32Array) => {
    const out = new (src.constructor as Float32ArrayConstructor)(4 * src.length);
    for (let f = 0; f < 2; f++)
      for (let y = 0; y < 2 * H; y++)
        for (let x = 0; x < 2 * W; x++)
          out[f * 4 * H * W + y * 2 * W + x] = src[f * H * W + (y >> 1) * W + (x >> 1)];
    return out;
  };
  const big = patchLabels(
    { instance: up(instance) as unknown as Uint8Array, depth: up(depth), height: 2 * H, width: 2 * W },
    { ...geo, frameIndices: [0, 1] },
    classOf,
  );
  assert.deepEqual(big, l);
  // A pair's frames are the sampled ones: slot 0 reads frames [1, 1] (the repeated last frame) when given [1].
  const single = patchLabels(
    { instance, depth, height: H, width: W },
    { ...geo, frameIndices: [1] },
    classOf,
  );
  assert.deepEqual([...single.category], [0, 0, 0, 0, 0, 0, 0, 9]);
  assert.deepEqual([...single.depthMask], [1, 1, 1, 1, 1, 1, 0, 0]);
});

test('patch metrics on a hand count: accuracy, mean IoU over classes with a union, AbsRel over patches with depth', () => {
  const labels = {
    category: Int32Array.from([0, 0, 1, 2]),
    logDepth: Float32Array.from([0, Math.log(2), 0, 0]),
    depthMask: Float32Array.from([1, 1, 0, 0]),
  };
  const m = patchMetrics([0, 1, 1, 0], labels, [Math.log(1.5), Math.log(2), 5, 5], 4);
  assert.equal(m.accuracy, 0.5);
  // class 0: ∩ 1, ∪ 3; class 1: ∩ 1, ∪ 2; class 2: ∩ 0, ∪ 1; class 3: no union, not counted.
  assert.ok(Math.abs(m.miou - (1 / 3 + 1 / 2 + 0) / 3) < 1e-12);
  assert.ok(Math.abs(m.absRel - 0.25) < 1e-6, `${m.absRel}`);
});

test('ViT + pretraining heads: gradients of ViT and head weights match finite differences (micro config)', async (t) => {
  const vision: VisionConfig = {
    depth: 2,
    hiddenSize: 8,
    numHeads: 2,
    intermediateSize: 12,
    patchSize: 2,
    temporalPatchSize: 2,
    spatialMergeSize: 2,
    windowSize: 8,
    fullAttBlockIndexes: [1],
    outHiddenSize: 8,
    inChannels: 3,
    tokensPerSecond: 2,
  };
  const grid: [number, number, number] = [2, 4, 8];
  const n = grid[0] * grid[1] * grid[2];
  const K = 5;
  const forward = replay(buildVisionPretrainGraph(vision, grid, K), { outputs: ['loss'] });
  const rng = new Rng(3);
  const normal = (shape: number[], scale: number) =>
    f32(
      shape,
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()),
    );
  const weights = new Map<string, HostTensor>();
  for (const [name, p] of forward.params) {
    const w = normal(p.shape as number[], 0.3);
    // RMSNorm gains around 1.
    if (/norm\d\.weight$/.test(name)) for (let i = 0; i < w.data.length; i++) w.data[i] += 1;
    weights.set(name, w);
  }
  const feeds: Record<string, HostTensor> = {
    pixel_values: normal([n, 3 * 2 * 2 * 2], 1),
    patch_class: i64(
      [n],
      Array.from({ length: n }, () => rng.int(K)),
    ),
    // Targets ±10 away from the predictions (|·| < 3 here): the L1 kink stays out of the finite differences' reach.
    patch_log_depth: f32(
      [n],
      Array.from({ length: n }, (_, i) => (i % 2 ? 10 : -10) + rng.normal()),
    ),
    patch_depth_mask: f32(
      [n],
      Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : 1)),
    ),
  };
  const wrt = [
    'visual.patch_embed.proj.weight',
    'visual.blocks.0.attn.qkv.weight',
    'visual.blocks.0.mlp.down_proj.weight',
    'visual.blocks.1.attn.proj.weight',
    'visual.blocks.1.norm2.weight',
    `${HEADS.category}.weight`,
    `${HEADS.depth}.bias`,
  ];
  const { grads, loss } = await gradSessions(forward, wrt);
  const all = (): Record<string, HostTensor> => ({ ...Object.fromEntries(weights), ...feeds });
  const lines: string[] = [];
  try {
    const g0 = await grads.run(all());
    for (const name of wrt) {
      const value = weights.get(name)!.data as Float32Array;
      const grad = g0[`grad:${name}`].data as Float32Array;
      // The three weights of the tensor with the largest gradients, one at a time.
      const picks = [...grad.keys()].sort((a, b) => Math.abs(grad[b]) - Math.abs(grad[a])).slice(0, 3);
      for (const i of picks) {
        const h = 1e-2;
        const x0 = value[i];
        const at = async (v: number) => {
          value[i] = v;
          return (await loss.run(all())).loss.data[0] as number;
        };
        const numeric = ((await at(x0 + h)) - (await at(x0 - h))) / (2 * h);
        value[i] = x0;
        lines.push(`${name}[${i}]: ${grad[i].toExponential(3)} vs ${numeric.toExponential(3)}`);
        assert.ok(Math.abs(numeric - grad[i]) <= 2e-2 * Math.abs(grad[i]) + 2e-4, lines[lines.length - 1]);
      }
    }
  } finally {
    t.diagnostic(lines.join('\n'));
    await grads.release();
    await loss.release();
  }
});
