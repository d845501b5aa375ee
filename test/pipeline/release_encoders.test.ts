// `ask` with releaseEncoders (what the CLI runs: one question per process) frees the encoders' sessions before the
// prefill: the answer is the same token for token, and the model answers again afterwards (the encoders rebuilt).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { demoFrames } from '../../src/apps/demo/clip.ts';
import { writeTinySpatialMllm } from '../../src/apps/demo/tiny_model.ts';
import { writeVideo } from '../../src/media/video.ts';
import { SpatialMllm } from '../../src/models/spatial_mllm/model.ts';
import { ask } from '../../src/pipeline/ask.ts';

const dir = mkdtempSync(join(tmpdir(), 'release-encoders-'));
const video = join(dir, 'clip.mp4');
before(async () => {
  writeTinySpatialMllm(join(dir, 'model'));
  await writeVideo(video, demoFrames(8, 112, 84), 4);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('releaseEncoders: same tokens, and the next question rebuilds the encoders', async () => {
  const [kept, freed] = [SpatialMllm.load(join(dir, 'model')), SpatialMllm.load(join(dir, 'model'))];
  try {
    // Different frame counts: visual features are memoised per video and frames, so the second ask of `freed`
    // runs its encoders again, after they were released.
    for (const frames of [2, 4]) {
      const o = { frames, maxNewTokens: 2, temperature: 0 };
      const want = await ask(kept, video, 'How many chairs?', o);
      const got = await ask(freed, video, 'How many chairs?', { ...o, releaseEncoders: true });
      assert.deepEqual(got.tokenIds, want.tokenIds, `${frames} frames`);
    }
  } finally {
    await kept.release();
    await freed.release();
  }
});
