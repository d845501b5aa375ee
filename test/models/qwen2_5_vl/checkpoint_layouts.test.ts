// Qwen2.5-VL checkpoints as they come: the nested key names of transformers ≥ 4.52 (`model.language_model.*`,
// `model.visual.*`), sharded with model.safetensors.index.json, and bf16 weights. The fixture checkpoint is
// rewritten in those layouts and must load through the same loader and give the same logits.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkpointKey } from '../../../src/models/qwen2_5_vl/checkpoint.ts';
import { parseQwen25VLConfig } from '../../../src/models/qwen2_5_vl/config.ts';
import { Qwen25VLModel } from '../../../src/models/qwen2_5_vl/model.ts';
import { type HostTensor, toFloat32 } from '../../../src/tensor.ts';
import { castTensor } from '../../../src/weights/convert.ts';
import { openSafetensors, readSafetensors, writeSafetensors } from '../../../src/weights/safetensors.ts';
import { type Fixture, findFixtures } from '../../support/fixtures.ts';

const models: Qwen25VLModel[] = [];
after(async () => {
  for (const m of models) await m.release();
});

/** Logits of the fixture's first prompt without visual input, from the checkpoint in `dir`. */
async function textLogits(fixture: Fixture, dir: string): Promise<Float32Array> {
  const io = openSafetensors(join(fixture.dir, 'io.safetensors'));
  const names = io.names();
  const c = names
    .filter((n) => n.endsWith('.input_ids'))
    .map((n) => n.slice(0, -'.input_ids'.length))
    .find((k) => !names.some((n) => n.startsWith(`${k}.pixel_values`)));
  assert.ok(c, `${fixture.name} has no text-only case`);
  const model = Qwen25VLModel.load(dir);
  models.push(model);
  const ids = Array.from(io.read(`${c}.input_ids`).data as BigInt64Array, Number);
  const out = await model.forward({
    inputIds: ids,
    positionIds: io.read(`${c}.position_ids`),
    allLogits: true,
  });
  return toFloat32(out.logits);
}

/** Writes the fixture's weights in another layout: nested names, two shards with an index, optional dtype. */
function rewrite(fixture: Fixture, dtype?: 'bfloat16' | 'bf16-rounded-float32'): string {
  const dir = mkdtempSync(join(tmpdir(), 'qwen-layout-'));
  const weights = readSafetensors(join(fixture.dir, 'model.safetensors'));
  const names = [...weights.keys()].sort();
  const shards: Map<string, HostTensor>[] = [new Map(), new Map()];
  const weightMap: Record<string, string> = {};
  names.forEach((name, i) => {
    const key = checkpointKey(name, 'nested');
    const w = weights.get(name)!;
    const bf16 = castTensor(w, 'bfloat16');
    const t = dtype === 'bfloat16' ? bf16 : dtype ? castTensor(bf16, 'float32') : w;
    shards[i % 2].set(key, t);
    weightMap[key] = `model-0000${(i % 2) + 1}-of-00002.safetensors`;
  });
  shards.forEach((s, i) => {
    writeSafetensors(join(dir, `model-0000${i + 1}-of-00002.safetensors`), s);
  });
  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  copyFileSync(join(fixture.dir, 'config.json'), join(dir, 'config.json'));
  return dir;
}

for (const fixture of findFixtures('qwen2_5_vl')) {
  test(`${fixture.name}: nested key names in a sharded checkpoint give the same logits as the flat fixture`, async () => {
    const want = await textLogits(fixture, fixture.dir);
    const got = await textLogits(fixture, rewrite(fixture));
    assert.deepEqual(got, want);
  });

  test(`${fixture.name}: bf16 weights are widened exactly: same logits as float32 weights holding the bf16 values`, async () => {
    const want = await textLogits(fixture, rewrite(fixture, 'bf16-rounded-float32'));
    const got = await textLogits(fixture, rewrite(fixture, 'bfloat16'));
    assert.deepEqual(got, want);
  });
}

test('the hub rope_scaling {"type": "mrope"} and the re-serialized {"type": "default"} parse alike', () => {
  const json = (type: string) => ({
    hidden_size: 64,
    num_hidden_layers: 1,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    intermediate_size: 128,
    rms_norm_eps: 1e-6,
    rope_theta: 1e6,
    rope_scaling: { type, mrope_section: [2, 3, 3] },
    vocab_size: 32,
    image_token_id: 1,
    video_token_id: 2,
    vision_start_token_id: 3,
    vision_end_token_id: 4,
    vision_config: {
      depth: 1,
      hidden_size: 64,
      num_heads: 4,
      intermediate_size: 128,
      patch_size: 14,
      temporal_patch_size: 2,
      spatial_merge_size: 2,
      window_size: 56,
      fullatt_block_indexes: [0],
      out_hidden_size: 64,
    },
  });
  assert.deepEqual(parseQwen25VLConfig(json('mrope')).text, parseQwen25VLConfig(json('default')).text);
  assert.throws(() => parseQwen25VLConfig(json('yarn')), /rope_scaling type 'yarn' is not supported/);
  const nested = json('mrope') as Record<string, unknown>;
  const {
    vision_config,
    image_token_id,
    video_token_id,
    vision_start_token_id,
    vision_end_token_id,
    ...text
  } = nested;
  const later = {
    model_type: 'qwen2_5_vl',
    text_config: text,
    vision_config,
    image_token_id,
    video_token_id,
    vision_start_token_id,
    vision_end_token_id,
  };
  assert.deepEqual(parseQwen25VLConfig(later).text, parseQwen25VLConfig(nested).text);
  assert.throws(
    () => parseQwen25VLConfig({ ...nested, num_attention_heads: 'four' }),
    /field 'num_attention_heads'/,
  );
});
