import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type RgbImage, readImage } from '../../src/media/image.ts';
import { compositeOverWhite } from '../../src/media/transform.ts';
import {
  spatialMllmSamplingPreprocess,
  toUnitTensor,
  vggtPreprocess,
  vggtResizeSize,
} from '../../src/models/vggt/preprocess.ts';
import type { HostTensor } from '../../src/tensor.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';

interface Call {
  name: string;
  function: string;
  inputs_in_order: string[];
  output_shape: number[];
  expected_pngs: string[];
  checksum_sum_f64: number;
}

/** A decoded fixture input, [H, W, 3] or [H, W, 4] uint8; RGBA is composited on white as the loaders do. */
function inputImage(t: HostTensor): RgbImage {
  const [height, width, channels] = t.shape;
  const data = t.data as Uint8Array;
  return channels === 4 ? compositeOverWhite(width, height, data) : { width, height, data };
}

for (const fx of findFixtures('vggt_preprocess')) {
  describe(fx.name, () => {
    const manifest = JSON.parse(readFileSync(join(fx.dir, 'manifest.json'), 'utf8'));
    const io = openSafetensors(join(fx.dir, 'io.safetensors'));
    const input = (file: string) =>
      inputImage(io.read(`input.${file.replace(/^inputs\//, '').replace(/\.png$/, '')}`));

    for (const call of manifest.calls as Call[]) {
      test(`${call.name}: ${call.function} (exact)`, () => {
        const images = call.inputs_in_order.map(input);
        const mode = call.function.includes("mode='pad'") ? 'pad' : 'crop';
        const out = call.function.includes('Spatial-MLLM')
          ? spatialMllmSamplingPreprocess(images)
          : vggtPreprocess(images, mode);
        assert.deepEqual(out.shape, call.output_shape);
        assert.deepEqual(
          out.shape,
          Array.from(io.read(`expected_shape.${call.name}`).data as BigInt64Array, Number),
        );
        // Value rule of the fixture: expected = float32(png_u8) / 255.
        const expected = toUnitTensor(call.expected_pngs.map((p) => readImage(join(fx.dir, p))));
        let maxAbs = 0;
        for (let i = 0; i < out.data.length; i++)
          maxAbs = Math.max(maxAbs, Math.abs(out.data[i] - expected.data[i]));
        assert.equal(maxAbs, 0);
        // The stored float32 probes out[:, :, [0, H//2, H-1], :8] and the float64 checksum.
        const [n, , h, w] = out.shape;
        const probe = io.read(`expected_probe_f32.${call.name}`).data as Float32Array;
        let k = 0;
        for (let i = 0; i < n * 3; i++)
          for (const y of [0, h >> 1, h - 1])
            for (let x = 0; x < 8; x++) assert.equal(out.data[(i * h + y) * w + x], probe[k++]);
        assert.equal(
          out.data.reduce((s, v) => s + v, 0),
          call.checksum_sum_f64,
        );
      });
    }
  });
}

describe('vggtResizeSize', () => {
  test('crop: width 518, height rounded half-to-even to a multiple of 14', () => {
    assert.deepEqual(vggtResizeSize(640, 480, 'crop'), [518, 392]); // 480·518/640/14 = 27.75 → 28
    assert.deepEqual(vggtResizeSize(296, 84, 'crop'), [518, 140]); // 84·518/296/14 = 10.5 → 10
  });

  test('pad: the longer side becomes 518', () => {
    assert.deepEqual(vggtResizeSize(300, 517, 'pad'), [294, 518]); // 300·518/517/14 = 21.47 → 21
    assert.deepEqual(vggtResizeSize(300, 517, 'crop'), [518, 896]); // 517·518/300/14 = 63.77 → 64
  });

  test('an image that would lose a side is refused', () => {
    assert.throws(() => vggtResizeSize(5000, 5, 'crop'), /too elongated/);
  });
});

describe('compositeOverWhite', () => {
  test('opaque keeps the colour, transparent is white, half alpha mixes toward white', () => {
    const rgba = Uint8Array.from([10, 20, 30, 255, 10, 20, 30, 0, 0, 100, 200, 128]);
    const { data } = compositeOverWhite(3, 1, rgba);
    // α = 128: v·128/255 + 255·127/255 rounded: 0 → 127, 100 → 177.2 → 177, 200 → 227.4 → 227.
    assert.deepEqual(Array.from(data), [10, 20, 30, 255, 255, 255, 127, 177, 227]);
  });
});
