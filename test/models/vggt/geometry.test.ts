import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  cameraRecords,
  camerasToPoseEncoding,
  confidenceMask,
  encodePly,
  maskedPointCloud,
  matToQuat,
  percentile,
  poseEncodingToCameras,
  quatToMat,
  unprojectDepthMaps,
} from '../../../src/models/vggt/geometry.ts';
import { toFloat32 } from '../../../src/tensor.ts';
import { openSafetensors } from '../../../src/weights/safetensors.ts';
import { findFixtures } from '../../support/fixtures.ts';

/** Max abs error, max relative error (|d| / max(|expected|, 1e-6)) and whether all |d| ≤ atol + rtol·|expected|. */
function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number) {
  assert.equal(actual.length, expected.length, 'length');
  let [abs, rel, ok] = [0, 0, true];
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    abs = Math.max(abs, d);
    rel = Math.max(rel, d / Math.max(Math.abs(expected[i]), 1e-6));
    if (!(d <= atol + rtol * Math.abs(expected[i]))) ok = false;
  }
  return { abs, rel, ok };
}

function report(name: string, r: { abs: number; rel: number; ok: boolean }) {
  console.log(`  ${name}: max abs ${r.abs.toExponential(2)}, max rel ${r.rel.toExponential(2)}`);
  assert.ok(r.ok, `${name} outside tolerance (max abs ${r.abs}, max rel ${r.rel})`);
}

for (const fx of findFixtures('vggt')) {
  describe(fx.name, () => {
    const io = openSafetensors(join(fx.dir, 'io.safetensors'));
    const cases = io
      .names()
      .filter((n) => n.endsWith('.pose_enc'))
      .map((n) => n.slice(0, -'.pose_enc'.length));

    for (const c of cases) {
      test(`${c}: pose encoding → extrinsics / intrinsics`, () => {
        const [height, width] = io.info(`${c}.images`).shape.slice(-2);
        const cams = poseEncodingToCameras(toFloat32(io.read(`${c}.pose_enc`)), height, width);
        report(`${c}.extrinsic`, compare(cams.extrinsics, toFloat32(io.read(`${c}.extrinsic`)), 1e-6, 1e-5));
        report(`${c}.intrinsic`, compare(cams.intrinsics, toFloat32(io.read(`${c}.intrinsic`)), 1e-6, 1e-5));
      });

      test(`${c}: cameras → pose encoding gives the normalised, real-part-positive quaternion back`, () => {
        const [height, width] = io.info(`${c}.images`).shape.slice(-2);
        const poseEnc = toFloat32(io.read(`${c}.pose_enc`));
        const back = camerasToPoseEncoding(poseEncodingToCameras(poseEnc, height, width), height, width);
        const expected = Float64Array.from(poseEnc);
        for (let s = 0; s < poseEnc.length / 9; s++) {
          const q = expected.subarray(s * 9 + 3, s * 9 + 7);
          const norm = Math.hypot(...q) * Math.sign(q[3]);
          for (let i = 0; i < 4; i++) q[i] /= norm;
        }
        report(`${c}.pose_enc roundtrip`, compare(back, expected, 1e-5, 1e-4));
      });
    }

    for (const c of cases.filter((n) => io.names().includes(`${n}.point_map_from_depth`))) {
      test(`${c}: depth → world points (unproject_depth_map_to_point_map)`, () => {
        const [, frames, height, width] = io.info(`${c}.depth`).shape;
        const cams = {
          extrinsics: toFloat32(io.read(`${c}.extrinsic`)),
          intrinsics: toFloat32(io.read(`${c}.intrinsic`)),
        };
        const points = unprojectDepthMaps(toFloat32(io.read(`${c}.depth`)), cams, { frames, height, width });
        const expected = io.read(`${c}.point_map_from_depth`).data as Float64Array;
        report(`${c}.point_map_from_depth`, compare(points, expected, 1e-6, 1e-5));
      });
    }
  });
}

describe('rotations', () => {
  test('quaternion → matrix: 90° about z, and an unnormalised quaternion gives the same rotation', () => {
    const s = Math.SQRT1_2;
    const expected = [0, -1, 0, 1, 0, 0, 0, 0, 1];
    for (const scale of [1, 3.5]) {
      const m = quatToMat([0, 0, s * scale, s * scale]);
      for (let i = 0; i < 9; i++) assert.ok(Math.abs(m[i] - expected[i]) < 1e-6, `${scale}: ${m}`);
    }
  });

  test('matrix → quaternion picks the best-conditioned candidate and makes the real part non-negative', () => {
    // 180° about x: only the i-candidate is well defined (q_abs = [0, 2, 0, 0]).
    assert.deepEqual(matToQuat([1, 0, 0, 0, -1, 0, 0, 0, -1]), [1, 0, 0, 0]);
    // 200° about x: the i-candidate wins and has a negative real part, so the sign flips.
    const a = (200 * Math.PI) / 180;
    const R = [1, 0, 0, 0, Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a)].map(Math.fround);
    const q = matToQuat(R);
    const expected = [-Math.sin(a / 2), 0, 0, -Math.cos(a / 2)];
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(q[i] - expected[i]) < 1e-6, `${q}`);
    assert.ok(q[3] >= 0);
  });
});

describe('confidence filtering', () => {
  test('percentile matches numpy linear interpolation', () => {
    assert.equal(percentile(Float32Array.of(4, 1, 3, 2), 50), 2.5);
    assert.equal(percentile(Float32Array.of(5, 1, 3), 50), 3);
    assert.equal(percentile(Float32Array.of(10, 0, 20, 30, 40), 10), 4);
    assert.equal(percentile(Float32Array.of(10, 0, 20, 30, 40), 100), 40);
    assert.ok(Number.isNaN(percentile(Float32Array.of(1, Number.NaN), 50)));
  });

  test('mask keeps conf ≥ percentile and > the floor (compared in float32)', () => {
    const conf = Float32Array.of(0.05, 0.1, 0.2, 0.3, 0.4, 0.5);
    const { mask, threshold } = confidenceMask(conf, 20, 0.1);
    assert.ok(Math.abs(threshold - 0.1) < 1e-7);
    assert.deepEqual([...mask], [0, 0, 1, 1, 1, 1]);
  });
});

describe('exports', () => {
  test('coloured point cloud of the masked pixels, colours truncated from [0,1] images', () => {
    const dims = { frames: 2, height: 1, width: 2 };
    const points = Float32Array.from({ length: 12 }, (_, i) => i);
    // images [S,3,H,W]: frame 0 red channel 1.0 / 0.5, frame 1 blue 0.2 / 1.5 (clamped)
    const images = Float32Array.of(1, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.2, 1.5);
    const cloud = maskedPointCloud(points, images, Uint8Array.of(1, 0, 0, 1), dims);
    assert.deepEqual([...cloud.positions], [0, 1, 2, 9, 10, 11]);
    assert.deepEqual([...cloud.colors], [255, 0, 0, 0, 0, 255]);
  });

  test('PLY is binary little-endian with float xyz and uchar rgb', () => {
    const ply = encodePly({
      positions: Float32Array.of(1.5, -2, 3, 0.25, 0, -1),
      colors: Uint8Array.of(1, 2, 3, 250, 251, 252),
    });
    const text = new TextDecoder('latin1').decode(ply);
    const end = text.indexOf('end_header\n') + 'end_header\n'.length;
    assert.match(
      text.slice(0, end),
      /^ply\nformat binary_little_endian 1\.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n$/,
    );
    assert.equal(ply.length, end + 2 * 15);
    const view = new DataView(ply.buffer, ply.byteOffset + end);
    assert.deepEqual(
      [view.getFloat32(0, true), view.getFloat32(4, true), view.getFloat32(8, true)],
      [1.5, -2, 3],
    );
    assert.deepEqual([...ply.subarray(end + 12, end + 15)], [1, 2, 3]);
    assert.deepEqual(
      [view.getFloat32(15, true), view.getFloat32(23, true), view.getUint8(29)],
      [0.25, -1, 252],
    );
  });

  test('camera records carry row-major matrices and the image size', () => {
    const cams = poseEncodingToCameras(
      Float32Array.of(1, 2, 3, 0, 0, 0, 1, Math.PI / 2, Math.PI / 2),
      20,
      40,
    );
    const [rec] = cameraRecords(cams, 20, 40);
    assert.deepEqual(rec.extrinsic, [
      [1, 0, 0, 1],
      [0, 1, 0, 2],
      [0, 0, 1, 3],
    ]);
    // tan(45°) = 1: fx = W/2, fy = H/2 (up to float32 tan)
    assert.ok(Math.abs(rec.intrinsic[0][0] - 20) < 1e-4 && Math.abs(rec.intrinsic[1][1] - 10) < 1e-4);
    assert.deepEqual(
      [rec.intrinsic[0][2], rec.intrinsic[1][2], rec.intrinsic[2][2], rec.width, rec.height],
      [20, 10, 1, 40, 20],
    );
    assert.doesNotThrow(() => JSON.stringify(rec));
  });
});
