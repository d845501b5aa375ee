// The public API as another project sees it: a temp project depending on this repository (a `file:` dependency,
// i.e. a symlink in its node_modules, as npm installs one) imports 'spatial-mllm' through the package's
// `exports`, run with `node --import tsx`, and asks a question about a clip with a tiny generated checkpoint.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { demoFrames } from '../../src/apps/demo/clip.ts';
import { writeTinySpatialMllm } from '../../src/apps/demo/tiny_model.ts';
import { writeVideo } from '../../src/media/video.ts';
import { DEFAULT_FRAME_COUNT, FRAME_SAMPLINGS, uniformIndices } from '../../src/pipeline/frame_sampling.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'consumer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CONSUMER = `
import { ask, DEFAULT_FRAME_COUNT, FRAME_SAMPLINGS, SpatialMllm, checkFrameCount, evaluate } from 'spatial-mllm';
const [model, video] = process.argv.slice(2);
const m = SpatialMllm.load(model);
try {
  const r = await ask(m, video, 'How many chairs are there?', { frames: 4, maxNewTokens: 2, temperature: 0 });
  let refused = '';
  try { checkFrameCount(0); } catch (e) { refused = e.name + ': ' + e.message; }
  console.log(JSON.stringify({
    frames: r.frames.map((f) => f.index), newTokens: r.newTokens, answer: typeof r.answer,
    DEFAULT_FRAME_COUNT, FRAME_SAMPLINGS, evaluate: typeof evaluate, refused,
  }));
} finally {
  await m.release();
}
`;

test("import('spatial-mllm') from another project: load a model folder and ask about a video", async () => {
  const project = join(dir, 'app');
  mkdirSync(join(project, 'node_modules'), { recursive: true });
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'app', type: 'module', dependencies: { 'spatial-mllm': `file:${repo}` } }),
  );
  symlinkSync(repo, join(project, 'node_modules', 'spatial-mllm'), 'dir');
  writeFileSync(join(project, 'main.js'), CONSUMER);
  writeTinySpatialMllm(join(dir, 'model'));
  await writeVideo(join(dir, 'clip.mp4'), demoFrames(10, 112, 84), 5);

  const tsx = import.meta.resolve('tsx');
  const r = spawnSync(
    process.execPath,
    ['--import', tsx, 'main.js', join(dir, 'model'), join(dir, 'clip.mp4')],
    { cwd: project, encoding: 'utf8', timeout: 300_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.frames, uniformIndices(10, 4));
  assert.ok(out.newTokens >= 1 && out.newTokens <= 2);
  assert.equal(out.answer, 'string');
  assert.equal(out.evaluate, 'function');
  assert.equal(out.DEFAULT_FRAME_COUNT, DEFAULT_FRAME_COUNT);
  assert.deepEqual(out.FRAME_SAMPLINGS, FRAME_SAMPLINGS);
  assert.match(out.refused, /^InputError: /);
});
