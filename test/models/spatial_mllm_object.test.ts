// The SpatialMllm model object on every `spatial_mllm` fixture, loaded like a real checkpoint folder: processor
// output → encodeVideo / embedVision (fused video tokens) → generate (greedy tokens and step logits) and stream
// (the same tokens, one by one), against the upstream outputs stored with the fixture.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cosine } from '../../bench/support/compare.ts';
import { weightOptions } from '../../src/apps/options.ts';
import type { RgbImage } from '../../src/media/image.ts';
import { SpatialMllm } from '../../src/models/spatial_mllm/model.ts';
import { type HostTensor, toFloat32 } from '../../src/tensor.ts';
import { openSafetensors, type SafetensorsFile } from '../../src/weights/safetensors.ts';
import { findFixtures, generationStops } from '../support/fixtures.ts';

const ints = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);
function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function frames(t: HostTensor): RgbImage[] {
  const [n, height, width] = t.shape;
  const size = height * width * 3;
  return Array.from({ length: n }, (_, i) => ({
    width,
    height,
    data: (t.data as Uint8Array).slice(i * size, (i + 1) * size),
  }));
}

const fusedKey = (io: SafetensorsFile) =>
  io.names().includes('connector.fused_video_embeds')
    ? 'connector.fused_video_embeds'
    : 'video.fused_video_embeds';
/** Each fixture's float32 fused-embedding error (the first test), which the W8A8 one must exceed. */
const fp32Error = new Map<string, number>();

for (const fx of findFixtures('spatial_mllm')) {
  describe(`${fx.name} SpatialMllm`, () => {
    test('processor → encodeVideo → generate / stream', async () => {
      const io = openSafetensors(join(fx.dir, 'io.safetensors'));
      const prompt = JSON.parse(readFileSync(join(fx.dir, 'io_index.json'), 'utf8')).prompts.video as string;
      const question = prompt.split('<|vision_end|>')[1].split('<|im_end|>')[0];
      const model = SpatialMllm.load(fx.dir);
      try {
        const inputs = model.processor.process(
          [{ role: 'user', content: [{ type: 'video' }, { type: 'text', text: question }] }],
          {
            videos: [
              { frames: frames(io.read('video.frames_uint8')), fps: toFloat32(io.read('video.fps'))[0] },
            ],
          },
          { addGenerationPrompt: true, videoSizing: 'processor' },
        );
        assert.deepEqual(inputs.inputIds, ints(io.read('video.input_ids')));
        const fused = await model.embedVision(inputs);
        const eFused = maxAbs(toFloat32(fused!), toFloat32(io.read(fusedKey(io))));
        assert.ok(eFused <= 2e-4, `fused embeddings off by ${eFused}`);

        const want = ints(io.read('video.generate.new_tokens'));
        const o = {
          maxNewTokens: want.length,
          temperature: 0,
          stopTokens: generationStops(fx.dir),
          visualEmbeds: fused,
        };
        const gen = await model.generate(inputs, { ...o, keepLogits: true });
        assert.deepEqual(gen.tokens, want);
        const stepWant = toFloat32(io.read('video.generate.step_logits'));
        const eStep = maxAbs(
          gen.stepLogits!.flatMap((l) => [...l]),
          stepWant.subarray(0, gen.stepLogits!.length * gen.stepLogits![0].length),
        );
        assert.ok(eStep <= 1e-4, `step logits off by ${eStep}`);
        assert.equal(gen.promptTokens, inputs.inputIds.length);

        const streamed: number[] = [];
        const it = model.stream(inputs, o);
        let r = await it.next();
        while (!r.done) {
          streamed.push(r.value.id);
          r = await it.next();
        }
        assert.deepEqual(streamed, want);
        assert.deepEqual(r.value.tokens, want);
        // A prompt with an image after the video: features in prompt order, the image through Qwen's ViT alone.
        const clip = frames(io.read('video.frames_uint8'));
        const mixed = model.processor.process(
          [
            {
              role: 'user',
              content: [{ type: 'video' }, { type: 'image' }, { type: 'text', text: question }],
            },
          ],
          { videos: [{ frames: clip }], images: [clip[0]] },
          { addGenerationPrompt: true, videoSizing: 'processor' },
        );
        const both = toFloat32((await model.embedVision(mixed))!);
        const video = toFloat32(await model.encodeVideo(mixed.videos[0], mixed.pixelValuesVideos!));
        const image = toFloat32(await model.qwen.encodeVision(mixed.pixelValues!, mixed.imageGridThw[0]));
        assert.deepEqual(both, Float32Array.from([...video, ...image]));

        // Breaking out of the iterator stops generation.
        for await (const t of model.stream(inputs, o)) {
          assert.equal(t.index, 0);
          break;
        }
        fp32Error.set(fx.name, eFused);
      } finally {
        await model.release();
      }
    });

    test('encoders in W8A8 (what --dtype int4/int8 runs): fused embeddings stay close to upstream float32', async () => {
      const io = openSafetensors(join(fx.dir, 'io.safetensors'));
      const model = SpatialMllm.load(fx.dir, { encoders: weightOptions('int4').encoders });
      try {
        const clip = frames(io.read('video.frames_uint8'));
        const inputs = model.processor.process(
          [{ role: 'user', content: [{ type: 'video' }, { type: 'text', text: 'q' }] }],
          { videos: [{ frames: clip, fps: toFloat32(io.read('video.fps'))[0] }] },
          { addGenerationPrompt: true, videoSizing: 'processor' },
        );
        const got = toFloat32(await model.encodeVideo(inputs.videos[0], inputs.pixelValuesVideos!));
        const want = toFloat32(io.read(fusedKey(io)));
        const cos = cosine(got, want);
        console.log(`${fx.name}: W8A8 encoders, fused embeddings cosine ${cos.toFixed(6)}`);
        assert.ok(cos >= 0.995, `cosine ${cos}`);
        // Quantized for real: further from upstream than the float32 run of the test above.
        const e = maxAbs(got, want);
        assert.ok(e > (fp32Error.get(fx.name) ?? 2e-4), `max abs error ${e}`);
      } finally {
        await model.release();
      }
    });
  });
}
