// The small-model recipe's cheap stages on a micro run: disjoint train/eval rooms (scene ids and seeds), the
// learned byte-level BPE tokenizer (specials, digit-by-digit numbers, round trip), the small checkpoint loading
// and answering through the same pipeline as `ask` (and blind = the same answer whatever the video), the synth
// folder read by the eval loader as it is, stage skipping on rerun, and the `small` name resolution.
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NAMED_MODELS, resolveModelDir } from '../../src/apps/model_name.ts';
import { InputError } from '../../src/errors.ts';
import { loadVsiBench } from '../../src/eval/datasets.ts';
import { buildPrompt } from '../../src/eval/questions.ts';
import { readProcessorConfig } from '../../src/models/qwen2_5_vl/image_processor.ts';
import { expandVisionPlaceholders, QwenTokenizer } from '../../src/models/qwen2_5_vl/tokenizer.ts';
import { QWEN_VL_SPECIAL_TOKENS } from '../../src/models/qwen2_5_vl/tokenizer_files.ts';
import { SpatialMllm } from '../../src/models/spatial_mllm/model.ts';
import { ask } from '../../src/pipeline/ask.ts';
import { f32 } from '../../src/tensor.ts';
import { writeCheckpointCopy } from '../../src/train/export.ts';
import { parseRecord, readSftRecords } from '../../src/train/sft_data.ts';
import { loadVideoSample } from '../../src/train/sft_example.ts';
import { buildSftTokens } from '../../src/train/sft_labels.ts';
import { SEEDS, sceneSeed, scenesOf } from '../../src/train/small/data.ts';
import { paths, runSmallRecipe } from '../../src/train/small/recipe.ts';
import { isVitBody } from '../../src/train/vision_pretrain.ts';
import { openCheckpoint } from '../../src/weights/safetensors.ts';
import { microRecipe } from './vision_stage_micro.ts';

const out = mkdtempSync(join(tmpdir(), 'small-recipe-'));
const p = paths(out);
const logged: string[] = [];
const micro = { ...microRecipe(out), until: 'init' as const, log: (s: string) => logged.push(s) };
const ready = runSmallRecipe(micro, {});

test('no evaluation room or question reaches a training file', async () => {
  await ready;
  const train = scenesOf(p.sftData);
  const evalScenes = scenesOf(p.evalQuestions);
  assert.ok(train.size === micro.trainScenes && evalScenes.size === micro.evalScenes);
  for (const s of train) assert.equal(sceneSeed(s), SEEDS.train, s);
  for (const s of evalScenes) assert.equal(sceneSeed(s), SEEDS.eval, s);
  assert.deepEqual(
    [...train].filter((s) => evalScenes.has(s)),
    [],
  );
  // The tokenizer's merges were learned from training text only: the init stage reads sft.jsonl alone.
  assert.ok(!readFileSync(p.sftData, 'utf8').includes(`synth_${SEEDS.eval}_`));
});

test('the learned tokenizer: Qwen-VL specials after the vocabulary, numbers digit by digit, exact round trip', async () => {
  await ready;
  const config = JSON.parse(readFileSync(join(p.init, 'config.json'), 'utf8'));
  const tok = QwenTokenizer.load(p.init);
  assert.equal(tok.special.videoPad, config.video_token_id);
  assert.equal(tok.special.imEnd, config.eos_token_id);
  assert.equal(config.vocab_size - QWEN_VL_SPECIAL_TOKENS.length, tok.special.endOfText);
  const record = JSON.parse(readFileSync(p.sftData, 'utf8').split('\n')[0]);
  const text = `${record.conversations[0].value} 1234.5`;
  const ids = tok.encode(text);
  assert.equal(tok.decode(ids), text);
  assert.ok(ids.length < new TextEncoder().encode(text).length, 'merges shorten the training text');
  const digits = tok.encode('1234.5');
  assert.deepEqual(
    digits.map((i) => tok.decode([i])),
    ['1', '2', '3', '4', '.', '5'],
  );
});

test('a training conversation is the evaluation prompt followed by its answer, token for token', async () => {
  await ready;
  // The eval harness asks each question with the chat template; SFT renders each turn alone. A small model is
  // brittle to any difference (a missing newline after `assistant` turned "27.5" into "2.8.8").
  const tok = QwenTokenizer.load(p.init);
  const grid: [number, number, number] = [2, 8, 12];
  const merged = (grid[0] * grid[1] * grid[2]) / 4;
  const questions = await loadVsiBench(p.train);
  const records = readFileSync(p.sftData, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const types = new Set<string>();
  for (const r of records) {
    if (types.has(r.question_type)) continue;
    types.add(r.question_type);
    const q = questions.find((x) => r.id.endsWith(`/${x.id}`) && x.scene === r.scene_name);
    assert.ok(q, r.id);
    const prompt = tok.applyChatTemplate(
      [
        {
          role: 'user',
          content: [{ type: 'video' }, { type: 'text', text: buildPrompt(q, 'spatial-mllm') }],
        },
      ],
      { addGenerationPrompt: true },
    );
    const inference = tok.encode(expandVisionPlaceholders(prompt, { videoGridThw: [grid], mergeSize: 2 }));
    const training = buildSftTokens(r.conversations, (t) => tok.encode(t), [merged]).inputIds;
    assert.deepEqual(training.slice(0, inference.length), inference, r.question_type);
    assert.equal(tok.decode(training.slice(inference.length)), `${q.answers[0]}<|im_end|>\n`);
  }
  assert.ok(types.size >= 8, [...types].join());
});

test('blind copies: every N-th conversation again with grey frames, under its own encoder-cache key', async () => {
  await ready;
  const every = micro.blindEvery;
  assert.ok(every > 0, 'the micro recipe writes blind copies');
  const records = readSftRecords(p.sftData, p.train);
  const seeing = records.filter((r) => !r.blind);
  const blind = records.filter((r) => r.blind);
  assert.deepEqual(
    blind.map((r) => r.id),
    seeing.filter((_, i) => i % every === 0).map((r) => `${r.id}/blind`),
  );
  const processor = readProcessorConfig(p.init);
  const video = {
    baseInterval: 2,
    minFrames: 4,
    maxFrames: 4,
    minPixels: 3136,
    maxPixels: 168 * 112,
    frameFps: 2,
  };
  const r = blind[0];
  const grey = await loadVideoSample(r.videoPath, processor, video, r.where, true);
  const seen = await loadVideoSample(r.videoPath, processor, video, r.where);
  assert.notEqual(grey.mediaKey, seen.mediaKey);
  const frames = (await grey.media()).frames;
  assert.ok(frames.every((f) => f.data.every((v) => v === 128)));
  assert.ok((await seen.media()).frames.some((f) => f.data.some((v) => v !== 128)));
  assert.throws(
    () =>
      parseRecord(
        { ...JSON.parse(readFileSync(p.sftData, 'utf8').split('\n')[0]), blind: 'yes' },
        'x:1',
        p.train,
      ),
    /"blind" must be true or false/,
  );
});

test('the small checkpoint answers through the ask pipeline; blind answers ignore the video', async () => {
  await ready;
  const model = SpatialMllm.load(p.init);
  try {
    const video = (i: number) => join(p.train, 'synthetic', `synth_${SEEDS.train}_000${i}.mp4`);
    const answer = async (v: string, blind: boolean) =>
      ask(model, v, 'How many chairs are in this room?', {
        frames: 4,
        temperature: 0,
        blind,
        maxNewTokens: 4,
      });
    const seen = await answer(video(0), false);
    // The processor's own pixel bounds decide the frame size: 168×112 renders stay 168×112.
    assert.deepEqual([seen.images[0].width, seen.images[0].height], [168, 112]);
    const [a, b] = [await answer(video(0), true), await answer(video(1), true)];
    assert.deepEqual(
      [a.images[0].data.every((x) => x === 128), b.images[0].data.every((x) => x === 128)],
      [true, true],
    );
    assert.equal(a.answer, b.answer);
  } finally {
    await model.release();
  }
});

test('questions about the same video and frames reuse its visual embeddings until the file changes', async () => {
  await ready;
  const model = SpatialMllm.load(p.init);
  try {
    const video = join(out, 'memo.mp4');
    copyFileSync(join(p.train, 'synthetic', `synth_${SEEDS.train}_0000.mp4`), video);
    const embed = model.embedVision.bind(model);
    let computed = 0;
    model.embedVision = (inputs) => {
      computed++;
      return embed(inputs);
    };
    const answer = async (o: { frames?: number; blind?: boolean } = {}) =>
      (
        await ask(model, video, 'How many chairs are in this room?', {
          frames: 4,
          temperature: 0,
          maxNewTokens: 4,
          ...o,
        })
      ).tokenIds;
    const first = await answer();
    assert.deepEqual([await answer(), computed], [first, 1]);
    await answer({ blind: true });
    await answer({ frames: 2 });
    assert.equal(computed, 3, 'blindness and the frame choice are part of the key');
    utimesSync(video, new Date(), new Date(Date.now() + 5000));
    assert.deepEqual([await answer(), computed], [first, 4]);
  } finally {
    await model.release();
  }
});

test('the eval loader reads a data synth folder as it is; a rerun skips finished stages', async () => {
  await ready;
  // The training folder is data synth's output untouched (the eval folder also holds the recipe's test.jsonl).
  const questions = await loadVsiBench(p.train);
  assert.equal(questions.length, JSON.parse(readFileSync(join(p.train, 'qa.json'), 'utf8')).length);
  assert.ok(questions.every((q) => sceneSeed(q.scene) === SEEDS.train));
  const before = statSync(join(p.init, 'model.safetensors')).mtimeMs;
  logged.length = 0;
  await runSmallRecipe(micro, {});
  assert.deepEqual(logged, ['[data] already done', '[init] already done']);
  assert.equal(statSync(join(p.init, 'model.safetensors')).mtimeMs, before);
});

test('--encoders-from: the vision and geometry stages take the ViT and VGGT of a model of the recipe', async () => {
  await ready;
  // A donor: the init checkpoint with every ViT-body and VGGT tensor changed (as if those stages had trained them).
  const base = openCheckpoint(p.init);
  const trained = (n: string) => isVitBody(n) || n.startsWith('spatial_encoder.vggt_model.');
  const shifted = new Map(
    base
      .names()
      .filter(trained)
      .map((n) => [
        n,
        f32(
          base.info(n).shape,
          (base.read(n).data as Float32Array).map((v) => v + 1),
        ),
      ]),
  );
  const donor = join(out, 'donor');
  writeCheckpointCopy(p.init, base, donor, shifted);
  const out2 = mkdtempSync(join(tmpdir(), 'small-recipe-seeded-'));
  cpSync(out, out2, { recursive: true, filter: (src) => !src.startsWith(donor) });
  const seededLog: string[] = [];
  await runSmallRecipe(
    { ...microRecipe(out2), until: 'geometry', encodersFrom: donor, log: (s) => seededLog.push(s) },
    {},
  );
  assert.ok(!seededLog.some((l) => l.startsWith('[vision] decoding')), 'no ViT training ran');
  const seeded = openCheckpoint(join(paths(out2).geometry, 'model'));
  assert.deepEqual(seeded.names().sort(), base.names().sort());
  for (const n of base.names()) {
    const want = shifted.get(n) ?? base.read(n);
    assert.deepEqual(seeded.read(n).data, want.data, n);
  }
  assert.ok(shifted.size > 0 && shifted.size < base.names().length);
  // A donor of other dims is refused by name.
  const first = [...shifted.keys()][0];
  const other = join(out, 'donor-other');
  writeCheckpointCopy(p.init, base, other, new Map([[first, f32([1], [0])]]));
  const out3 = mkdtempSync(join(tmpdir(), 'small-recipe-other-'));
  cpSync(out, out3, { recursive: true, filter: (src) => !src.startsWith(donor) && !src.startsWith(other) });
  await assert.rejects(
    runSmallRecipe({ ...microRecipe(out3), until: 'geometry', encodersFrom: other, log: () => {} }, {}),
    (e) => e instanceof InputError && e.message.includes(first) && /same dims/.test(e.message),
  );
  seeded.close();
  base.close();
});

test('`small` names the committed model folder, and says how to make it when absent', () => {
  assert.equal(resolveModelDir(out), out);
  if (existsSync(join(NAMED_MODELS.small, 'config.json')))
    assert.equal(resolveModelDir('small'), NAMED_MODELS.small);
  else
    assert.throws(
      () => resolveModelDir('small'),
      (e) => e instanceof InputError && /train:small/.test(e.message),
    );
});
