// The geometry stage: VGGT's losses against values computed here from their formulas (facebookresearch/vggt
// `training/loss.py`), a finite-difference check of the geometry graph's gradients on a micro VGGT, the stage on
// a micro run (2 rooms) lowering the loss, resuming bit-identically after an interruption and writing a
// checkpoint that the loaders of `ask`, `train sft` (encoder cache included) and space-aware sampling read.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { backward } from '../../src/engine/autodiff.ts';
import * as E from '../../src/engine/index.ts';
import { openSpatialMllm } from '../../src/models/spatial_mllm/checkpoint.ts';
import { openVggt } from '../../src/models/vggt/load.ts';
import { VggtModel } from '../../src/models/vggt/model.ts';
import { Session } from '../../src/runtime/session.ts';
import { type HostTensor, tensor } from '../../src/tensor.ts';
import { encoderWeightsDigest } from '../../src/train/frozen_encoders.ts';
import { geometrySample, listRenderedScenes, normaliseGroundTruth } from '../../src/train/geometry_data.ts';
import { buildGeometryGraph, geometryFeeds, runGeometry } from '../../src/train/geometry_run.ts';
import { cameraLoss, regressionLoss } from '../../src/train/vggt_losses.ts';
import { readSafetensors, writeSafetensors } from '../../src/weights/safetensors.ts';
import { writeMicro } from './geometry_micro.ts';

const dir = mkdtempSync(join(tmpdir(), 'geometry-'));
const micro = writeMicro(dir);

async function run(g: E.Graph, feeds: Record<string, HostTensor>) {
  const s = await Session.create(E.toOnnx(g, { lowering: 'primitive', params: 'inputs' }).bytes, {
    threads: 1,
  });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

const scalarOf = (t: HostTensor) => Number(t.data[0]);

test('camera loss: L1 per part, translation clamped at 100, iterations weighted 0.6^(n−1−i) and averaged', async () => {
  const gt = [0.5, -1, 2, 0.1, 0.2, 0.3, 0.9, 1.1, 0.8, 0, 0, 0, 0, 0, 0, 1, 1.2, 0.7];
  const it0 = gt.map((v, i) => v + (i === 1 ? 150 : 0.25 * ((i % 3) - 1)));
  const it1 = gt.map((v, i) => v + 0.1 * ((i % 4) - 1.5));
  const g = new E.Graph('camera_loss');
  const inputs = ['p0', 'p1', 'gt'].map((n) => g.input(n, 'float32', [1, 2, 9]));
  const l = cameraLoss([inputs[0], inputs[1]], inputs[2]);
  for (const [k, t] of Object.entries(l)) g.output(k, t);
  const t = (v: number[]) => tensor('float32', [1, 2, 9], v);
  const out = await run(g, { p0: t(it0), p1: t(it1), gt: t(gt) });
  // Written out: per iteration the mean |Δ| over the entries of each part (T clamped at 100), weights 0.6, 1.
  const part = (pred: number[], lo: number, hi: number, clamp: number) => {
    const d: number[] = [];
    for (const s of [0, 9])
      for (let k = lo; k < hi; k++) d.push(Math.min(Math.abs(pred[s + k] - gt[s + k]), clamp));
    return d.reduce((a, b) => a + b, 0) / d.length;
  };
  const expect = (lo: number, hi: number, clamp = Infinity) =>
    (0.6 * part(it0, lo, hi, clamp) + part(it1, lo, hi, clamp)) / 2;
  const [T, R, FL] = [expect(0, 3, 100), expect(3, 7), expect(7, 9)];
  for (const [name, want] of Object.entries({ T, R, FL, loss: T + R + 0.5 * FL }))
    assert.ok(
      Math.abs(scalarOf(out[name]) - want) <= 1e-5 * Math.max(1, want),
      `${name} ${scalarOf(out[name])} vs ${want}`,
    );
});

test('depth/point regression loss: masked conf-weighted L2 − α·log c, plain L2, multi-scale gradient term', async () => {
  const [H, W, C] = [3, 4, 2];
  const n = H * W;
  const pred = Array.from({ length: n * C }, (_, i) => Math.sin(i) * 0.7);
  const gt = Array.from({ length: n * C }, (_, i) => Math.cos(i * 0.5));
  const conf = Array.from({ length: n }, (_, i) => 1 + 0.1 * i);
  const mask = Array.from({ length: n }, (_, i) => (i === 5 || i === 10 ? 0 : 1));
  const g = new E.Graph('regression_loss');
  const shape = (c?: number) => (c ? [1, 1, H, W, c] : [1, 1, H, W]);
  const r = regressionLoss(
    g.input('pred', 'float32', shape(C)),
    g.input('gt', 'float32', shape(C)),
    g.input('c', 'float32', shape()),
    g.input('m', 'float32', shape()),
    { gamma: 1, alpha: 0.2, gradScales: 2 },
  );
  for (const [k, t] of Object.entries(r)) g.output(k, t);
  const out = await run(g, {
    pred: tensor('float32', shape(C), pred),
    gt: tensor('float32', shape(C), gt),
    c: tensor('float32', shape(), conf),
    m: tensor('float32', shape(), mask),
  });
  const dist = (p: number) =>
    Math.hypot(...Array.from({ length: C }, (_, c) => gt[p * C + c] - pred[p * C + c]));
  const valid = [...Array(n).keys()].filter((p) => mask[p]);
  const reg = valid.reduce((s, p) => s + dist(p), 0) / valid.length;
  const confLoss = valid.reduce((s, p) => s + dist(p) * conf[p] - 0.2 * Math.log(conf[p]), 0) / valid.length;
  // Gradient term at scale step: Σ |Δd| between valid neighbours (x and y) / (valid pixels · C), mean of 2 scales.
  const gradAt = (step: number) => {
    const ys = [...Array(H).keys()].filter((y) => y % step === 0);
    const xs = [...Array(W).keys()].filter((x) => x % step === 0);
    const d = (y: number, x: number, c: number) => {
      const p = y * W + x;
      return mask[p] * (pred[p * C + c] - gt[p * C + c]);
    };
    let sum = 0;
    let count = 0;
    for (const [iy, y] of ys.entries())
      for (const [ix, x] of xs.entries()) {
        const m = mask[y * W + x];
        count += m * C;
        for (let c = 0; c < C; c++) {
          if (ix > 0) sum += m * mask[y * W + xs[ix - 1]] * Math.abs(d(y, x, c) - d(y, xs[ix - 1], c));
          if (iy > 0) sum += m * mask[ys[iy - 1] * W + x] * Math.abs(d(y, x, c) - d(ys[iy - 1], x, c));
        }
      }
    return sum / count;
  };
  const grad = (gradAt(1) + gradAt(2)) / 2;
  for (const [name, want] of Object.entries({ reg, conf: confLoss, grad }))
    assert.ok(
      Math.abs(scalarOf(out[name]) - want) <= 1e-5 * Math.max(1, Math.abs(want)),
      `${name} ${scalarOf(out[name])} vs ${want}`,
    );
});

test('ground truth normalisation: first camera = identity, mean point distance 1, depth scaled alike', () => {
  // Two 1×2 views of a wall at z = 4 from a camera at the origin, the second turned 90° about y and moved.
  const K = [2, 0, 0.5, 0, 2, 0, 0, 0, 1];
  const E0 = [1, 0, 0, 1, 0, 1, 0, 2, 0, 0, 1, 3];
  const E1 = [0, 0, -1, 0.5, 0, 1, 0, 0, 1, 0, 0, -1];
  const depth = Float32Array.of(4, 4, 2, 0);
  const n = normaliseGroundTruth(
    depth,
    { extrinsics: Float32Array.from([...E0, ...E1]), intrinsics: Float32Array.from([...K, ...K]) },
    { frames: 2, height: 1, width: 2 },
  );
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-5;
  assert.deepEqual(
    [...n.cameras.extrinsics.subarray(0, 12)].map((v) => Math.round(v * 1e6) / 1e6),
    [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
  );
  // Points of frame 0 in its own camera frame: x = (u − 0.5)·4/2, z = 4 → (∓1, 0, 4); mean distance over the 3
  // valid pixels (frame 1's second pixel has depth 0) fixes the scale.
  const pts = n.points.data as Float32Array;
  const norms = [0, 1, 2].map((p) => Math.hypot(pts[3 * p], pts[3 * p + 1], pts[3 * p + 2]));
  assert.ok(close(norms.reduce((a, b) => a + b) / 3, 1), `${norms}`);
  assert.ok(close(pts[2] * n.scale, 4) && close(pts[0] * n.scale, -1));
  assert.ok(close((n.depth.data as Float32Array)[2] * n.scale, 2));
  assert.deepEqual([...(n.mask.data as Float32Array)], [1, 1, 1, 0]);
  // Frame 1 relative to frame 0: R1·R0ᵀ = R1, t = t1 − R1·t0, divided by the scale.
  const rel = n.cameras.extrinsics.subarray(12, 24);
  const t = [0.5 - (0 * 1 + 0 * 2 + -1 * 3), 0 - 2, -1 - 1];
  assert.ok(
    close(rel[3] * n.scale, t[0]) && close(rel[7] * n.scale, t[1]) && close(rel[11] * n.scale, t[2]),
    `${rel}`,
  );
});

test('geometry graph gradients match finite differences on a micro VGGT', { timeout: 300_000 }, async (t) => {
  const { model, data } = await micro;
  const { config, weights, checkpoint } = openVggt(model);
  const graph = buildGeometryGraph(config, [28, 56]);
  const params = new Map([...graph.params.keys()].map((n) => [n, weights.read(n)]));
  checkpoint.close();
  const sample = await geometrySample(listRenderedScenes(data)[0], [0, 1, 2]);
  const feeds = { ...geometryFeeds(sample), ...Object.fromEntries(params) };
  // One weight per loss: the camera head's last layer, the depth head's and the point head's output convs.
  const checked = [
    'camera_head.pose_branch.fc2.bias',
    'depth_head.scratch.output_conv2.2.bias',
    'point_head.scratch.output_conv2.2.bias',
  ];
  const bw = backward(graph, 'loss', checked);
  checked.forEach((n) => {
    bw.graph.output(`grad:${n}`, bw.grads.get(n)!);
  });
  const analytic = await run(bw.graph, feeds);
  const forward = await Session.create(E.toOnnx(graph, { lowering: 'primitive', params: 'inputs' }).bytes, {
    threads: 1,
  });
  try {
    const lossAt = async (name: string, k: number, delta: number) => {
      const t = params.get(name)!;
      const data = Float32Array.from(t.data as Float32Array);
      data[k] += delta;
      return scalarOf((await forward.run({ ...feeds, [name]: { ...t, data } })).loss);
    };
    const h = 1e-2;
    let worst = 0;
    for (const name of checked) {
      const g = analytic[`grad:${name}`].data as Float32Array;
      for (const k of [0, g.length - 1]) {
        const numeric = ((await lossAt(name, k, h)) - (await lossAt(name, k, -h))) / (2 * h);
        worst = Math.max(worst, Math.abs(numeric - g[k]) / Math.max(Math.abs(numeric), 1e-3));
        assert.ok(
          Math.abs(numeric - g[k]) <= 0.02 * Math.abs(numeric) + 2e-3,
          `${name}[${k}]: ${g[k]} vs ${numeric}`,
        );
      }
    }
    t.diagnostic(
      `largest relative difference autodiff vs central differences (h ${h}): ${worst.toExponential(2)}`,
    );
  } finally {
    await forward.release();
  }
});

const readLog = (d: string) =>
  readFileSync(join(d, 'train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

test('micro run: the loss falls, an interrupted run resumes bit-identically, the checkpoint carries the trained VGGT', {
  timeout: 600_000,
}, async () => {
  const { model, data } = await micro;
  // The camera head alone trains here (its backward compiles in seconds; the full graph's takes minutes).
  const options = (out: string, log: (s: string) => void = () => {}) => ({
    model,
    data,
    out,
    steps: 8,
    frames: 4,
    seed: 2,
    saveEvery: 1,
    threads: 1,
    hyper: { lr: 1e-2, weightDecay: 0.05, warmupRatio: 0, maxGradNorm: 1 },
    trainable: (n: string) => n.startsWith('camera_head.'),
    log,
  });
  const whole = join(dir, 'whole');
  const summary = await runGeometry(options(whole));
  assert.equal(summary.steps, 8);
  // Every step sees all 4 frames of one of 2 rooms: the same sample comes back, with a lower loss.
  const log = readLog(whole);
  for (const scene of new Set(log.map((r) => r.scene))) {
    const losses = log.filter((r) => r.scene === scene).map((r) => r.loss);
    assert.ok(losses.length >= 2 && losses[losses.length - 1] < losses[0], `${scene}: ${losses}`);
  }

  const cut = join(dir, 'cut');
  let lines = 0;
  await assert.rejects(
    runGeometry(
      options(cut, () => {
        if (++lines === 3) throw new Error('interrupted');
      }),
    ),
    /interrupted/,
  );
  assert.equal(readLog(cut).length, 3);
  const resumed = await runGeometry(options(cut));
  assert.equal(resumed.resumedFrom, 3);
  const bytes = (d: string, f: string) => readFileSync(join(d, f));
  assert.ok(bytes(whole, 'state.safetensors').equals(bytes(cut, 'state.safetensors')));
  assert.ok(bytes(whole, 'model/model.safetensors').equals(bytes(cut, 'model/model.safetensors')));
  const strip = (r: Record<string, unknown>) => ({ ...r, seconds: 0 });
  assert.deepEqual(readLog(cut).map(strip), readLog(whole).map(strip));

  // The exported folder: same keys, trained camera head, everything else byte-equal to the start.
  const before = openSpatialMllm(model);
  const after = openSpatialMllm(summary.model);
  try {
    const keys = before.checkpoint.names();
    assert.deepEqual(after.checkpoint.names().sort(), [...keys].sort());
    const same = (k: string) =>
      Buffer.from(before.checkpoint.read(k).data.buffer).equals(
        Buffer.from(after.checkpoint.read(k).data.buffer),
      );
    const changed = keys.filter((k) => !same(k));
    assert.ok(changed.length > 0);
    assert.ok(
      changed.every((k) => k.startsWith('spatial_encoder.vggt_model.camera_head.')),
      changed.join(),
    );
  } finally {
    before.checkpoint.close();
    after.checkpoint.close();
  }
  // Space-aware sampling's loader predicts with the trained head.
  const images = (await geometrySample(listRenderedScenes(data)[0], [0, 1, 2, 3])).images;
  const pose = async (m: string) => {
    const v = VggtModel.load(m, { threads: 1 });
    try {
      const p = await v.predict(images);
      return p.poseEncList![p.poseEncList!.length - 1].data as Float32Array;
    } finally {
      await v.release();
    }
  };
  const [p0, p1] = [await pose(model), await pose(summary.model)];
  assert.ok(p0.some((v, i) => v !== p1[i]));
});

test('the SFT encoder cache is keyed by the encoder weights: shared across folders and LLM changes, never stale after a VGGT or ViT change', async () => {
  const { model } = await micro;
  const digest = (dir: string) => {
    const ckpt = openSpatialMllm(dir);
    try {
      return encoderWeightsDigest(ckpt);
    } finally {
      ckpt.checkpoint.close();
    }
  };
  const base = digest(model);
  const copy = join(dir, 'digest_copy');
  cpSync(model, copy, { recursive: true });
  assert.equal(digest(copy), base, 'same encoders in another folder: same key');
  const tensors = readSafetensors(join(model, 'model.safetensors'));
  const nudged = (prefix: string) => {
    const out = new Map(tensors);
    const name = [...tensors.keys()].find((k) => k.startsWith(prefix))!;
    const t = tensors.get(name)!;
    const data = Float32Array.from(t.data as Float32Array);
    data[0] += 1;
    out.set(name, { ...t, data });
    writeSafetensors(join(copy, 'model.safetensors'), out);
    return digest(copy);
  };
  assert.equal(nudged('model.layers.'), base, 'an LLM weight is not an encoder input');
  assert.equal(nudged('visual.merger.'), base, 'the merger trains: not part of the key');
  assert.notEqual(nudged('spatial_encoder.vggt_model.aggregator.'), base, 'a VGGT aggregator weight');
  assert.notEqual(nudged('visual.blocks.'), base, 'a ViT block weight');
});
