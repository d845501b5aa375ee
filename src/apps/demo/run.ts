// `spatial-mllm demo`: renders one synthetic room (exact ground truth) and asks the small model (models/small; a
// tiny random checkpoint where the checkout lacks it) the room's VSI-Bench-style questions through the same
// pipeline as `ask`, printing each stage and the ground truth beside each answer.
// Nothing is downloaded.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promptText } from '../../data/qa/format.ts';
import { synthesize } from '../../data/synth/cli.ts';
import { SYNTH_DATASET } from '../../data/synth/world.ts';
import { SpatialMllm } from '../../models/spatial_mllm/model.ts';
import { ask } from '../../pipeline/ask.ts';
import type { FrameSampling } from '../../pipeline/frame_sampling.ts';
import { saveAnswerArtifacts } from '../artifacts.ts';
import { stageLogger } from '../ask.ts';
import { shippedModel } from '../model_name.ts';
import { TINY_DESCRIPTION, writeTinySpatialMllm } from './tiny_model.ts';

/** The demo's room for the small model: a seed used neither for its training (1000) nor for its table (900000). */
const HELD_OUT_SEED = 950000;
const SMALL_DESCRIPTION =
  'the small Spatial-MLLM trained here on synthetic rooms (models/small; README "The small model"), asked about a ' +
  'room it never saw';

export async function runDemo(o: { out?: string; sampling: FrameSampling }): Promise<void> {
  const out = o.out ?? mkdtempSync(join(tmpdir(), 'spatial-mllm-demo-'));
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const small = shippedModel('small');
  say(`Spatial-MLLM demo — the model is ${small ? SMALL_DESCRIPTION : TINY_DESCRIPTION}.`);
  const t0 = performance.now();
  const { questions } = await synthesize({
    scenes: 1,
    out: join(out, 'room'),
    seed: small ? HELD_OUT_SEED : 1,
    frames: 16,
    // The small model's rooms are filmed at 1 frame per second (src/train/small/recipe.ts).
    fps: small ? 1 : 4,
    // The small model was trained on 168×112 renders (src/train/small/model_config.ts).
    width: small ? 168 : 224,
    height: small ? 112 : 168,
    log: (line) => say(`[room] ${line}`),
  });
  const modelDir = small ?? join(out, 'model');
  if (!small) writeTinySpatialMllm(modelDir);
  say(
    `[setup] ${((performance.now() - t0) / 1000).toFixed(2)} s — synthetic room${small ? '' : ' and tiny checkpoint'} in ${out}`,
  );
  // With the small model, room size first: the task where it reads the video best (README "The small model").
  const types = small ? ['room_size_estimation', 'object_counting'] : ['object_counting'];
  const picked = types.flatMap((t) => questions.find((x) => x.question_type === t) ?? []);
  const asked = picked.length > 0 ? picked : [questions[0]];
  const model = SpatialMllm.load(modelDir);
  try {
    for (const [i, q] of asked.entries()) {
      const video = join(out, 'room', SYNTH_DATASET, `${q.scene_name}.mp4`);
      // The prompt the small model was trained and evaluated with: question, "Options:" lines, answer instruction.
      const question = promptText(q);
      say(`[question] ${question.replace(/\n/g, ' ')}`);
      const result = await ask(model, video, question, {
        frames: 8,
        sampling: o.sampling,
        temperature: 0,
        onStage: stageLogger((s) => process.stdout.write(s)),
      });
      say(
        `[answer] ${JSON.stringify(result.answer)}${small ? '' : ' — random weights, so not meaningful'}; the ground truth is ${q.ground_truth}`,
      );
      if (i > 0) continue;
      const saved = await saveAnswerArtifacts(model, result, join(out, 'outputs'));
      say(`[frames] ${result.frames.map((f) => `${f.index}@${f.timestamp.toFixed(2)}s`).join(' ')}`);
      if (result.coverage)
        say(
          `[coverage] ${(100 * result.coverage.ratio).toFixed(1)}% of ${result.coverage.total} voxels; gains per pick ${result.coverage.gains.join(', ')}`,
        );
      say(
        `[saved] ${saved.frames.length} frames, ${saved.points ?? 0}-point cloud ${saved.pointCloud ?? '(none)'}, cameras ${saved.cameras ?? '(none)'}`,
      );
    }
    say(
      `[total] ${((performance.now() - t0) / 1000).toFixed(2)} s. With a real checkpoint: spatial-mllm ask --model DIR --video FILE "question"`,
    );
  } finally {
    await model.release();
  }
}
