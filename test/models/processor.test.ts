import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { RgbImage } from '../../src/media/image.ts';
import {
  DEFAULT_PROCESSOR_CONFIG,
  patchify,
  processImages,
  processVideos,
  readProcessorConfig,
  smartNframes,
  smartResize,
  videoFrameSize,
} from '../../src/models/qwen2_5_vl/image_processor.ts';
import type { HostTensor } from '../../src/tensor.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';

/** [T, H, W, 3] or [H, W, 3] uint8 → one RgbImage per frame. */
function frames(t: HostTensor): RgbImage[] {
  const [height, width] = t.shape.slice(-3, -1);
  const size = height * width * 3;
  const n = t.data.length / size;
  return Array.from({ length: n }, (_, i) => ({
    width,
    height,
    data: (t.data as Uint8Array).slice(i * size, (i + 1) * size),
  }));
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

const grid = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);

for (const fx of [...findFixtures('qwen2_5_vl'), ...findFixtures('spatial_mllm')]) {
  describe(`${fx.name} processor`, () => {
    const io = openSafetensors(join(fx.dir, 'io.safetensors'));
    const names = new Set(io.names());
    const cfg = readProcessorConfig(fx.dir);
    if (!names.has('video.frames_uint8') && !names.has('image.image_uint8'))
      test('has a video or image case', () =>
        assert.fail(`${fx.dir}/io.safetensors stores no processor input`));

    if (names.has('video.frames_uint8'))
      test('video: pixel_values_videos, video_grid_thw, second_per_grid_ts (exact)', () => {
        const fps = (io.read('video.fps').data as Float32Array)[0];
        const out = processVideos([frames(io.read('video.frames_uint8'))], cfg, fps);
        const expected = io.read('video.pixel_values_videos');
        assert.deepEqual(out.pixelValuesVideos.shape, expected.shape);
        assert.equal(maxAbsDiff(out.pixelValuesVideos.data, expected.data as Float32Array), 0);
        assert.deepEqual(out.videoGridThw.flat(), grid(io.read('video.video_grid_thw')));
        assert.deepEqual(
          out.secondPerGridTs,
          Array.from(io.read('video.second_per_grid_ts').data as Float32Array),
        );
      });

    if (names.has('image.image_uint8'))
      test('image: pixel_values, image_grid_thw (exact)', () => {
        const out = processImages(frames(io.read('image.image_uint8')), cfg);
        const expected = io.read('image.pixel_values');
        assert.deepEqual(out.pixelValues.shape, expected.shape);
        assert.equal(maxAbsDiff(out.pixelValues.data, expected.data as Float32Array), 0);
        assert.deepEqual(out.imageGridThw.flat(), grid(io.read('image.image_grid_thw')));
      });
  });
}

describe('smartResize', () => {
  test('rounds each side to a multiple of 28, Python-style ties to even', () => {
    assert.deepEqual(smartResize(480, 640), [476, 644]); // 17.14 → 17, 22.86 → 23
    assert.deepEqual(smartResize(70, 98), [56, 112]); // 2.5 → 2, 3.5 → 4
  });

  test('scales down into max_pixels and up into min_pixels, keeping multiples of 28', () => {
    // 1000×1000 into 200,000 px: beta = sqrt(1e6 / 2e5); 1000 / beta = 447.2 → floor to 28·15 = 420.
    assert.deepEqual(smartResize(1000, 1000, { maxPixels: 200_000 }), [420, 420]);
    // 30×30 up to 10,000 px: beta = sqrt(1e4 / 900); 30 · beta = 100 → ceil to 28·4 = 112.
    assert.deepEqual(smartResize(30, 30, { minPixels: 10_000 }), [112, 112]);
  });

  test('aspect ratios above 200 are refused', () => {
    assert.throws(() => smartResize(28, 28 * 201), /aspect ratio above 200/);
  });

  test("fetch_video's budget: 16 frames of 640×480 → 476×644 (DESIGN §3 example)", () => {
    assert.deepEqual(videoFrameSize(480, 640, 16), [476, 644]);
    // 1920×1080, 16 frames: per-frame cap 768·28² = 602,112 px, beta = 1.8558 → 581.97, 1034.6 → floor to 28s.
    assert.deepEqual(videoFrameSize(1080, 1920, 16), [560, 1008]);
  });
});

describe('smartNframes', () => {
  test('a requested count is rounded to an even number, Python-style', () => {
    assert.deepEqual(
      [16, 15, 17].map((n) => smartNframes(300, 30, { nframes: n })),
      [16, 16, 16],
    ); // 8.5 → 8
  });

  test('by fps: duration · fps, at least 4, at most the video, floored to even', () => {
    assert.equal(smartNframes(300, 30), 20); // 10 s at 2 fps
    assert.equal(smartNframes(30, 30), 4); // 1 s → 2 frames, raised to min_frames 4
    assert.equal(smartNframes(3, 30), 2); // capped by the 3 frames there are, floored to 2
    assert.equal(smartNframes(3001, 30, { fps: 0.5, maxFrames: 31 }), 30);
  });

  test('more frames than the video has is a user error', () => {
    assert.throws(() => smartNframes(10, 30, { nframes: 20 }), /cannot sample 20 frames from a video of 10/);
  });
});

describe('patchify', () => {
  // A 56×56 image (the smallest min_pixels allows) whose red value encodes the column, green the row and blue the frame, so each output element
  // names the pixel it came from.
  const coded = (frame: number): RgbImage => {
    const data = new Uint8Array(56 * 56 * 3);
    for (let y = 0; y < 56; y++) for (let x = 0; x < 56; x++) data.set([x, y, frame], (y * 56 + x) * 3);
    return { width: 56, height: 56, data };
  };
  const identity = {
    ...DEFAULT_PROCESSOR_CONFIG,
    imageMean: [0, 0, 0],
    imageStd: [1, 1, 1],
    rescaleFactor: 1,
  } as const;

  test('row = (t, block row, block column, row in block, column in block); column = (channel, frame, y, x)', () => {
    const { pixelValues, gridThw } = patchify([coded(0), coded(1)], identity);
    assert.deepEqual(gridThw, [1, 4, 4]);
    assert.deepEqual(pixelValues.shape, [16, 3 * 2 * 14 * 14]);
    const at = (row: number, c: number, t: number, y: number, x: number) =>
      pixelValues.data[row * 1176 + ((c * 2 + t) * 14 + y) * 14 + x];
    // Row 9 = block (1, 0), in-block (0, 1): image rows 28..41, columns 14..27.
    assert.equal(at(9, 0, 0, 3, 5), 14 + 5); // red = column
    assert.equal(at(9, 1, 0, 3, 5), 28 + 3); // green = row
    assert.equal(at(9, 2, 1, 0, 0), 1); // blue = frame
    assert.equal(at(15, 0, 1, 13, 13), 55);
  });

  test('an odd frame count repeats the last frame; one image fills both frames of the pair', () => {
    const three = patchify([coded(0), coded(1), coded(2)], identity);
    assert.deepEqual(three.gridThw, [2, 4, 4]);
    const blue = (row: number, t: number) => three.pixelValues.data[row * 1176 + (2 * 2 + t) * 196];
    assert.deepEqual([blue(16, 0), blue(16, 1)], [2, 2]);
    const one = patchify([coded(7)], identity);
    assert.deepEqual(one.gridThw, [1, 4, 4]);
    assert.equal(one.pixelValues.data[(2 * 2 + 1) * 196], 7);
  });

  test('normalisation: (v/255 − mean) / std per channel in float32', () => {
    const white: RgbImage = { width: 56, height: 56, data: new Uint8Array(56 * 56 * 3).fill(255) };
    const { pixelValues } = patchify([white]);
    const expected = [0, 1, 2].map((c) =>
      Math.fround(
        Math.fround(1 - Math.fround(DEFAULT_PROCESSOR_CONFIG.imageMean[c])) /
          Math.fround(DEFAULT_PROCESSOR_CONFIG.imageStd[c]),
      ),
    );
    assert.deepEqual(
      [0, 1, 2].map((c) => pixelValues.data[c * 392]),
      expected,
    );
  });

  test('frames are resized to the smart size of the first frame', () => {
    const big: RgbImage = { width: 100, height: 60, data: new Uint8Array(100 * 60 * 3).fill(9) };
    assert.deepEqual(patchify([big, big]).gridThw, [1, 4, 8]); // 60 → 56, 100 → 112
  });
});

describe('processVideos', () => {
  test('second_per_grid_ts = temporal_patch_size / fps in float32, one per video', () => {
    const frame: RgbImage = { width: 56, height: 56, data: new Uint8Array(56 * 56 * 3) };
    const out = processVideos([[frame, frame], [frame]], DEFAULT_PROCESSOR_CONFIG, [2, 3]);
    assert.deepEqual(out.secondPerGridTs, [1, Math.fround(2 / 3)]);
    assert.deepEqual(out.videoGridThw, [
      [1, 4, 4],
      [1, 4, 4],
    ]);
    assert.deepEqual(out.pixelValuesVideos.shape, [32, 1176]);
  });
});
