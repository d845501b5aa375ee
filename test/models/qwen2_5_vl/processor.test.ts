// Qwen25VLProcessor: messages + frames → prompt text, input ids, pixel values, grids and M-RoPE positions, against
// every prompt case of the qwen2_5_vl / spatial_mllm fixtures (Qwen2_5_VLProcessor + get_rope_index upstream) and
// the per-message rendering of the SFT fixture (data_qwen.py), whose assistant spans give its label mask.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { RgbImage } from '../../../src/media/image.ts';
import { readImage } from '../../../src/media/image.ts';
import { readQwen25VLConfig, ropeIndexConfig } from '../../../src/models/qwen2_5_vl/config.ts';
import { Qwen25VLProcessor } from '../../../src/models/qwen2_5_vl/processor.ts';
import type { ChatMessage, ContentItem } from '../../../src/models/qwen2_5_vl/tokenizer.ts';
import { type HostTensor, toFloat32 } from '../../../src/tensor.ts';
import { openSafetensors } from '../../../src/weights/safetensors.ts';
import { findFixtures } from '../../support/fixtures.ts';

const ints = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

/** [T, H, W, 3] or [H, W, 3] uint8 → one RgbImage per frame. */
function images(t: HostTensor): RgbImage[] {
  const [height, width] = t.shape.slice(-3, -1);
  const size = height * width * 3;
  return Array.from({ length: t.data.length / size }, (_, i) => ({
    width,
    height,
    data: (t.data as Uint8Array).slice(i * size, (i + 1) * size),
  }));
}

function maxAbs(a: HostTensor, b: HostTensor): number {
  const [x, y] = [toFloat32(a), toFloat32(b)];
  assert.equal(x.length, y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** The user turn of a rendered one-question prompt, as the content items that render to it. */
function userContent(prompt: string): ContentItem[] {
  const user = prompt.split('<|im_start|>user\n')[1].split('<|im_end|>\n<|im_start|>assistant\n')[0];
  const m = /^<\|vision_start\|><\|(image|video)_pad\|><\|vision_end\|>/.exec(user);
  if (!m) return [{ type: 'text', text: user }];
  return [{ type: m[1] as 'image' | 'video' }, { type: 'text', text: user.slice(m[0].length) }];
}

for (const fx of [...findFixtures('qwen2_5_vl'), ...findFixtures('spatial_mllm')]) {
  describe(`${fx.name} Qwen25VLProcessor`, () => {
    const io = openSafetensors(join(fx.dir, 'io.safetensors'));
    const { prompts } = readJson(join(fx.dir, 'io_index.json')) as { prompts: Record<string, string> };
    const config = readQwen25VLConfig(join(fx.dir, 'config.json'));
    const processor = Qwen25VLProcessor.load(fx.dir, ropeIndexConfig(config));
    const has = (n: string) => io.names().includes(n);

    for (const [c, prompt] of Object.entries(prompts))
      test(`${c}: prompt, ids, pixels, grids, positions`, () => {
        const messages: ChatMessage[] = [{ role: 'user', content: userContent(prompt) }];
        const vision = {
          images: has(`${c}.image_uint8`) ? images(io.read(`${c}.image_uint8`)) : [],
          videos: has(`${c}.frames_uint8`)
            ? [{ frames: images(io.read(`${c}.frames_uint8`)), fps: toFloat32(io.read(`${c}.fps`))[0] }]
            : [],
        };
        // The fixtures fed the processor frames already sized (qwen_vl_utils was not run).
        const out = processor.process(messages, vision, {
          addGenerationPrompt: true,
          videoSizing: 'processor',
        });
        assert.equal(out.text, prompt);
        assert.deepEqual(out.inputIds, ints(io.read(`${c}.input_ids`)));
        if (has(`${c}.pixel_values`)) {
          assert.ok(maxAbs(out.pixelValues!, io.read(`${c}.pixel_values`)) <= 1e-6);
          assert.deepEqual(out.imageGridThw.flat(), ints(io.read(`${c}.image_grid_thw`)));
        }
        if (has(`${c}.pixel_values_videos`)) {
          assert.ok(maxAbs(out.pixelValuesVideos!, io.read(`${c}.pixel_values_videos`)) <= 1e-6);
          assert.deepEqual([...out.videos[0].grid], ints(io.read(`${c}.video_grid_thw`)));
          assert.equal(out.videos[0].secondPerGridTs, toFloat32(io.read(`${c}.second_per_grid_ts`))[0]);
          assert.deepEqual(out.videos[0].frames, vision.videos[0].frames);
        }
        if (has(`${c}.position_ids`))
          assert.deepEqual(ints(out.positionIds), ints(io.read(`${c}.position_ids`)));
      });
  });
}

interface SftSample {
  text: string;
  frame_idx: number[];
  fps_used: number;
  label_spans: [number, number][];
}

for (const fx of findFixtures('spatial_mllm_sft_step')) {
  describe(`${fx.name} Qwen25VLProcessor.processTurns (SFT)`, () => {
    const meta = fx.meta as {
      data_args: { video_min_frame_pixels: number; video_max_frame_pixels: number };
      samples: Record<string, SftSample>;
      data: { annotation_path: string; data_path: string };
    };
    const config = readQwen25VLConfig(join(fx.dir, 'config.json'));
    // data_qwen.py gives its processor copy the per-frame pixel limits of the video.
    const processor = Qwen25VLProcessor.load(fx.dir, ropeIndexConfig(config)).withConfig({
      minPixels: meta.data_args.video_min_frame_pixels,
      maxPixels: meta.data_args.video_max_frame_pixels,
    });
    const sft = openSafetensors(join(fx.dir, 'sft.safetensors'));
    const annotations = readJson(join(fx.dir, meta.data.annotation_path)) as {
      id: string;
      video: string;
      conversations: { from: string; value: string }[];
    }[];
    for (const a of annotations)
      test(`${a.id}: ids, positions, pixels and assistant spans = the label mask`, () => {
        const s = meta.samples[a.id];
        const videoDir = join(fx.dir, meta.data.data_path, a.video);
        const names = readJson(join(videoDir, 'video.json')).frames as string[];
        const frames = s.frame_idx.map((i) => readImage(join(videoDir, names[i])));
        // data_qwen.py starts every sample with its fixed system turn, as the stored text shows.
        const system = s.text.split('<|im_start|>system\n')[1].split('<|im_end|>')[0];
        const messages: ChatMessage[] = [
          { role: 'system', content: system },
          ...a.conversations.map((c) => ({
            role: c.from === 'gpt' ? 'assistant' : 'user',
            content: c.value,
          })),
        ];
        const out = processor.processTurns(
          messages,
          { videos: [{ frames, fps: s.fps_used }] },
          { videoSizing: 'processor' },
        );
        const p = `sample.${a.id}`;
        assert.deepEqual(out.inputIds, ints(sft.read(`${p}.input_ids`)));
        assert.equal(processor.tokenizer.decode(out.inputIds), s.text);
        assert.deepEqual(ints(out.positionIds), ints(sft.read(`${p}.position_ids`)));
        assert.ok(maxAbs(out.pixelValuesVideos!, sft.read(`${p}.pixel_values_videos`)) <= 1e-6);
        assert.deepEqual(
          out.turns.map((t) => t.role),
          messages.map((m) => m.role),
        );
        assert.equal(out.turns.at(-1)!.end, out.inputIds.length);
        // Upstream labels: assistant turns minus their first 3 tokens.
        const labels = ints(sft.read(`${p}.labels`));
        const mask = labels.map((l) => l !== -100);
        const fromSpans = out.inputIds.map((_, i) =>
          out.turns.some((t) => t.role === 'assistant' && i >= t.start + 3 && i < t.end),
        );
        assert.deepEqual(fromSpans, mask);
        assert.deepEqual(
          out.turns.filter((t) => t.role === 'assistant').map((t) => [t.start + 3, t.end]),
          s.label_spans,
        );
      });
  });
}
