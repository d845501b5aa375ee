// Pillow-compatible resampling and pixel transforms (src/media). Bit-exact parity with Pillow itself is checked by
// the vggt_preprocess fixture (downscale, upscale, both at once, RGBA); these tests pin hand-derivable cases and
// compare against a float64 reference of the same separable filter.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RgbImage } from '../../src/media/image.ts';
import { type ResampleFilter, resize } from '../../src/media/resize.ts';
import { cropRows, padCentered, rotateClockwise } from '../../src/media/transform.ts';
import { roundHalfEven } from '../../src/python_compat.ts';
import { rng } from '../support/random.ts';

const gray = (width: number, height: number, values: number[]): RgbImage => ({
  width,
  height,
  data: Uint8Array.from(values.flatMap((v) => [v, v, v])),
});
const channel0 = (img: RgbImage) => Array.from({ length: img.width * img.height }, (_, i) => img.data[i * 3]);

/** Float64 separable resampling with the same kernels, support scaling and uint8 intermediate, no fixed point. */
function referenceResize(img: RgbImage, width: number, height: number, filter: ResampleFilter): RgbImage {
  const support = filter === 'bilinear' ? 1 : 2;
  const kernel = (x: number) => {
    x = Math.abs(x);
    if (filter === 'bilinear') return Math.max(0, 1 - x);
    return x < 1 ? 1.5 * x ** 3 - 2.5 * x ** 2 + 1 : x < 2 ? -0.5 * (x ** 3 - 5 * x ** 2 + 8 * x - 4) : 0;
  };
  const line = (src: number[], outSize: number): number[] => {
    const scale = src.length / outSize;
    const fs = Math.max(scale, 1);
    return Array.from({ length: outSize }, (_, o) => {
      const center = (o + 0.5) * scale;
      const lo = Math.max(0, Math.trunc(center - support * fs + 0.5));
      const hi = Math.min(src.length, Math.trunc(center + support * fs + 0.5));
      let sum = 0;
      let total = 0;
      for (let i = lo; i < hi; i++) {
        const w = kernel((i - center + 0.5) / fs);
        sum += w * src[i];
        total += w;
      }
      return Math.min(255, Math.max(0, Math.round(sum / total)));
    });
  };
  const out = new Uint8Array(width * height * 3);
  for (let c = 0; c < 3; c++) {
    const at = (x: number, y: number) => img.data[(y * img.width + x) * 3 + c];
    const rows = Array.from({ length: img.height }, (_, y) =>
      line(
        Array.from({ length: img.width }, (_, x) => at(x, y)),
        width,
      ),
    );
    for (let x = 0; x < width; x++)
      line(
        rows.map((row) => row[x]),
        height,
      ).forEach((v, y) => {
        out[(y * width + x) * 3 + c] = v;
      });
  }
  return { width, height, data: out };
}

describe('resize (Pillow)', () => {
  test('bilinear 2 → 4: half-pixel centres, edge pixels keep their value', () => {
    assert.deepEqual(channel0(resize(gray(2, 1, [0, 100]), 4, 1, 'bilinear')), [0, 25, 75, 100]);
  });

  test('bilinear 4 → 2 widens the kernel to ±2 input pixels', () => {
    // Output 0 (centre 1.0) weighs inputs 0, 1, 2 by 0.75, 0.75, 0.25 → 87.5 / 1.75 = 50;
    // output 1 (centre 3.0) weighs inputs 1, 2, 3 by 0.25, 0.75, 0.75 → 280 / 1.75 = 160.
    assert.deepEqual(channel0(resize(gray(4, 1, [0, 70, 140, 210]), 2, 1, 'bilinear')), [50, 160]);
  });

  test('a constant image stays constant under any scale', () => {
    for (const [w, h] of [
      [7, 3],
      [40, 50],
      [13, 13],
    ]) {
      const out = resize(gray(13, 13, Array(169).fill(200)), w, h);
      assert.ok(out.data.every((v) => v === 200));
    }
  });

  test('bicubic overshoot at a step is clamped to 0..255', () => {
    const out = channel0(resize(gray(4, 1, [0, 0, 255, 255]), 16, 1));
    assert.equal(Math.min(...out), 0);
    assert.equal(Math.max(...out), 255);
    assert.deepEqual(out.slice(0, 4), [0, 0, 0, 0]); // the undershoot left of the step clamps to 0
  });

  test('same size is a copy', () => {
    const img = gray(3, 2, [1, 2, 3, 4, 5, 6]);
    const out = resize(img, 3, 2);
    assert.deepEqual(out, img);
    assert.notEqual(out.data, img.data);
  });

  test('within 1 of a float64 reference on random images (down, up, mixed)', () => {
    const r = rng(7);
    const img: RgbImage = {
      width: 37,
      height: 23,
      data: Uint8Array.from({ length: 37 * 23 * 3 }, () => r() * 256),
    };
    for (const filter of ['bicubic', 'bilinear'] as const)
      for (const [w, h] of [
        [11, 9],
        [80, 61],
        [20, 50],
        [37, 10],
      ]) {
        const got = resize(img, w, h, filter).data;
        const ref = referenceResize(img, w, h, filter).data;
        let worst = 0;
        for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
        assert.ok(worst <= 1, `${filter} ${w}×${h}: max diff ${worst}`);
      }
  });
});

describe('roundHalfEven', () => {
  test('ties go to the even neighbour', () => {
    assert.deepEqual(
      [0.5, 1.5, 2.5, 10.5, -0.5, -1.5, 2.4999, 2.5001].map(roundHalfEven),
      [0, 2, 2, 10, 0, -2, 2, 3],
    );
  });
});

describe('transforms', () => {
  const img = gray(3, 2, [1, 2, 3, 4, 5, 6]); // rows [1 2 3] / [4 5 6]

  test('rotateClockwise: the left column becomes the top row, read bottom-up', () => {
    const out = rotateClockwise(img);
    assert.deepEqual([out.width, out.height], [2, 3]);
    assert.deepEqual(channel0(out), [4, 1, 5, 2, 6, 3]);
  });

  test('cropRows and padCentered (odd margin: extra pixel bottom/right)', () => {
    assert.deepEqual(channel0(cropRows(img, 1, 1)), [4, 5, 6]);
    const padded = padCentered(gray(1, 1, [9]), 4, 2, 255);
    assert.deepEqual(channel0(padded), [255, 9, 255, 255, 255, 255, 255, 255]);
  });
});
