// The small model committed in models/small (issue "a Spatial-MLLM that really answers"): the v1.1 architecture
// opened by the loader that reads published checkpoints, every tensor checked; a Hugging Face tokenizer with the
// Qwen-VL special tokens; within the 25 MB the repository allows.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NAMED_MODELS } from '../../src/apps/model_name.ts';
import { openSpatialMllm } from '../../src/models/spatial_mllm/checkpoint.ts';

const dir = NAMED_MODELS.small;

test('models/small: a v1.1 Spatial-MLLM checkpoint with a Qwen-VL tokenizer, ≤ 25 MB', () => {
  const bytes = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  assert.ok(bytes <= 25e6, `models/small is ${bytes} bytes`);
  const ckpt = openSpatialMllm(dir);
  assert.equal(ckpt.config.version, 'v1.1');
  const tokenizer = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as {
    added_tokens: { content: string }[];
  };
  const special = new Set(tokenizer.added_tokens.map((t) => t.content));
  for (const t of [
    '<|im_start|>',
    '<|im_end|>',
    '<|vision_start|>',
    '<|vision_end|>',
    '<|video_pad|>',
    '<|image_pad|>',
  ])
    assert.ok(special.has(t), t);
});
