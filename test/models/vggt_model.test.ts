// VGGT parity with every `vggt` fixture (upstream PyTorch outputs of a tiny random model), loaded through the
// loader used for real checkpoints: DINOv2 position table and patch tokens, every aggregator layer, the pose
// encoding of every camera-head iteration, depth / world points with confidences, and cameras derived from our
// pose encoding. Tolerance (fixture README: fp32 vs fp64 spread ≤ 4e-6): abs ≤ 1e-4 and max|err|/max|ref| ≤ 1e-4
// everywhere; intrinsics 1e-3 relative. Both lowerings; the primitive one also runs the DPT in chunks of 3 frames
// so that a sequence spans several chunks.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cosine } from '../../bench/support/compare.ts';
import type { Lowering } from '../../src/engine/index.ts';
import { InputError } from '../../src/errors.ts';
import { W8A8 } from '../../src/models/layers.ts';
import { patchStartIdx } from '../../src/models/vggt/aggregator.ts';
import { poseEncodingToCameras } from '../../src/models/vggt/geometry.ts';
import { VggtModel } from '../../src/models/vggt/model.ts';
import { type HostTensor, tensor, toFloat32 } from '../../src/tensor.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';

const TOL = 1e-4;
/** Max |err| of the float32 run per fixture case and output, which the W8A8 run must exceed (quantized for real). */
const fp32Error = new Map<string, number>();
const report: string[] = [];
after(() => {
  if (report.length) console.log(`vggt max abs / relative errors:\n  ${report.join('\n  ')}`);
});

/** Asserts max |err| ≤ tol.abs (when given) and max |err| / max |ref| ≤ tol.rel. */
function check(
  label: string,
  got: HostTensor | Float32Array | undefined,
  want: HostTensor,
  tol: { abs?: number; rel: number } = { abs: TOL, rel: TOL },
) {
  assert.ok(got, `${label}: not computed`);
  const a = got instanceof Float32Array ? got : toFloat32(got);
  const b = toFloat32(want);
  if (!(got instanceof Float32Array)) assert.deepEqual(got.shape, want.shape, `${label}: shape`);
  assert.equal(a.length, b.length, `${label}: size`);
  let abs = 0;
  let ref = 0;
  for (let i = 0; i < b.length; i++) {
    abs = Math.max(abs, Math.abs(a[i] - b[i]));
    ref = Math.max(ref, Math.abs(b[i]));
  }
  const rel = abs / ref;
  fp32Error.set(label, abs);
  report.push(`${label.padEnd(52)} ${abs.toExponential(2)}  ${rel.toExponential(2)}`);
  if (tol.abs !== undefined)
    assert.ok(abs <= tol.abs, `${label}: max abs ${abs.toExponential(2)} > ${tol.abs}`);
  assert.ok(rel <= tol.rel, `${label}: relative ${rel.toExponential(2)} > ${tol.rel}`);
}

const RUNS: { lowering: Lowering; chunkFrames: number }[] = [
  { lowering: 'fused', chunkFrames: 8 },
  { lowering: 'primitive', chunkFrames: 3 },
];

for (const fixture of findFixtures('vggt')) {
  describe(fixture.name, () => {
    const io = openSafetensors(`${fixture.dir}/io.safetensors`);
    after(() => io.close());
    const cases = io
      .names()
      .filter((n) => n.endsWith('.images'))
      .map((n) => n.slice(0, -'.images'.length));

    for (const { lowering, chunkFrames } of RUNS) {
      const model = VggtModel.load(fixture.dir, { lowering, chunkFrames });
      after(() => model.release());
      const c = model.config;

      test(`input checks (${lowering})`, async () => {
        const p = c.patchSize;
        const bad = tensor('float32', [2, 3, p + 6, 2 * p]);
        await assert.rejects(
          model.aggregate(bad),
          (e: Error) => e instanceof InputError && new RegExp(`multiples of ${p}`).test(e.message),
        );
        await assert.rejects(
          model.aggregate(tensor('float32', [2, 4, 2 * p, 2 * p])),
          (e: Error) => e instanceof InputError && /\[S, 3, H, W\]/.test(e.message),
        );
        await assert.rejects(
          model.aggregate(tensor('float32', [1, 3, 2 * p, 2 * p]), { layers: [c.aggregator.depth] }),
          (e: Error) => e instanceof InputError && /layer/.test(e.message),
        );
      });

      for (const name of cases) {
        const want = (t: string) => io.read(`${name}.${t}`);
        const tag = (t: string) => `${fixture.name} ${name} ${lowering} ${t}`;

        test(`${name}: aggregator layers and DINOv2 tokens (${lowering})`, async () => {
          const all = Array.from({ length: c.aggregator.depth }, (_, i) => i);
          const out = await model.aggregate(want('images'), { layers: all, debug: true });
          check(tag('debug.pos_embed_interp'), out.posEmbed, want('debug.pos_embed_interp'));
          check(tag('debug.patch_tokens'), out.patchTokens, want('debug.patch_tokens'));
          for (const l of all)
            check(tag(`aggregated_tokens.${l}`), out.layers.get(l), want(`aggregated_tokens.${l}`));
          assert.equal(patchStartIdx(c), Number((want('patch_start_idx').data as BigInt64Array)[0]));
        });

        test(`${name}: camera, depth and point heads (${lowering}, DPT chunks of ${chunkFrames})`, async () => {
          const images = want('images');
          const p = await model.predict(images);
          assert.equal(p.poseEncList?.length, c.cameraHead.iterations);
          p.poseEncList!.forEach((t, i) => {
            check(tag(`pose_enc_list.${i}`), t, want(`pose_enc_list.${i}`));
          });
          check(tag('pose_enc'), p.poseEncList!.at(-1), want('pose_enc'));
          check(tag('depth'), p.depth, want('depth'));
          check(tag('depth_conf'), p.depthConf, want('depth_conf'));
          check(tag('world_points'), p.worldPoints, want('world_points'));
          check(tag('world_points_conf'), p.worldPointsConf, want('world_points_conf'));

          const [H, W] = images.shape.slice(-2);
          const cams = poseEncodingToCameras(toFloat32(p.poseEncList!.at(-1)!), H, W);
          check(tag('extrinsic (geometry.ts)'), cams.extrinsics, want('extrinsic'));
          check(tag('intrinsic (geometry.ts)'), cams.intrinsics, want('intrinsic'), { rel: 1e-3 });
        });
      }
    }
  });
}

// What `ask --dtype int4|int8 --sampling space-aware` runs (SpatialMllm.geometry passes the encoders' format): the
// aggregator in W8A8, the heads in float32. The point map and depth that space-aware sampling reads stay close to
// upstream's float32 ones.
for (const fixture of findFixtures('vggt')) {
  describe(`${fixture.name} in W8A8`, () => {
    const io = openSafetensors(`${fixture.dir}/io.safetensors`);
    const model = VggtModel.load(fixture.dir, { format: W8A8 });
    after(async () => {
      io.close();
      await model.release();
    });
    const cases = io
      .names()
      .filter((n) => n.endsWith('.images'))
      .map((n) => n.slice(0, -'.images'.length));
    for (const name of cases)
      test(`${name}: world points and depth close to upstream float32`, async () => {
        const p = await model.predict(io.read(`${name}.images`));
        for (const [key, got] of [
          ['world_points', p.worldPoints],
          ['depth', p.depth],
        ] as const) {
          const a = toFloat32(got!);
          const b = toFloat32(io.read(`${name}.${key}`));
          const cos = cosine(a, b);
          let abs = 0;
          for (let i = 0; i < b.length; i++) abs = Math.max(abs, Math.abs(a[i] - b[i]));
          report.push(`${`${fixture.name} ${name} W8A8 ${key}`.padEnd(52)} cosine ${cos.toFixed(6)}`);
          assert.ok(cos >= 0.995, `${key}: cosine ${cos}`);
          const fp32 = fp32Error.get(`${fixture.name} ${name} fused ${key}`);
          assert.ok(
            fp32 !== undefined && abs > fp32,
            `${key}: max abs ${abs} not above the float32 run's ${fp32}`,
          );
        }
      });
  });
}
