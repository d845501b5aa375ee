// Spatial-MLLM SFT against upstream (fixture kind `spatial_mllm_sft_step`: an upstream run of 2 optimizer steps × 2
// micro-batches on the tiny v1.1 model, see the fixture README). Everything runs through SftModel, the library
// `spatial-mllm train sft` uses: the annotation file and frame folders of the fixture → input ids, labels,
// positions, pixels (data code), per-micro-batch losses, every trainable gradient before clipping, the grad norm
// and clip coefficient, the rate per parameter group and the weights after the last step. Every expectation comes
// from the fixture folder. Tolerances are the README's: ids exact, pixels 1e-6 abs, loss / norm / clip rel 1e-4,
// gradients max|diff| ≤ 1e-4·max|ref| per tensor, final weights 2e-5 abs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HostTensor } from '../../src/tensor.ts';
import { isDecayed, isProjector, SftModel, upstreamParamGroups } from '../../src/train/sft.ts';
import { readSftRecords } from '../../src/train/sft_data.ts';
import type { SftExample } from '../../src/train/sft_example.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';
import { fixtureSftOptions } from './sft_fixture.ts';

const fixtures = findFixtures('spatial_mllm_sft_step');

const values = (t: HostTensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
function maxAbs(a: HostTensor, b: HostTensor): number {
  assert.deepEqual(a.shape, b.shape);
  const [x, y] = [a.data as Float32Array, b.data as Float32Array];
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}
const maxOf = (t: HostTensor) => (t.data as Float32Array).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

for (const fx of fixtures) {
  test(`SFT parity with upstream: ${fx.name}`, { timeout: 300_000 }, async (t) => {
    const m = fx.meta as any;
    const ta = m.training_args;
    const ref = openSafetensors(join(fx.dir, 'sft.safetensors'));
    const model = await SftModel.load(fx.dir, {
      ...fixtureSftOptions(m),
      keepGradients: true,
    });
    const table: string[] = [];
    try {
      // Trainable tensors and their groups, as upstream's create_optimizer made them.
      const groups = upstreamParamGroups({
        lr: ta.learning_rate,
        projectorLr: ta.mm_projector_lr,
        weightDecay: ta.weight_decay,
      });
      assert.deepEqual(
        [...model.trainer.trainable].sort(),
        m.trainable_parameters.map((p: { name: string }) => p.name).sort(),
      );
      for (const pg of m.param_groups) {
        const g = groups[pg.index];
        assert.equal(g.lr, pg.lr);
        assert.equal(g.weightDecay, pg.weight_decay);
        for (const name of pg.params) {
          assert.equal(isProjector(name), pg.projector, name);
          assert.equal(isDecayed(name), pg.weight_decay > 0, name);
        }
      }

      // Data code: ids, labels, positions exact; pixels and frames within 1e-6.
      const records = readSftRecords(join(fx.dir, m.data.annotation_path), join(fx.dir, m.data.data_path));
      const examples = new Map<string, SftExample>();
      let pixelErr = 0;
      for (const r of records) {
        const ex = await model.loadExample(r);
        examples.set(r.id, ex);
        const s = (k: string) => ref.read(`sample.${r.id}.${k}`);
        assert.deepEqual(ex.inputIds, values(s('input_ids')), `${r.id} input_ids`);
        assert.deepEqual(ex.labels, values(s('labels')), `${r.id} labels`);
        assert.deepEqual(values(ex.positionIds), values(s('position_ids')), `${r.id} position_ids`);
        assert.deepEqual(ex.frameIndices, values(s('frame_idx')), `${r.id} frame_idx`);
        assert.deepEqual([...ex.grid], values(s('video_grid_thw')), `${r.id} grid`);
        const media = await ex.media();
        pixelErr = Math.max(pixelErr, maxAbs(media.pixelValues, s('pixel_values_videos')));
        const tchw = s('video_tchw');
        const [T, , H, W] = tchw.shape;
        assert.equal(media.frames.length, T);
        const frames = new Float32Array(T * 3 * H * W);
        media.frames.forEach((f, i) => {
          for (let c = 0; c < 3; c++)
            for (let p = 0; p < H * W; p++) frames[(i * 3 + c) * H * W + p] = f.data[p * 3 + c] / 255;
        });
        pixelErr = Math.max(pixelErr, maxAbs({ dtype: 'float32', shape: tchw.shape, data: frames }, tchw));
      }
      assert.ok(pixelErr <= 1e-6, `pixels max abs ${pixelErr}`);
      table.push(`pixel_values / video_tchw max abs: ${pixelErr.toExponential(2)}`);

      for (const st of m.steps) {
        const k = st.step;
        const r = await model.step(st.micro_batches.map((id: string) => examples.get(id)!));
        assert.deepEqual(r.labelTokens, st.num_label_tokens);
        const lossErr = Math.max(
          ...r.microLosses.map((l, j) => rel(l, ref.read(`step${k}.loss.${j}`).data[0] as number)),
        );
        const normErr = rel(r.gradNorm!, ref.read(`step${k}.grad_norm`).data[0] as number);
        const clipErr = rel(r.clipCoef!, ref.read(`step${k}.clip_coef`).data[0] as number);
        let gradErr = 0;
        let worst = '';
        for (const p of m.trainable_parameters) {
          const want = ref.read(`step${k}.grad.${p.name}`);
          const e = maxAbs(r.gradients!.get(p.name)!, want) / maxOf(want);
          if (e > gradErr) [gradErr, worst] = [e, p.name];
        }
        const lrs = groups.map((g) => r.lr[g.name] ?? 0);
        table.push(
          `step ${k}: loss rel ${lossErr.toExponential(2)}, grad_norm rel ${normErr.toExponential(2)}, ` +
            `clip_coef rel ${clipErr.toExponential(2)}, grads max|diff|/max|ref| ${gradErr.toExponential(2)} (${worst}), lr ${lrs}`,
        );
        assert.ok(lossErr <= 1e-4, `step ${k} loss rel ${lossErr}`);
        assert.ok(normErr <= 1e-4, `step ${k} grad_norm rel ${normErr}`);
        assert.ok(clipErr <= 1e-4, `step ${k} clip_coef rel ${clipErr}`);
        assert.ok(gradErr <= 1e-4, `step ${k} gradient ${worst}: ${gradErr}`);
        lrs.forEach((lr, i) => {
          assert.ok(
            Math.abs(lr - st.lr[i]) <= 1e-12 * Math.max(1, st.lr[i]),
            `step ${k} group ${i} lr ${lr} vs ${st.lr[i]}`,
          );
        });
      }

      const params = model.trainer.parameters();
      let weightErr = 0;
      for (const p of m.trainable_parameters)
        weightErr = Math.max(weightErr, maxAbs(params.get(p.name)!, ref.read(`final.param.${p.name}`)));
      table.push(`final weights max abs: ${weightErr.toExponential(2)}`);
      assert.ok(weightErr <= 2e-5, `final weights max abs ${weightErr}`);
    } finally {
      t.diagnostic(table.join('\n'));
      ref.close();
      await model.release();
    }
  });
}
