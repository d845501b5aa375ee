// Activation checkpointing (engine/recompute.ts through the trainer's `recompute`): on the upstream SFT fixture's
// model, a step with each decoder layer recomputed in the backward pass gives the losses and every gradient of the
// step that keeps all activations, within float32 rounding (the recomputed forward runs the same kernels on the
// same inputs, so in practice bit-identical). Also checks the recomputation is really in the step graph.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { SftModel, type SftStep } from '../../src/train/sft.ts';
import { readSftRecords } from '../../src/train/sft_data.ts';
import { findFixtures } from '../support/fixtures.ts';
import { fixtureSftOptions } from './sft_fixture.ts';

for (const fx of findFixtures('spatial_mllm_sft_step')) {
  test(`gradient checkpointing gives the same step: ${fx.name}`, { timeout: 120_000 }, async (t) => {
    const m = fx.meta as any;
    const records = readSftRecords(join(fx.dir, m.data.annotation_path), join(fx.dir, m.data.data_path));
    const run = async (gradientCheckpointing: boolean): Promise<{ step: SftStep; nodes: number }> => {
      const model = await SftModel.load(fx.dir, {
        ...fixtureSftOptions(m),
        keepGradients: true,
        gradientCheckpointing,
      });
      try {
        const byId = new Map(records.map((r) => [r.id, r]));
        const examples = [];
        for (const id of m.steps[0].micro_batches) examples.push(await model.loadExample(byId.get(id)!));
        const nodes = model.trainer.buildGraph('step+acc').nodes.length;
        return { step: await model.step(examples), nodes };
      } finally {
        await model.release();
      }
    };
    const kept = await run(false);
    const recomputed = await run(true);
    // The recomputing graph holds a second copy of every decoder layer's forward.
    assert.ok(recomputed.nodes > kept.nodes, `${recomputed.nodes} vs ${kept.nodes} nodes`);
    assert.deepEqual(recomputed.step.losses, kept.step.losses);
    let worst = 0;
    let identical = 0;
    const grads = kept.step.gradients!;
    assert.equal(recomputed.step.gradients!.size, grads.size);
    for (const [name, ref] of grads) {
      const a = recomputed.step.gradients!.get(name)!.data as Float32Array;
      const b = ref.data as Float32Array;
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < b.length; i++) {
        diff = Math.max(diff, Math.abs(a[i] - b[i]));
        scale = Math.max(scale, Math.abs(b[i]));
      }
      if (diff === 0) identical++;
      worst = Math.max(worst, diff / Math.max(scale, 1e-30));
    }
    t.diagnostic(
      `${identical}/${grads.size} gradients bit-identical; max |diff|/max|ref| ${worst.toExponential(2)}; ` +
        `step graph ${kept.nodes} → ${recomputed.nodes} nodes`,
    );
    assert.ok(worst <= 1e-6, `gradients differ by ${worst} (relative)`);
  });
}
