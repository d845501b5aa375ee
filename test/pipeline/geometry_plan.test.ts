// Space-aware sampling's geometry plans: candidate chunks that share an anchor frame, their scale alignment, and
// the cpu plan through sampleFrames with a stand-in VGGT (the calls it makes, the cache it shares with exact).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { demoFrames } from '../../src/apps/demo/clip.ts';
import { openVideo, writeVideo } from '../../src/media/video.ts';
import { defaultVggtConfig } from '../../src/models/vggt/config.ts';
import { vggtResizeSize } from '../../src/models/vggt/preprocess.ts';
import {
  alignChunk,
  candidateFrameIndices,
  checkGeometryMode,
  defaultGeometryMode,
  GEOMETRY_PLANS,
  type GeometryModel,
  geometryChunks,
  type PointMaps,
  reconstructCandidates,
  sampleFrames,
} from '../../src/pipeline/frame_sampling.ts';
import { type HostTensor, tensor } from '../../src/tensor.ts';

/** Deterministic pseudo-random point maps of S frames of H×W (points in [−2, 2), confidences in [1, 3)). */
function randomMaps(S: number, H: number, W: number, seed = 1): PointMaps {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const points = Float32Array.from({ length: S * H * W * 3 }, () => 4 * next() - 2);
  const conf = Float32Array.from({ length: S * H * W }, () => 1 + 2 * next());
  return { frames: S, height: H, width: W, points, conf };
}

/** Frames `frames` of `maps`, points times `scale`. */
function framesOf(maps: PointMaps, frames: number[], scale: number): PointMaps {
  const hw = maps.height * maps.width;
  const points = new Float32Array(frames.length * hw * 3);
  const conf = new Float32Array(frames.length * hw);
  frames.forEach((f, j) => {
    points.set(
      maps.points.subarray(f * hw * 3, (f + 1) * hw * 3).map((v) => v * scale),
      j * hw * 3,
    );
    conf.set(maps.conf.subarray(f * hw, (f + 1) * hw), j * hw);
  });
  return { ...maps, frames: frames.length, points, conf };
}

describe('geometry chunks', () => {
  test('one call when the candidates fit; otherwise every call starts with the anchor and holds ≤ chunkFrames', () => {
    for (const [n, chunk] of [
      [5, 16],
      [16, 16],
      [17, 16],
      [32, 16],
      [128, 16],
      [100, 7],
      [3, 2],
    ]) {
      const chunks = geometryChunks(n, chunk);
      if (n <= chunk) {
        assert.deepEqual(chunks, [Array.from({ length: n }, (_, i) => i)]);
        continue;
      }
      assert.ok(chunks.every((c) => c[0] === 0 && c.length <= chunk && c.length >= 2));
      const rest = chunks.flatMap((c) => c.slice(1)).sort((a, b) => a - b);
      assert.deepEqual(
        rest,
        Array.from({ length: n - 1 }, (_, i) => i + 1),
        'every other candidate once',
      );
      assert.equal(chunks.length, Math.ceil((n - 1) / (chunk - 1)), 'as few calls as fit');
      // interleaved: each call spans the video
      for (const c of chunks) assert.ok(c.at(-1)! >= n - chunks.length, `call ${c} reaches the end`);
    }
    assert.throws(() => geometryChunks(10, 1), /≥ 2 frames/);
  });

  test('the plans: exact is upstream (128 candidates at 518 px, one call); cpu is smaller', () => {
    assert.deepEqual(GEOMETRY_PLANS.exact, { candidates: 128, width: 518, chunkFrames: 128 });
    const cpu = GEOMETRY_PLANS.cpu;
    assert.ok(cpu.candidates < 128 && cpu.width < 518 && cpu.width % 14 === 0 && cpu.chunkFrames >= 2);
    assert.equal(defaultGeometryMode('cpu'), 'cpu');
    assert.equal(defaultGeometryMode('cuda'), 'exact');
    assert.equal(defaultGeometryMode('webgpu'), 'exact');
    assert.throws(() => checkGeometryMode('fast'), /--geometry fast: choose one of exact, cpu/);
  });
});

describe('chunk alignment', () => {
  test('alignChunk recovers the scale between two calls from the anchor alone', () => {
    const ref = randomMaps(3, 6, 5);
    for (const scale of [0.25, 1, 3.5]) {
      const other = framesOf(ref, [0, 2], 1 / scale);
      assert.ok(Math.abs(alignChunk(ref, other) / scale - 1) < 1e-6);
    }
  });

  test('alignChunk uses the anchor pixels at least as confident as the median in both calls', () => {
    const ref = randomMaps(1, 4, 4, 3);
    const other = framesOf(ref, [0], 0.5);
    const hw = 16;
    // corrupt the least confident half of the other call's anchor: the scale must not move
    const median = Float32Array.from(other.conf).sort()[hw >> 1];
    for (let i = 0; i < hw; i++) if (other.conf[i] < median) other.points.fill(100, i * 3, i * 3 + 3);
    assert.ok(Math.abs(alignChunk(ref, other) - 2) < 1e-6);
  });

  test('reconstructCandidates: calls of ≤ chunkFrames frames, each rescaled, give the first call’s maps', async () => {
    const S = 23;
    const truth = randomMaps(S, 3, 4, 5);
    const ids = tensor(
      'float32',
      [S, 1],
      Float32Array.from({ length: S }, (_, i) => i),
    );
    const seen: number[][] = [];
    const out = await reconstructCandidates(ids, 6, async (chunk: HostTensor) => {
      const frames = Array.from(chunk.data as Float32Array);
      seen.push(frames);
      return framesOf(truth, frames, 1 / (seen.length + 0.5)); // a different scale per call, as VGGT's
    });
    assert.deepEqual(seen, geometryChunks(S, 6));
    const firstScale = 1 / 1.5;
    for (let i = 0; i < truth.points.length; i++)
      assert.ok(Math.abs(out.points[i] - truth.points[i] * firstScale) < 1e-5, `point value ${i}`);
    assert.deepEqual(out.conf, truth.conf);
    // one chunk: the call's maps as they are
    const one = await reconstructCandidates(ids, S, async () => truth);
    assert.equal(one, truth);
  });
});

describe('sampleFrames with the cpu plan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'geometry-plan-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in VGGT: world points = (frame index of the call, pixel row, pixel column) spread in 3D. */
  function standIn(calls: number[][]): GeometryModel {
    const config = defaultVggtConfig();
    config.heads = { camera: false, depth: false, point: true };
    return {
      config,
      async predict(images: HostTensor, o = {}) {
        const [S, , H, W] = images.shape;
        calls.push([S, H, W]);
        assert.deepEqual(o.heads, { camera: false, depth: false, point: true }, 'only the point head');
        const points = new Float32Array(S * H * W * 3);
        for (let s = 0; s < S; s++)
          for (let y = 0; y < H; y++)
            for (let x = 0; x < W; x++) points.set([s, y / H, x / W], ((s * H + y) * W + x) * 3);
        return {
          layers: new Map(),
          worldPoints: tensor('float32', [1, S, H, W, 3], points),
          worldPointsConf: tensor('float32', [1, S, H, W], new Float32Array(S * H * W).fill(2)),
        };
      },
    };
  }

  test('calls of ≤ 16 frames at the plan width, cached apart from exact, an exact cache serves it', async () => {
    const path = join(dir, 'clip.mp4');
    await writeVideo(path, demoFrames(20, 112, 84), 5);
    const video = await openVideo(path);
    const plan = GEOMETRY_PLANS.cpu;
    const [w, h] = vggtResizeSize(112, 84, 'crop', plan.width);
    const cacheDir = join(dir, 'cache');
    const calls: number[][] = [];
    const cpu = await sampleFrames(video, {
      frames: 4,
      sampling: 'space-aware',
      geometryMode: 'cpu',
      geometry: () => standIn(calls),
      cacheDir,
    });
    const chunks = geometryChunks(Math.min(plan.candidates, 20), plan.chunkFrames);
    assert.deepEqual(
      calls,
      chunks.map((c) => [c.length, h, w]),
    );
    const candidates = candidateFrameIndices(20, plan.candidates);
    assert.ok(cpu.indices.every((i) => candidates.includes(i)));
    assert.equal(readdirSync(cacheDir).length, 1);

    // exact: its own cache entry; once written, the cpu mode reads it instead of its own
    const exactCalls: number[][] = [];
    const exact = await sampleFrames(video, {
      frames: 4,
      sampling: 'space-aware',
      geometryMode: 'exact',
      geometry: () => standIn(exactCalls),
      cacheDir,
    });
    assert.deepEqual(exactCalls, [[20, 392, 518]]);
    assert.equal(readdirSync(cacheDir).length, 2);
    const again = await sampleFrames(video, {
      frames: 4,
      sampling: 'space-aware',
      geometryMode: 'cpu',
      geometry: () => assert.fail('cached: no model needed'),
      cacheDir,
    });
    assert.deepEqual(again.indices, exact.indices);
  });
});
