// The small recipe's `vision` stage on a micro run (2 training rooms, 1 evaluation room, 30 steps): the pretraining
// loss falls, a SIGKILLed run resumes to bit-identical weights, log and figures, the checkpoint it writes differs from
// the init one exactly in the ViT, and the SFT stage after it trains on that ViT; the frozen-encoder cache notices
// rewritten ViT weights in the same folder.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { patchify, readProcessorConfig } from '../../src/models/qwen2_5_vl/image_processor.ts';
import { openSpatialMllm } from '../../src/models/spatial_mllm/checkpoint.ts';
import { FrozenEncoders } from '../../src/train/frozen_encoders.ts';
import { Rng } from '../../src/train/rng.ts';
import type { SftExample } from '../../src/train/sft_example.ts';
import { paths, runSmallRecipe } from '../../src/train/small/recipe.ts';
import { isVitBody, visionPaths } from '../../src/train/vision_pretrain.ts';
import { microRecipe } from './vision_stage_micro.ts';

const root = mkdtempSync(join(tmpdir(), 'vision-stage-'));
const base = join(root, 'base');
const ready = runSmallRecipe({ ...microRecipe(base), until: 'init', log: () => {} }, {});

const readLog = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown> & { loss: number });

/** Runs the recipe in a child process up to `until`; kills it once the pretraining log has `killAfter` lines. */
const child = (out: string, until: string, killAfter?: number) =>
  new Promise<number | null>((done, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', 'test/train/vision_child.ts', out, until], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    const log = join(visionPaths(paths(out).vision).pretrain, 'train.jsonl');
    c.stderr.on('data', (d) => {
      err += d;
      if (killAfter && existsSync(log) && readFileSync(log, 'utf8').split('\n').length > killAfter)
        c.kill('SIGKILL');
    });
    c.on('error', reject);
    c.on('close', (code, signal) => (code === 0 || signal ? done(code) : reject(new Error(err))));
  });

test('vision stage: loss falls, SIGKILL + rerun is bit-identical, the checkpoint changes only the ViT, SFT uses it', {
  timeout: 600_000,
}, async (t) => {
  await ready;
  const whole = join(root, 'whole');
  const killed = join(root, 'killed');
  cpSync(base, whole, { recursive: true });
  cpSync(base, killed, { recursive: true });
  assert.equal(await child(whole, 'vision'), 0);
  assert.equal(await child(killed, 'vision', 8), null, 'the first run is killed');
  assert.ok(!existsSync(join(killed, 'vision.done.json')));
  assert.equal(await child(killed, 'vision'), 0);

  const v = (out: string) => visionPaths(paths(out).vision);
  const bytes = (f: string) => readFileSync(f);
  for (const f of ['model/model.safetensors', 'pretrain/state.safetensors', 'probe/state.safetensors'])
    assert.ok(bytes(join(paths(whole).vision, f)).equals(bytes(join(paths(killed).vision, f))), f);
  const strip = (r: Record<string, unknown>) => ({ ...r, seconds: 0 });
  const log = readLog(join(v(whole).pretrain, 'train.jsonl'));
  assert.deepEqual(readLog(join(v(killed).pretrain, 'train.jsonl')).map(strip), log.map(strip));
  const figures = (out: string) => {
    // Everything but the time taken and the folder's own path.
    const { seconds: _, model: __, ...f } = JSON.parse(readFileSync(join(out, 'vision.done.json'), 'utf8'));
    return f;
  };
  assert.deepEqual(figures(killed), figures(whole));
  assert.ok(existsSync(join(v(whole).pretrain, 'train.svg')));

  // The loss falls: mean of the last 5 steps below the first 5.
  const mean = (rs: { loss: number }[]) => rs.reduce((s, r) => s + r.loss, 0) / rs.length;
  const [first, last] = [mean(log.slice(0, 5)), mean(log.slice(-5))];
  t.diagnostic(`pretraining loss ${first.toFixed(3)} → ${last.toFixed(3)}; figures ${figures(whole).table}`);
  assert.equal(log.length, 30);
  assert.ok(last < 0.8 * first, `loss ${first} → ${last}`);
  const f = figures(whole);
  for (const k of ['probe', 'pretrained'] as const)
    for (const m of ['accuracy', 'miou', 'absRel'] as const) assert.ok(Number.isFinite(f[k][m]), `${k}.${m}`);
  assert.equal(f.trainRooms, 2);
  assert.equal(f.evalRooms, 1);

  // Same key names; only the ViT's patch embedding and blocks differ from the init checkpoint.
  const init = openSpatialMllm(paths(whole).init);
  const trained = openSpatialMllm(v(whole).model);
  const same = (a: typeof init, b: typeof init, k: string) =>
    Buffer.from(a.checkpoint.read(k).data.buffer).equals(Buffer.from(b.checkpoint.read(k).data.buffer));
  assert.deepEqual(trained.checkpoint.names().sort(), init.checkpoint.names().sort());
  let changed = 0;
  for (const k of init.checkpoint.names()) {
    if (isVitBody(k)) changed += same(init, trained, k) ? 0 : 1;
    else assert.ok(same(init, trained, k), `${k} must not change`);
  }
  assert.ok(changed > 0, 'the ViT trained');

  // The geometry stage (trained from this checkpoint, tested in geometry.test.ts; its full VGGT training graph takes
  // minutes to compile) stands in as a copy of the vision checkpoint: SFT starts from the geometry stage's model and
  // keeps the (frozen) ViT the vision stage trained.
  cpSync(v(whole).model, join(paths(whole).geometry, 'model'), { recursive: true });
  writeFileSync(join(whole, 'geometry.done.json'), '{}\n');
  assert.equal(await child(whole, 'sft'), 0);
  const settings = JSON.parse(readFileSync(join(paths(whole).sft, 'settings.json'), 'utf8'));
  assert.equal(settings.model, resolve(join(paths(whole).geometry, 'model')));
  const sft = openSpatialMllm(join(paths(whole).sft, 'model'));
  for (const k of trained.checkpoint.names().filter(isVitBody)) assert.ok(same(sft, trained, k), k);
  for (const c of [init, trained, sft]) c.checkpoint.close();
});

test('the encoder cache misses once a checkpoint folder gets other ViT weights', {
  timeout: 120_000,
}, async () => {
  // Runs after the stage test (tests of a file run in order) on its vision checkpoint.
  const whole = join(root, 'whole');
  const dir = join(root, 'rewritten');
  cpSync(paths(whole).init, dir, { recursive: true });
  const rng = new Rng(5);
  const [w, h] = [168, 112];
  const frames = Array.from({ length: 4 }, () => ({
    width: w,
    height: h,
    data: Uint8Array.from({ length: w * h * 3 }, () => rng.int(256)),
  }));
  const example = {
    mediaKey: 'a video',
    grid: [2, h / 14, w / 14],
    media: async () => ({
      pixelValues: patchify(frames, { ...readProcessorConfig(dir), maxPixels: w * h }).pixelValues,
      frames,
    }),
  } as unknown as SftExample;
  const encode = async () => {
    const enc = new FrozenEncoders(openSpatialMllm(dir), { cacheDir: join(root, 'cache'), threads: 1 });
    try {
      return await enc.encode(example);
    } finally {
      await enc.release();
      enc.checkpoint.checkpoint.close();
    }
  };
  const first = await encode();
  assert.equal(first.cached, false);
  assert.equal((await encode()).cached, true);
  copyFileSync(
    join(visionPaths(paths(whole).vision).model, 'model.safetensors'),
    join(dir, 'model.safetensors'),
  );
  const after = await encode();
  assert.equal(after.cached, false, 'new ViT weights, same folder: recomputed');
  assert.ok(!Buffer.from(after.vitHidden.data.buffer).equals(Buffer.from(first.vitHidden.data.buffer)));
});
