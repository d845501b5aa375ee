// `spatial-mllm weights convert`: a checkpoint folder rewritten in another float dtype holds the cast tensors and
// the same other files, `ask` loads it, sharded folders keep their index, and a rerun resumes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { demoFrames } from '../../src/apps/demo/clip.ts';
import { writeTinySpatialMllm } from '../../src/apps/demo/tiny_model.ts';
import { writeVideo } from '../../src/media/video.ts';
import { tensor } from '../../src/tensor.ts';
import { castTensor, convertCheckpoint, isFloat } from '../../src/weights/convert.ts';
import { openCheckpoint, readSafetensors, writeSafetensors } from '../../src/weights/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'convert-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/apps/cli.ts', ...args], {
    encoding: 'utf8',
    timeout: 300_000,
  });

/** Every tensor of a checkpoint folder (one file or shards). */
function tensorsOf(folder: string) {
  const c = openCheckpoint(folder);
  try {
    return new Map(c.names().map((n) => [n, c.read(n)]));
  } finally {
    c.close();
  }
}

describe('weights convert', () => {
  it('casts every float tensor of a Spatial-MLLM folder, copies the rest, and ask loads the result', async () => {
    const src = join(dir, 'tiny');
    writeTinySpatialMllm(src);
    const video = join(dir, 'clip.mp4');
    await writeVideo(video, demoFrames(6, 112, 84), 5);
    for (const dtype of ['bfloat16', 'float16'] as const) {
      const dst = join(dir, `tiny-${dtype}`);
      const r = cli(['weights', 'convert', src, dst, '--dtype', dtype]);
      assert.equal(r.status, 0, r.stderr);
      const before = tensorsOf(src);
      const after = tensorsOf(dst);
      assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
      for (const [name, t] of before) {
        const want = isFloat(t.dtype) ? castTensor(t, dtype) : t;
        assert.equal(after.get(name)!.dtype, want.dtype, name);
        assert.deepEqual(after.get(name)!.shape, want.shape, name);
        assert.ok(Buffer.from(after.get(name)!.data.buffer).equals(Buffer.from(want.data.buffer)), name);
      }
      for (const f of readdirSync(src).filter((f) => f !== 'model.safetensors' && f !== 'config.json'))
        assert.ok(readFileSync(join(dst, f)).equals(readFileSync(join(src, f))), f);
      const ask = cli([
        'ask',
        'How big is the room?',
        '--model',
        dst,
        '--video',
        video,
        '--frames',
        '2',
        '--max-new-tokens',
        '2',
        '--json',
      ]);
      assert.equal(ask.status, 0, ask.stderr);
      assert.equal(typeof JSON.parse(ask.stdout).answer, 'string');
    }
  });

  it('keeps shards and their index (new total_size), non-float tensors, sets torch_dtype, and resumes', () => {
    const src = join(dir, 'sharded');
    mkdirSync(src, { recursive: true });
    const a = tensor('float32', [2, 3], Float32Array.from([1, 2.5, -3, 1e-3, 65504, 1 / 3]));
    const b = tensor('bfloat16', [2], Uint16Array.from([0x3f80, 0xc000]));
    const ids = tensor('int64', [2], BigInt64Array.from([7n, 9n]));
    writeSafetensors(join(src, 'model-00001-of-00002.safetensors'), { a, ids }, { format: 'pt' });
    writeSafetensors(join(src, 'model-00002-of-00002.safetensors'), { b }, { format: 'pt' });
    const weightMap = {
      a: 'model-00001-of-00002.safetensors',
      ids: 'model-00001-of-00002.safetensors',
      b: 'model-00002-of-00002.safetensors',
    };
    writeFileSync(
      join(src, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: 48 }, weight_map: weightMap }),
    );
    writeFileSync(
      join(src, 'config.json'),
      JSON.stringify({ torch_dtype: 'bfloat16', text_config: { torch_dtype: 'bfloat16' }, hidden_size: 4 }),
    );
    mkdirSync(join(src, 'tokenizer'));
    writeFileSync(join(src, 'tokenizer', 'tokenizer.json'), '{}');

    const dst = join(dir, 'sharded-f16');
    const r = convertCheckpoint(src, dst, 'float16');
    assert.deepEqual(
      r.files.map((f) => [f.file, f.tensors, f.converted, f.skipped]),
      [
        ['model-00001-of-00002.safetensors', 2, 1, false],
        ['model-00002-of-00002.safetensors', 1, 1, false],
      ],
    );
    const out = tensorsOf(dst);
    assert.equal(out.get('a')!.dtype, 'float16');
    assert.deepEqual(out.get('a')!.data, castTensor(a, 'float16').data);
    assert.deepEqual(out.get('b')!.data, castTensor(b, 'float16').data);
    assert.deepEqual(out.get('ids'), ids);
    const index = JSON.parse(readFileSync(join(dst, 'model.safetensors.index.json'), 'utf8'));
    assert.deepEqual(index.weight_map, weightMap);
    assert.equal(index.metadata.total_size, 6 * 2 + 2 * 8 + 2 * 2);
    assert.equal(r.bytesOut, index.metadata.total_size);
    const config = JSON.parse(readFileSync(join(dst, 'config.json'), 'utf8'));
    assert.deepEqual(config, {
      torch_dtype: 'float16',
      text_config: { torch_dtype: 'float16' },
      hidden_size: 4,
    });
    assert.equal(readFileSync(join(dst, 'tokenizer', 'tokenizer.json'), 'utf8'), '{}');

    // Resume: finished shards are kept; a shard left broken is written again.
    const first = join(dst, 'model-00001-of-00002.safetensors');
    const second = join(dst, 'model-00002-of-00002.safetensors');
    const kept = statSync(first).mtimeMs;
    writeFileSync(second, 'half a file');
    const again = convertCheckpoint(src, dst, 'float16');
    assert.deepEqual(
      again.files.map((f) => f.skipped),
      [true, false],
    );
    assert.equal(statSync(first).mtimeMs, kept);
    assert.deepEqual(readSafetensors(second).get('b')!.data, castTensor(b, 'float16').data);
  });
});
