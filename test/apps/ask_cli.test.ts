// `spatial-mllm ask` end to end on a generated tiny checkpoint and a clip encoded from generated frames: JSON
// structure, frame indices, saved files; and clear errors with a non-zero exit for bad inputs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { demoFrames } from '../../src/apps/demo/clip.ts';
import { writeTinySpatialMllm } from '../../src/apps/demo/tiny_model.ts';
import { writeVideo } from '../../src/media/video.ts';
import { uniformIndices } from '../../src/pipeline/frame_sampling.ts';

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/apps/cli.ts', ...args], {
    encoding: 'utf8',
    timeout: 300_000,
  });

describe('ask CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ask-'));
  const model = join(dir, 'model');
  const video = join(dir, 'clip.mp4');
  /** `ask` on the tiny model and the clip with 4 frames; `extra` appended. */
  const askArgs = (question: string, ...extra: string[]) => [
    'ask',
    question,
    '--model',
    model,
    '--video',
    video,
    '--frames',
    '4',
    ...extra,
  ];
  /** A greedy --json answer of at most 3 tokens; `extra` appended. */
  const askJson = (...extra: string[]) =>
    askArgs('How big is the room?', '--max-new-tokens', '3', '--temperature', '0', '--json', ...extra);
  before(async () => {
    writeTinySpatialMllm(model);
    await writeVideo(video, demoFrames(10, 112, 84), 5);
  });

  test('--spatial-res half answers through the pooled spatial encoder', () => {
    const r = cli(askJson('--spatial-res', 'half'));
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(typeof out.answer, 'string');
    assert.ok(out.newTokens >= 1 && out.newTokens <= 3);
  });

  test('--json with uniform sampling gives the answer, frames, timings and writes --save files', () => {
    const save = join(dir, 'saved');
    const r = cli(askJson('--save', save));
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.question, 'How big is the room?');
    assert.equal(typeof out.answer, 'string');
    assert.equal(out.sampling, 'uniform');
    assert.deepEqual(
      out.frames.map((f: { index: number }) => f.index),
      uniformIndices(10, 4),
    );
    assert.deepEqual(
      out.frames.map((f: { timestamp: number }) => f.timestamp),
      uniformIndices(10, 4).map((i) => i / 5),
    );
    assert.ok(out.newTokens >= 1 && out.newTokens <= 3);
    for (const k of ['decode', 'sampling', 'encoders', 'prefill', 'generate', 'total', 'tokensPerSecond'])
      assert.equal(typeof out.timings[k], 'number', k);
    assert.match(r.stderr, /\[encoders\] [\d.]+ s/);
    const files = readdirSync(save).sort();
    assert.equal(files.filter((f) => f.endsWith('.png')).length, 4);
    assert.ok(files.includes('points.ply') && files.includes('cameras.json'));
    assert.match(
      readFileSync(join(save, 'points.ply'), 'latin1').slice(0, 80),
      /^ply\nformat binary_little_endian 1.0\nelement vertex \d+/,
    );
    const cams = JSON.parse(readFileSync(join(save, 'cameras.json'), 'utf8')).cameras;
    assert.deepEqual(
      cams.map((c: { frame: number }) => c.frame),
      out.frames.map((f: { index: number }) => f.index),
    );
  });

  test("without --max-new-tokens the answer stops at the model's generation_config.json max_new_tokens", () => {
    const limit = JSON.parse(readFileSync(join(model, 'generation_config.json'), 'utf8')).max_new_tokens;
    assert.ok(Number.isInteger(limit) && limit > 0, 'the tiny model states its answer length');
    const r = cli(askArgs('How big is the room?', '--json'));
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(out.newTokens >= 1 && out.newTokens <= limit, `${out.newTokens} tokens, limit ${limit}`);
  });

  test('space-aware sampling returns frames in time order with coverage, and reuses the cached geometry', () => {
    const cache = join(dir, 'cache');
    const args = askArgs(
      'Where is the door?',
      '--sampling',
      'space-aware',
      '--max-new-tokens',
      '2',
      '--json',
    );
    const env = { ...process.env, XDG_CACHE_HOME: cache };
    const first = spawnSync(process.execPath, ['--import', 'tsx', 'src/apps/cli.ts', ...args], {
      encoding: 'utf8',
      env,
      timeout: 300_000,
    });
    assert.equal(first.status, 0, first.stderr);
    const out = JSON.parse(first.stdout);
    const idx = out.frames.map((f: { index: number }) => f.index);
    assert.deepEqual(
      idx,
      [...idx].sort((a: number, b: number) => a - b),
    );
    assert.ok(idx.length >= 1 && idx.length <= 4 && idx.every((i: number) => i >= 0 && i < 10));
    assert.ok(out.coverage.covered > 0 && out.coverage.covered <= out.coverage.total);
    assert.equal(readdirSync(join(cache, 'spatial-mllm', 'geometry')).length, 1);
    const again = spawnSync(process.execPath, ['--import', 'tsx', 'src/apps/cli.ts', ...args], {
      encoding: 'utf8',
      env,
      timeout: 300_000,
    });
    assert.deepEqual(JSON.parse(again.stdout).frames, out.frames);
    // The paper's variant (depth maps unprojected with the predicted cameras) is cached separately.
    const depthArgs = args.map((a) => (a === 'space-aware' ? 'space-aware-depth' : a));
    const depth = spawnSync(process.execPath, ['--import', 'tsx', 'src/apps/cli.ts', ...depthArgs], {
      encoding: 'utf8',
      env,
      timeout: 300_000,
    });
    assert.equal(depth.status, 0, depth.stderr);
    assert.equal(JSON.parse(depth.stdout).sampling, 'space-aware-depth');
    assert.equal(readdirSync(join(cache, 'spatial-mllm', 'geometry')).length, 2);
  });

  test('bad video, bad model folder and bad options fail with a clear message and exit 2', () => {
    const bad = join(dir, 'not-a-video.mp4');
    writeFileSync(bad, 'this is not a video');
    const cases: [string[], RegExp][] = [
      [['ask', 'q', '--model', model, '--video', join(dir, 'missing.mp4')], /video not found/],
      [['ask', 'q', '--model', model, '--video', bad], /not-a-video\.mp4/],
      [['ask', 'q', '--model', join(dir, 'nope'), '--video', video], /model folder not found/],
      [['ask', 'q', '--model', dir, '--video', video], /model\.safetensors|config\.json/],
    ];
    for (const [args, message] of cases) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    const res = cli([...askArgs('q'), '--spatial-res', 'quarter']);
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /--spatial-res.*full, half|Allowed choices/);
    const opt = cli(['ask', 'q', '--model', model, '--video', video, '--sampling', 'random']);
    assert.notEqual(opt.status, 0);
    assert.match(opt.stderr, /--sampling.*uniform, space-aware|Allowed choices/);
    assert.ok(existsSync(model));
  });
});
