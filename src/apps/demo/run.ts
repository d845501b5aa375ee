// `spatial-mllm demo`: renders one synthetic room (exact ground truth), generates a tiny Spatial-MLLM checkpoint,
// then asks one of the room's VSI-Bench-style questions through the same pipeline as `ask`, printing each stage.
// Nothing is downloaded.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthesize } from '../../data/synth/cli.ts';
import { SYNTH_DATASET } from '../../data/synth/world.ts';
import { SpatialMllm } from '../../models/spatial_mllm/model.ts';
import { ask, PROMPT_SUFFIXES } from '../../pipeline/ask.ts';
import type { FrameSampling } from '../../pipeline/frame_sampling.ts';
import { saveAnswerArtifacts } from '../artifacts.ts';
import { stageLogger } from '../ask.ts';
import { TINY_DESCRIPTION, writeTinySpatialMllm } from './tiny_model.ts';

export async function runDemo(o: { out?: string; sampling: FrameSampling }): Promise<void> {
  const out = o.out ?? mkdtempSync(join(tmpdir(), 'spatial-mllm-demo-'));
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say(`Spatial-MLLM demo — the model is ${TINY_DESCRIPTION}.`);
  const t0 = performance.now();
  const { questions } = await synthesize({
    scenes: 1,
    out: join(out, 'room'),
    seed: 1,
    frames: 16,
    fps: 4,
    width: 224,
    height: 168,
    log: (line) => say(`[room] ${line}`),
  });
  writeTinySpatialMllm(join(out, 'model'));
  say(
    `[setup] ${((performance.now() - t0) / 1000).toFixed(2)} s — synthetic room and tiny checkpoint in ${out}`,
  );
  const q = questions.find((x) => x.question_type === 'object_counting') ?? questions[0];
  const video = join(out, 'room', SYNTH_DATASET, `${q.scene_name}.mp4`);
  const model = SpatialMllm.load(join(out, 'model'));
  try {
    const question = q.options ? `${q.question}\n${q.options.join('\n')}` : q.question;
    say(`[question] ${question.replace(/\n/g, ' ')}`);
    const result = await ask(model, video, question, {
      frames: 8,
      sampling: o.sampling,
      maxNewTokens: 12,
      temperature: 0,
      promptSuffix: q.options ? PROMPT_SUFFIXES.multipleChoice : PROMPT_SUFFIXES.numeric,
      onStage: stageLogger((s) => process.stdout.write(s)),
    });
    const saved = await saveAnswerArtifacts(model, result, join(out, 'outputs'));
    say(
      `[answer] ${JSON.stringify(result.answer)} — random weights, so not meaningful; the ground truth is ${q.ground_truth}`,
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
      `[total] ${((performance.now() - t0) / 1000).toFixed(2)} s. With a real checkpoint: spatial-mllm ask --model DIR --video FILE "question"`,
    );
  } finally {
    await model.release();
  }
}
