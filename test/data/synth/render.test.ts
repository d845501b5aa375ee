// The rasterizer against hand-derived views: a camera at the origin looking along +x (OpenCV: x_cam = −y_world,
// y_cam = −z_world, z_cam = x_world), fx = fy = 100, principal point (32, 24), 64×48 pixels.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Camera, lookCamera, worldToCamera } from '../../../src/data/synth/camera.ts';
import type { Material } from '../../../src/data/synth/materials.ts';
import { MeshBuilder } from '../../../src/data/synth/mesh.ts';
import { type Lighting, render } from '../../../src/data/synth/render.ts';

const K = { width: 64, height: 48, fx: 100, fy: 100, cx: 32, cy: 24 };
const plain: Material = {
  pattern: 'plain',
  base: [0.5, 0.5, 0.5],
  accent: [0.5, 0.5, 0.5],
  scale: 1,
  seed: 1,
  origin: [0, 0, 0],
  yaw: 0,
};
const light: Lighting = { ambient: 1, sun: [0, 0, 1], sunPower: 0, lamp: [0, 0, 0], lampPower: 0 };

function camera(eyeZ = 0): Camera {
  return lookCamera([0, 0, eyeZ], 0, 0, 0, K);
}

describe('synthetic renderer', () => {
  test('camera axes: OpenCV (x right, y down, z forward), world-to-camera inverts camera-to-world', () => {
    const c = camera(1.5);
    const m = c.cameraToWorld;
    assert.deepEqual(
      [0, 1, 2].map((i) => [m[0][i], m[1][i], m[2][i]].map((v) => v + 0)),
      [
        [0, -1, 0],
        [0, 0, -1],
        [1, 0, 0],
      ],
    );
    const e = worldToCamera(c);
    // The world point (3, 0.5, 1.5 − 0.25) is 3 m ahead, 0.5 m to the left, 0.25 m below the eye.
    const p = [3, 0.5, 1.25];
    const xc = e.map((r) => r[0] * p[0] + r[1] * p[1] + r[2] * p[2] + r[3]);
    assert.deepEqual(
      xc.map((v) => Math.round(v * 1e12) / 1e12),
      [-0.5, 0.25, 3],
    );
  });

  test('a box face in front of a wall: exact mask rectangle, exact depths, occlusion, no cracks', () => {
    const b = new MeshBuilder();
    const pose = { x: 0, y: 0, z: 0, yaw: 0 };
    // Wall at x = 3 facing the camera (instance 0); a box whose near face is at x = 2 (instance 1).
    b.quad([3, -10, -10], [3, -10, 10], [3, 10, 10], [3, 10, -10], 0, 0);
    b.box(pose, [2, -0.503, -0.2513], [2.5, 0.503, 0.2513], 1, 0);
    const r = render(b.build(), [plain], light, camera());
    // Near face: u = 32 ± 100·0.503/2 = 6.85 … 57.15 → columns 7..57; v = 24 ± 100·0.2513/2 → rows 12..36.
    for (let v = 0; v < 48; v++)
      for (let u = 0; u < 64; u++) {
        const p = v * 64 + u;
        const inside = u >= 7 && u <= 57 && v >= 12 && v <= 36;
        assert.equal(r.instance[p], inside ? 1 : 0, `instance at (${u}, ${v})`);
        assert.ok(Math.abs(r.depth[p] - (inside ? 2 : 3)) < 1e-6, `depth at (${u}, ${v}) = ${r.depth[p]}`);
      }
  });

  test('a wall cut into many jittered triangles leaves no crack', () => {
    // A 10×10 grid over y, z ∈ [−1, 1] at x = 3 (it covers the whole view), interior vertices jittered.
    const b = new MeshBuilder();
    const n = 10;
    const jitter = (i: number, j: number) =>
      i > 0 && i < n && j > 0 && j < n ? 0.07 * Math.sin(i * 12.9 + j * 78.2) : 0;
    const at = (i: number, j: number): [number, number, number] => [
      3,
      -1 + (2 * i) / n + jitter(i, j),
      -1 + (2 * j) / n + jitter(j, i),
    ];
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) b.quad(at(i, j), at(i, j + 1), at(i + 1, j + 1), at(i + 1, j), 0, 0);
    const r = render(b.build(), [plain], light, camera());
    assert.ok(
      r.depth.every((d) => Math.abs(d - 3) < 1e-9),
      'every pixel sees the wall at depth 3',
    );
  });

  test('a floor crossing the near plane: every floor pixel has the plane’s exact depth', () => {
    // Eye 1.5 m above a floor that extends behind the camera (its triangles are clipped at the near plane).
    const b = new MeshBuilder();
    b.quad([-20, -20, 0], [20, -20, 0], [20, 20, 0], [-20, 20, 0], 0, 0);
    const r = render(b.build(), [plain], light, camera(1.5));
    for (let v = 0; v < 48; v++)
      for (let u = 0; u < 64; u++) {
        const d = r.depth[v * 64 + u];
        if (v <= 24) assert.equal(d, 0, `row ${v} looks at or above the horizon`);
        else {
          // The ray through row v drops (v − cy)/fy per metre forward: it meets the floor at z = 1.5·fy/(v − cy).
          const z = (1.5 * 100) / (v - 24);
          if (z <= 20 - 1e-6) assert.ok(Math.abs(d - z) < 1e-5 * z, `row ${v}: depth ${d}, expected ${z}`);
        }
      }
  });

  test('shading: Lambert with ambient and sun terms scale the albedo', () => {
    const b = new MeshBuilder();
    b.quad([3, -10, -10], [3, -10, 10], [3, 10, 10], [3, 10, -10], 0, 0);
    const wall = b.build();
    const flat = render(wall, [plain], light, camera()).image.data;
    // A sun shining straight at the wall (normal −x) adds its full power, one from behind nothing.
    const lit = render(wall, [plain], { ...light, ambient: 0.5, sun: [-1, 0, 0], sunPower: 0.5 }, camera())
      .image.data;
    const back = render(wall, [plain], { ...light, ambient: 0.5, sun: [1, 0, 0], sunPower: 0.5 }, camera())
      .image.data;
    assert.deepEqual(lit, flat);
    assert.ok(back.every((v, i) => Math.abs(2 * v - flat[i]) <= 1));
    assert.ok(
      flat.some((v) => v !== flat[0]),
      'the solid texture varies across the wall',
    );
  });
});
