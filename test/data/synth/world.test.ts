// The synthetic world end to end: files written by `synthesize`, read back the way a consumer would (scene JSON,
// safetensors maps, mp4), checked against geometry computed here independently of the renderer.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { boxDistance, corners, insidePolygon, pointBoxDistance, toBox } from '../../../src/data/geometry.ts';
import { answerQuestions } from '../../../src/data/qa/oracle.ts';
import { parseSceneMeta, type SceneMeta, type Vec3 } from '../../../src/data/scene.ts';
import { runSynth, type SynthResult, synthesize } from '../../../src/data/synth/cli.ts';
import { render } from '../../../src/data/synth/render.ts';
import { CAMERA_CLEARANCE, MIN_GAP } from '../../../src/data/synth/room.ts';
import { buildScene, MIN_VISIBLE_FRACTION, type SynthScene } from '../../../src/data/synth/world.ts';
import { InputError } from '../../../src/errors.ts';
import { readImage } from '../../../src/media/image.ts';
import { openVideo } from '../../../src/media/video.ts';
import { toFloat32 } from '../../../src/tensor.ts';
import { QUESTION_TYPES } from '../../../src/vsibench.ts';
import { readSafetensors } from '../../../src/weights/safetensors.ts';

const OPTS = { width: 96, height: 72, frames: 32, fps: 2 };
const SEED = 5;
const SCENES = 6;
const root = mkdtempSync(join(tmpdir(), 'synth-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
const quiet = () => {};

let run: SynthResult;
const outA = join(root, 'a');
before(async () => {
  run = await synthesize({ scenes: SCENES, out: outA, seed: SEED, ...OPTS, log: quiet });
});

interface Written {
  meta: SceneMeta;
  scene: SynthScene;
  depth: Float32Array;
  instance: Uint8Array;
  intrinsics: Float32Array;
  extrinsics: Float32Array;
}

function readScene(index: number): Written {
  const scene = buildScene(SEED, index, OPTS);
  const base = join(outA, 'synthetic', scene.name);
  const meta = parseSceneMeta(JSON.parse(readFileSync(`${base}.json`, 'utf8')), scene.name);
  const maps = readSafetensors(`${base}.safetensors`);
  return {
    meta,
    scene,
    depth: toFloat32(maps.get('depth')!),
    instance: maps.get('instance')!.data as Uint8Array,
    intrinsics: toFloat32(maps.get('intrinsics')!),
    extrinsics: toFloat32(maps.get('extrinsics')!),
  };
}

function sub(u: Vec3, v: Vec3): Vec3 {
  return [u[0] - v[0], u[1] - v[1], u[2] - v[2]];
}
function dot(u: Vec3, v: Vec3): number {
  return u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
}
function along(o: Vec3, d: Vec3, t: number): Vec3 {
  return [o[0] + d[0] * t, o[1] + d[1] * t, o[2] + d[2] * t];
}

// Closest point on triangle abc to p (Ericson, Real-Time Collision Detection §5.1.5), returned as a distance.
function pointTriangleDistance(p: Vec3, a: Vec3, b: Vec3, c: Vec3): number {
  const dist = (q: Vec3) => Math.hypot(q[0] - p[0], q[1] - p[1], q[2] - p[2]);
  const ab = sub(b, a);
  const ac = sub(c, a);
  const ap = sub(p, a);
  const d1 = dot(ab, ap);
  const d2 = dot(ac, ap);
  if (d1 <= 0 && d2 <= 0) return dist(a);
  const bp = sub(p, b);
  const d3 = dot(ab, bp);
  const d4 = dot(ac, bp);
  if (d3 >= 0 && d4 <= d3) return dist(b);
  const vc = d1 * d4 - d3 * d2;
  if (vc <= 0 && d1 >= 0 && d3 <= 0) return dist(along(a, ab, d1 / (d1 - d3)));
  const cp = sub(p, c);
  const d5 = dot(ab, cp);
  const d6 = dot(ac, cp);
  if (d6 >= 0 && d5 <= d6) return dist(c);
  const vb = d5 * d2 - d1 * d6;
  if (vb <= 0 && d2 >= 0 && d6 <= 0) return dist(along(a, ac, d2 / (d2 - d6)));
  const va = d3 * d6 - d5 * d4;
  if (va <= 0 && d4 - d3 >= 0 && d5 - d6 >= 0)
    return dist(along(b, sub(c, b), (d4 - d3) / (d4 - d3 + (d5 - d6))));
  const denom = 1 / (va + vb + vc);
  const q = along(along(a, ab, vb * denom), ac, vc * denom);
  return dist(q);
}

/** Triangles of each instance, as vertex triples. */
function trianglesByInstance(scene: SynthScene): Map<number, [Vec3, Vec3, Vec3][]> {
  const { positions: P, indices: I, instance } = scene.mesh;
  const out = new Map<number, [Vec3, Vec3, Vec3][]>();
  const v = (i: number): Vec3 => [P[3 * i], P[3 * i + 1], P[3 * i + 2]];
  for (let t = 0; t < I.length / 3; t++) {
    const list = out.get(instance[t]) ?? [];
    list.push([v(I[3 * t]), v(I[3 * t + 1]), v(I[3 * t + 2])]);
    out.set(instance[t], list);
  }
  return out;
}

/** World point seen at pixel (u, v) with camera-space depth z, from the metadata's intrinsics and pose. */
function unproject(meta: SceneMeta, frame: number, u: number, v: number, z: number): Vec3 {
  const f = meta.frames![frame];
  const k = f.intrinsics!;
  const m = f.camera_to_world!;
  const c = [((u - k.cx) / k.fx) * z, ((v - k.cy) / k.fy) * z, z];
  return [0, 1, 2].map((r) => m[r][0] * c[0] + m[r][1] * c[1] + m[r][2] * c[2] + m[r][3]) as Vec3;
}

/** Exact floor area of a rectilinear polygon: the grid cells between its distinct coordinates that lie inside. */
function rectilinearArea(poly: readonly [number, number][]): number {
  const xs = [...new Set(poly.map((p) => p[0]))].sort((a, b) => a - b);
  const ys = [...new Set(poly.map((p) => p[1]))].sort((a, b) => a - b);
  let area = 0;
  for (let i = 0; i + 1 < xs.length; i++)
    for (let j = 0; j + 1 < ys.length; j++)
      if (insidePolygon([(xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2], poly))
        area += (xs[i + 1] - xs[i]) * (ys[j + 1] - ys[j]);
  return area;
}

describe('synthetic world', () => {
  test('scene files validate and follow the layout rules (no overlaps, inside the floor, clear of the camera)', () => {
    for (let i = 0; i < SCENES; i++) {
      const { meta, scene } = readScene(i);
      assert.equal(meta.dataset, 'synthetic');
      assert.equal(meta.frames!.length, OPTS.frames);
      assert.ok(Math.abs(meta.room_size - rectilinearArea(meta.floor!.polygon)) < 1e-9);
      const objects = scene.objects;
      const total = Object.values(meta.object_counts).reduce((a, b) => a + b, 0);
      assert.equal(total, objects.length);
      assert.ok(objects.length >= 5, `${scene.name} holds only ${objects.length} objects`);
      const boxes = new Map(
        Object.values(meta.object_bbox)
          .flat()
          .map((b) => [b.instance_id!, toBox(b)]),
      );
      for (const a of objects) {
        const box = boxes.get(a.id)!;
        for (const p of corners(box)) {
          assert.ok(
            insidePolygon([p[0], p[1]], meta.floor!.polygon),
            `${scene.name}: ${a.category} leaves the floor`,
          );
          assert.ok(
            p[2] >= -1e-9 && p[2] <= scene.room.height,
            `${scene.name}: ${a.category} leaves the room`,
          );
        }
        for (const b of objects)
          if (a.id < b.id && a.support !== b.id && b.support !== a.id)
            assert.ok(
              boxDistance(box, boxes.get(b.id)!) >= MIN_GAP - 1e-9,
              `${a.category} overlaps ${b.category}`,
            );
        for (const f of meta.frames!) {
          const m = f.camera_to_world!;
          assert.ok(pointBoxDistance([m[0][3], m[1][3], m[2][3]], box) >= CAMERA_CLEARANCE - 1e-9);
        }
      }
    }
  });

  test('depth unprojected with the stored cameras lands on the rendered surfaces (within ½ pixel)', (t) => {
    let worst = 0;
    let checked = 0;
    for (const i of [0, 1]) {
      const { meta, scene, depth, instance, intrinsics, extrinsics } = readScene(i);
      const { width: W, height: H } = OPTS;
      const triangles = trianglesByInstance(scene);
      const boxes = new Map(
        Object.values(meta.object_bbox)
          .flat()
          .map((b) => [b.instance_id!, toBox(b)]),
      );
      for (let f = 0; f < OPTS.frames; f += 3) {
        const fr = meta.frames![f];
        const k = fr.intrinsics!;
        // The safetensors cameras are the JSON ones in float32 (extrinsics = inverse pose).
        const K = intrinsics.subarray(9 * f, 9 * f + 9);
        assert.deepEqual([...K], [k.fx, 0, k.cx, 0, k.fy, k.cy, 0, 0, 1].map(Math.fround));
        const E = extrinsics.subarray(12 * f, 12 * f + 12);
        const m = fr.camera_to_world!;
        for (let r = 0; r < 3; r++)
          for (let c = 0; c < 3; c++) assert.ok(Math.abs(E[4 * r + c] - m[c][r]) < 1e-6);
        for (let v = 0; v < H; v += 2)
          for (let u = 0; u < W; u += 2) {
            const p = f * W * H + v * W + u;
            const z = depth[p];
            assert.ok(z > 0, 'every pixel sees a surface inside the closed room');
            const x = unproject(meta, f, u, v, z);
            const id = instance[p];
            const near = Math.min(
              ...triangles.get(id)!.map(([a, b, c]) => pointTriangleDistance(x, a, b, c)),
            );
            const pixel = z / k.fx; // size of one pixel at that depth
            worst = Math.max(worst, near / pixel);
            if (id > 0)
              assert.ok(pointBoxDistance(x, boxes.get(id)!) <= 0.5 * pixel, `pixel outside box ${id}`);
            checked++;
          }
      }
    }
    t.diagnostic(`${checked} pixels, worst distance to the surface ${worst.toExponential(2)} pixel sizes`);
    assert.ok(checked > 5000);
    assert.ok(worst <= 0.5, `worst distance to the surface: ${worst} pixels`);
  });

  test('masks match the metadata: visible lists, 2D boxes, and projected 3D boxes', () => {
    for (const i of [0, 1, 2]) {
      const { meta, instance } = readScene(i);
      const { width: W, height: H } = OPTS;
      const boxes = new Map(
        Object.values(meta.object_bbox)
          .flat()
          .map((b) => [b.instance_id!, toBox(b)]),
      );
      meta.frames!.forEach((fr, f) => {
        const pixels = new Map<number, number[]>();
        for (let v = 0; v < H; v++)
          for (let u = 0; u < W; u++) {
            const id = instance[f * W * H + v * W + u];
            if (id === 0) continue;
            const b = pixels.get(id) ?? [0, u, v, u, v];
            pixels.set(id, [
              b[0] + 1,
              Math.min(b[1], u),
              Math.min(b[2], v),
              Math.max(b[3], u),
              Math.max(b[4], v),
            ]);
          }
        const expected = [...pixels]
          .filter(([, b]) => b[0] >= MIN_VISIBLE_FRACTION * W * H)
          .sort(([a], [b]) => a - b)
          .map(([id, b]) => ({ instance_id: id, bbox_2d: b.slice(1) }));
        assert.deepEqual(fr.instances, expected);
        // Every mask lies inside the projection of its 3D box (when the box is wholly in front of the camera).
        const k = fr.intrinsics!;
        const m = fr.camera_to_world!;
        for (const { instance_id, bbox_2d } of fr.instances!) {
          const cam = corners(boxes.get(instance_id)!).map((p) => {
            const d = [p[0] - m[0][3], p[1] - m[1][3], p[2] - m[2][3]];
            return [0, 1, 2].map((c) => m[0][c] * d[0] + m[1][c] * d[1] + m[2][c] * d[2]);
          });
          if (cam.some((c) => c[2] <= 0.05)) continue;
          const us = cam.map((c) => (k.fx * c[0]) / c[2] + k.cx);
          const vs = cam.map((c) => (k.fy * c[1]) / c[2] + k.cy);
          assert.ok(bbox_2d[0] >= Math.min(...us) - 1e-6 && bbox_2d[2] <= Math.max(...us) + 1e-6);
          assert.ok(bbox_2d[1] >= Math.min(...vs) - 1e-6 && bbox_2d[3] <= Math.max(...vs) + 1e-6);
        }
      });
    }
  });

  test('the video holds the rendered frames', async () => {
    const { scene } = readScene(0);
    const video = await openVideo(join(outA, 'synthetic', `${scene.name}.mp4`));
    assert.deepEqual(
      [video.frameCount, video.fps, video.width, video.height],
      [OPTS.frames, OPTS.fps, 96, 72],
    );
  });

  test('questions of all 8 VSI-Bench task types, and the answer oracle agrees with every one', () => {
    const types = new Set(run.questions.map((q) => q.question_type));
    assert.deepEqual(
      QUESTION_TYPES.filter((t) => !types.has(t)),
      [],
    );
    const answers = answerQuestions(run.scenes, run.questions);
    const disagreements = answers.filter((a) => a.agrees !== true);
    assert.deepEqual(disagreements.slice(0, 3), []);
    assert.deepEqual(JSON.parse(readFileSync(join(outA, 'qa.json'), 'utf8')), run.questions);
  });

  test('the same seed gives byte-identical files; another seed, another world', async () => {
    const [outB, outC] = [join(root, 'b'), join(root, 'c')];
    for (const out of [outB, outC]) await synthesize({ scenes: 2, out, seed: SEED, ...OPTS, log: quiet });
    const files = (dir: string) =>
      readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => statSync(join(dir, f)).isFile())
        .sort();
    assert.equal(files(outB).length, 2 * 3 + 2);
    assert.deepEqual(files(outC), files(outB));
    for (const f of files(outB)) {
      assert.ok(readFileSync(join(outC, f)).equals(readFileSync(join(outB, f))), `${f} differs`);
      // A scene depends on the seed and its index only, not on how many scenes the run makes.
      if (f.startsWith('synthetic'))
        assert.ok(readFileSync(join(outA, f)).equals(readFileSync(join(outB, f))));
    }
    const other = buildScene(SEED + 1, 0, OPTS);
    assert.notDeepEqual(other.room, buildScene(SEED, 0, OPTS).room);
  });

  test('CLI: previews, resumes complete scenes, rejects other options and bad sizes', async () => {
    const out = join(root, 'cli');
    const args = ['--scenes', '1', '--out', out, '--frames', '4', '--width', '32', '--height', '24'];
    await runSynth([...args, '--previews']);
    // The preview's left third is the rendered frame that shows the most objects (the first such frame).
    const meta = parseSceneMeta(
      JSON.parse(readFileSync(join(out, 'synthetic', 'synth_0_0000.json'), 'utf8')),
      'cli',
    );
    const shown = meta.frames!.map((f) => f.instances!.length);
    const busiest = shown.indexOf(Math.max(...shown));
    const scene = buildScene(0, 0, { width: 32, height: 24, frames: 4, fps: 4 });
    const frame = render(scene.mesh, scene.materials, scene.lighting, scene.cameras[busiest]).image;
    const preview = readImage(join(out, 'synthetic', 'synth_0_0000.png'));
    assert.deepEqual([preview.width, preview.height], [96, 24]);
    for (let y = 0; y < 24; y++)
      assert.deepEqual(
        preview.data.subarray(y * 96 * 3, y * 96 * 3 + 32 * 3),
        frame.data.subarray(y * 32 * 3, (y + 1) * 32 * 3),
      );
    const json = join(out, 'synthetic', 'synth_0_0000.json');
    const written = statSync(json).mtimeMs;
    await runSynth(args);
    assert.equal(statSync(json).mtimeMs, written);
    await assert.rejects(
      runSynth([...args, '--frames', '5']),
      (e: Error) => e instanceof InputError && /other options/.test(e.message),
    );
    await assert.rejects(runSynth([...args, '--width', '33']), InputError);
    await assert.rejects(runSynth(['--scenes', '0', '--out', out]), InputError);
  });
});
