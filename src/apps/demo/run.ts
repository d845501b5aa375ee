// `spatial-mllm demo`: generates a tiny Spatial-MLLM checkpoint and a short clip, then asks a question through
// the same pipeline as `ask`, printing each stage. Nothing is downloaded.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpatialMllmPipeline, saveAnswerArtifacts } from '../../pipeline/answer.ts';
import { stageLogger } from '../ask.ts';
import { writeDemoClip } from './clip.ts';
import { TINY_DESCRIPTION, writeTinySpatialMllm } from './tiny_model.ts';

export async function runDemo(o: { out?: string; sampling: 'uniform' | 'space-aware' }): Promise<void> {
  const out = o.out ?? mkdtempSync(join(tmpdir(), 'spatial-mllm-demo-'));
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say(`Spatial-MLLM demo — the model is ${TINY_DESCRIPTION}.`);
  const t0 = performance.now();
  writeTinySpatialMllm(join(out, 'model'));
  await writeDemoClip(join(out, 'clip.mp4'));
  say(
    `[setup] ${((performance.now() - t0) / 1000).toFixed(2)} s — tiny checkpoint in ${join(out, 'model')}, 12-frame clip ${join(out, 'clip.mp4')}`,
  );
  const pipeline = SpatialMllmPipeline.load(join(out, 'model'));
  try {
    const question = 'How many chairs are in this room?';
    say(`[question] ${question}`);
    const result = await pipeline.ask(join(out, 'clip.mp4'), question, {
      frames: 6,
      sampling: o.sampling,
      maxNewTokens: 12,
      temperature: 0,
      onStage: stageLogger((s) => process.stdout.write(s)),
    });
    const saved = await saveAnswerArtifacts(pipeline, result, join(out, 'outputs'));
    say(
      `[answer] ${JSON.stringify(result.answer)} (${result.newTokens} tokens from random weights: not meaningful)`,
    );
    say(`[frames] ${result.frames.map((f) => `${f.index}@${f.timestamp.toFixed(2)}s`).join(' ')}`);
    if (result.coverage)
      say(
        `[coverage] ${(100 * result.coverage.ratio).toFixed(1)}% of ${result.coverage.total} voxels; gains per pick ${result.coverage.gains.join(', ')}`,
      );
    say(
      `[saved] ${saved.frames.length} frames, ${saved.points ?? 0}-point cloud ${saved.pointCloud ?? '(none)'}, cameras ${saved.cameras ?? '(none)'}`,
    );
    say(
      `[total] ${((performance.now() - t0) / 1000).toFixed(2)} s. Try it on a real checkpoint: spatial-mllm ask --model DIR --video FILE "question"`,
    );
  } finally {
    await pipeline.release();
  }
}
