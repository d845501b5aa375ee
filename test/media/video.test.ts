import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { InputError } from '../../src/errors.ts';
import { encodeJpeg, type RgbImage, readImage, writeImage } from '../../src/media/image.ts';
import {
  compareFrameNames,
  openVideo,
  type VideoFrame,
  type VideoSource,
  writeVideo,
} from '../../src/media/video.ts';
import { uniformIndices } from '../../src/pipeline/frame_sampling.ts';

const dir = mkdtempSync(join(tmpdir(), 'video-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const W = 64;
const H = 48;

/** Smooth gradients that drift with t, plus an 8×8 white square at x = 4t that identifies the frame. */
function sourceFrame(t: number): RgbImage {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 3;
      const square = y >= 20 && y < 28 && x >= 4 * t && x < 4 * t + 8;
      data[p] = square ? 255 : 20 + 3 * x + 4 * t;
      data[p + 1] = square ? 255 : 20 + 4 * y + 3 * t;
      data[p + 2] = square ? 255 : 200 - 2 * x - y + 2 * t;
    }
  return { width: W, height: H, data };
}
const SOURCE = Array.from({ length: 12 }, (_, t) => sourceFrame(t));
const FPS = 6;

function diff(a: RgbImage, b: RgbImage): { max: number; mean: number } {
  assert.equal(a.width, b.width);
  assert.equal(a.height, b.height);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (d > max) max = d;
    sum += d;
  }
  return { max, mean: sum / a.data.length };
}

async function collect(video: VideoSource, indices: number[]): Promise<VideoFrame[]> {
  const out: VideoFrame[] = [];
  for await (const f of video.readFrames(indices)) out.push(f);
  return out;
}

function ffmpeg(...args: string[]): void {
  const r = spawnSync(ffmpegInstaller.path, ['-v', 'error', '-y', ...args]);
  assert.equal(r.status, 0, r.stderr.toString());
}

describe('uniformIndices (qwen_vl_utils: torch.linspace(0, n−1, k).round())', () => {
  test('evenly spaced, ends included', () => {
    assert.deepEqual(uniformIndices(10, 4), [0, 3, 6, 9]);
    assert.deepEqual(uniformIndices(5, 3), [0, 2, 4]);
    // 99·i/15 = 6.6·i rounded
    assert.deepEqual(uniformIndices(100, 16), [0, 7, 13, 20, 26, 33, 40, 46, 53, 59, 66, 73, 79, 86, 92, 99]);
    assert.deepEqual(uniformIndices(7, 1), [0]);
  });
  test('halves round to even, and more frames than the video repeats indices', () => {
    assert.deepEqual(uniformIndices(4, 3), [0, 2, 3]); // 0, 1.5, 3
    assert.deepEqual(uniformIndices(6, 3), [0, 2, 5]); // 0, 2.5, 5
    assert.deepEqual(uniformIndices(2, 3), [0, 0, 1]); // 0, 0.5, 1
  });
  test('rejects non-positive counts', () => {
    assert.throws(() => uniformIndices(0, 4), InputError);
    assert.throws(() => uniformIndices(5, 0), InputError);
  });
});

describe('video files', () => {
  const lossless = join(dir, 'lossless.mp4');
  const standard = join(dir, 'standard.mp4');

  test('writeVideo + openVideo: frame count, fps, duration, size', async () => {
    await writeVideo(lossless, SOURCE, FPS, { crf: 0, pixelFormat: 'yuv444p' });
    const v = await openVideo(lossless);
    assert.equal(v.kind, 'file');
    assert.equal(v.frameCount, 12);
    assert.equal(v.fps, FPS);
    assert.ok(Math.abs(v.duration - 12 / FPS) < 1e-3, `duration ${v.duration}`);
    assert.deepEqual([v.width, v.height, v.rotation], [W, H, 0]);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('partial')),
      [],
    );
  });

  test('lossless yuv444p encode: frames by index within 2 levels (RGB↔YUV rounding only)', async () => {
    const v = await openVideo(lossless);
    const frames = await collect(v, [11, 0, 5, 5, 3]);
    assert.deepEqual(
      frames.map((f) => f.index),
      [0, 3, 5, 11],
    );
    for (const f of frames) {
      assert.equal(f.timestamp, f.index / FPS);
      assert.ok(
        diff(f.image, SOURCE[f.index]).max <= 2,
        `frame ${f.index}: ${JSON.stringify(diff(f.image, SOURCE[f.index]))}`,
      );
    }
  });

  test('default encode (H.264 yuv420p, crf 17): every frame decodes closest to its own source', async () => {
    await writeVideo(standard, SOURCE, FPS);
    const v = await openVideo(standard);
    assert.equal(v.frameCount, 12);
    const frames = await collect(v, uniformIndices(12, 12));
    assert.equal(frames.length, 12);
    for (const f of frames) {
      const errors = SOURCE.map((s) => diff(f.image, s).mean);
      assert.equal(errors.indexOf(Math.min(...errors)), f.index);
      assert.ok(errors[f.index] < 2, `frame ${f.index}: mean error ${errors[f.index]}`);
    }
  });

  test('webm (no stored frame count: packets are counted)', async () => {
    const webm = join(dir, 'clip.webm');
    ffmpeg('-i', lossless, '-c:v', 'libvpx-vp9', '-lossless', '1', webm);
    const v = await openVideo(webm);
    assert.deepEqual([v.frameCount, v.fps, v.width, v.height], [12, FPS, W, H]);
    const [f] = await collect(v, [7]);
    assert.ok(diff(f.image, SOURCE[7]).max <= 3);
  });

  test('rotation metadata: frames come out upright (turned counter-clockwise)', async () => {
    const mov = join(dir, 'rotated.mov');
    ffmpeg('-i', lossless, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', mov);
    const v = await openVideo(mov);
    assert.equal(v.rotation, 90);
    assert.deepEqual([v.width, v.height], [H, W]);
    const [f] = await collect(v, [4]);
    // 90° counter-clockwise: output (x, y) shows source (W−1−y, x).
    const src = SOURCE[4];
    const turned: RgbImage = { width: H, height: W, data: new Uint8Array(W * H * 3) };
    for (let y = 0; y < W; y++)
      for (let x = 0; x < H; x++)
        for (let c = 0; c < 3; c++)
          turned.data[(y * H + x) * 3 + c] = src.data[(x * W + (W - 1 - y)) * 3 + c];
    assert.ok(diff(f.image, turned).max <= 2);
  });

  test('stopping early leaves no decoder running and the video can be read again', async () => {
    const v = await openVideo(lossless);
    for await (const f of v.readFrames([1, 2, 3])) {
      assert.equal(f.index, 1);
      break;
    }
    assert.equal((await collect(v, [10])).length, 1);
  });
});

describe('folders of frames', () => {
  const folder = join(dir, 'frames');
  mkdirSync(folder);
  // Written out of order, with names that sort wrongly as strings (frame_10 < frame_9 lexicographically).
  const order = [10, 2, 9, 0, 1];
  for (const n of order) writeImage(join(folder, `frame_${n}.png`), SOURCE[n]);
  writeFileSync(join(folder, 'notes.txt'), 'not a frame');

  test('numeric order of the numbers in the names', () => {
    const names = ['frame_10.png', 'frame_9.png', 'frame_0100.png', 'frame_011.png', 'a.png', 'frame_2b.png'];
    assert.deepEqual(names.sort(compareFrameNames), [
      'a.png',
      'frame_2b.png',
      'frame_9.png',
      'frame_10.png',
      'frame_011.png',
      'frame_0100.png',
    ]);
    assert.ok(compareFrameNames('x_9999.png', 'x_10000.png') < 0);
  });

  test('frames read back in numeric order, exactly (PNG)', async () => {
    const v = await openVideo(folder, { folderFps: 3 });
    assert.deepEqual(
      [v.kind, v.frameCount, v.fps, v.duration, v.width, v.height],
      ['folder', 5, 3, 5 / 3, W, H],
    );
    const frames = await collect(v, [0, 1, 2, 3, 4]);
    const sorted = [...order].sort((a, b) => a - b);
    frames.forEach((f, i) => {
      assert.equal(f.timestamp, i / 3);
      assert.deepEqual(f.image, SOURCE[sorted[i]]);
    });
  });

  test('JPEG frames', async () => {
    const jpgs = join(dir, 'jpgs');
    mkdirSync(jpgs);
    for (const n of [3, 1]) writeFileSync(join(jpgs, `${n}.JPG`), encodeJpeg(SOURCE[n], 95));
    const v = await openVideo(jpgs);
    const frames = await collect(v, [0, 1]);
    assert.ok(diff(frames[0].image, SOURCE[1]).mean < 2);
    assert.ok(diff(frames[1].image, SOURCE[3]).mean < 2);
    assert.deepEqual(readImage(join(jpgs, '1.JPG')), frames[0].image);
  });

  test('frames of different sizes are rejected when read', async () => {
    const mixed = join(dir, 'mixed');
    mkdirSync(mixed);
    writeImage(join(mixed, '1.png'), SOURCE[0]);
    writeImage(join(mixed, '2.png'), { width: 2, height: 2, data: new Uint8Array(12) });
    const v = await openVideo(mixed);
    await assert.rejects(
      collect(v, [0, 1]),
      (e: Error) => e instanceof InputError && /2\.png is 2×2/.test(e.message),
    );
  });
});

describe('bad inputs give InputError naming the file', () => {
  const expectInputError = (path: string, pattern: RegExp) => (e: Error) =>
    e instanceof InputError && e.message.includes(path) && pattern.test(e.message);

  test('missing path', async () => {
    const p = join(dir, 'nope.mp4');
    await assert.rejects(openVideo(p), expectInputError(p, /not found/));
  });

  test('not a video (ffprobe names the cause)', async () => {
    const p = join(dir, 'text.mp4');
    writeFileSync(p, 'hello, not a video');
    await assert.rejects(openVideo(p), expectInputError(p, /Invalid data|moov atom/));
  });

  test('empty file and a video without frames', async () => {
    const empty = join(dir, 'empty.mp4');
    writeFileSync(empty, '');
    await assert.rejects(openVideo(empty), expectInputError(empty, /./));
    const zero = join(dir, 'zero.mp4');
    ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-frames:v', '0', '-c:v', 'libx264', zero);
    await assert.rejects(openVideo(zero), expectInputError(zero, /no video stream/));
  });

  test('empty folder', async () => {
    const p = join(dir, 'empty-folder');
    mkdirSync(p);
    await assert.rejects(openVideo(p), expectInputError(p, /no \.png/));
  });

  test('frame index out of range', async () => {
    const p = join(dir, 'lossless.mp4');
    const v = await openVideo(p);
    await assert.rejects(collect(v, [12]), expectInputError(p, /outside/));
    await assert.rejects(collect(v, [1.5]), InputError);
  });

  test('truncated video: decoding fails with ffmpeg’s reason or a short read', async () => {
    const p = join(dir, 'truncated.mp4');
    const bytes = readFileSync(join(dir, 'standard.mp4'));
    writeFileSync(p, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const v = await openVideo(p); // the index (moov) is at the front, so opening works
    await assert.rejects(collect(v, [0, 11]), expectInputError(p, /ended before frame|ffmpeg failed/));
  });

  test('writeVideo: odd size, mixed sizes, no frames; nothing is left behind', async () => {
    const p = join(dir, 'bad-out.mp4');
    const odd = { width: 5, height: 4, data: new Uint8Array(60) };
    await assert.rejects(writeVideo(p, [odd], 10), expectInputError(p, /even/));
    await assert.rejects(writeVideo(p, [SOURCE[0], odd], 10), expectInputError(p, /frame 1/));
    await assert.rejects(writeVideo(p, [], 10), expectInputError(p, /no frames/));
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('bad-out')),
      [],
    );
  });
});
