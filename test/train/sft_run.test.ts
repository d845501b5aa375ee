// `spatial-mllm train sft` end to end on a tiny checkpoint: it learns a toy spatial task, a SIGKILLed run resumes
// to bit-identical weights, and bad data is refused with the file and line before anything is written.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { main } from '../../src/apps/cli.ts';
import { InputError } from '../../src/errors.ts';
import { openSpatialMllm } from '../../src/models/spatial_mllm/checkpoint.ts';
import { loadPeft } from '../../src/train/lora.ts';
import { UPSTREAM_SFT } from '../../src/train/sft.ts';
import { runSft, type SftRunOptions } from '../../src/train/sft_run.ts';
import { runCli, tinyModels, toyArgs, writeToyData } from './sft_toy.ts';

const models = tinyModels();
const VIDEO = { baseInterval: 2, minFrames: 4, maxFrames: 4, minPixels: 3136, maxPixels: 3136, frameFps: 4 };
/** One epoch on the toy data at learning rate `lr` (LLM and projector), no warm-up, 2 steps of gradient
 * accumulation, one thread, quiet; the caller sets steps, saving and the rest. */
const toyRun = (model: string, data: string, media: string, out: string, lr: number): SftRunOptions => ({
  model,
  data,
  media,
  out,
  hyper: { ...UPSTREAM_SFT, lr, projectorLr: lr, warmupRatio: 0, gradAccum: 2 },
  video: VIDEO,
  epochs: 1,
  seed: 0,
  saveEvery: 1,
  threads: 1,
  log: () => {},
});
const readLog = (dir: string) =>
  readFileSync(join(dir, 'train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

for (const { dir: model, name } of models.slice(0, 1))
  describe(`train sft (${name})`, () => {
    test('toy spatial task: training loss falls ≥ 5×, held-out loss with it; epoch 2 hits the encoder cache', {
      timeout: 300_000,
    }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'sft-toy-'));
      const { data, media } = writeToyData(dir, 6);
      const held = writeToyData(join(dir, 'held'), 2);
      const out = join(dir, 'run');
      const s = await runSft({
        ...toyRun(model, data, media, out, 3e-3),
        maxSteps: 24,
        saveEvery: 24,
        evalData: held.data,
        evalEvery: 24,
      });
      const log = readLog(out);
      const first = (log[0].loss + log[1].loss) / 2;
      const last = (log[22].loss + log[23].loss) / 2;
      const before = log[0].eval_loss;
      t.diagnostic(
        `loss ${first.toFixed(3)} → ${last.toFixed(3)} (×${(first / last).toFixed(1)}); held-out ${s.evalLoss?.toFixed(3)}`,
      );
      assert.equal(s.steps, 24);
      assert.ok(first / last >= 5, `loss ${first} → ${last}`);
      assert.equal(before, undefined);
      assert.ok(s.evalLoss! < first / 5, `held-out loss ${s.evalLoss}`);
      assert.ok(existsSync(join(out, 'train.svg')) && existsSync(join(out, 'model', 'model.safetensors')));
      assert.ok(log.every((r) => r.step >= 1 && Number.isFinite(r.grad_norm)));
      // Epoch 2 of the same records reads the frozen encoders from the cache.
      assert.ok(log.slice(3).every((r) => r.encoder_cache_hits === 2));
    });

    test('encoderLanes 2 fills the encoder cache before step 1 with the outputs inline encoding writes', {
      timeout: 300_000,
    }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sft-lanes-'));
      const { data, media } = writeToyData(dir, 4);
      const run = (out: string, encoderLanes?: number) =>
        runSft({
          ...toyRun(model, data, media, join(dir, out), 1e-3),
          maxSteps: 3,
          saveEvery: 3,
          encoderLanes,
        });
      await run('lanes', 2);
      await run('inline');
      const [lanes, inline] = [readLog(join(dir, 'lanes')), readLog(join(dir, 'inline'))];
      assert.ok(lanes.every((r) => r.encoder_cache_hits === 2));
      assert.equal(inline[0].encoder_cache_hits, 0);
      assert.deepEqual(
        lanes.map((r) => r.loss),
        inline.map((r) => r.loss),
      );
      const files = (out: string) => readdirSync(join(dir, out, 'encoder_cache')).sort();
      assert.deepEqual(files('lanes'), files('inline'));
      assert.equal(files('lanes').length, 4);
      for (const f of files('lanes'))
        assert.ok(
          readFileSync(join(dir, 'lanes', 'encoder_cache', f)).equals(
            readFileSync(join(dir, 'inline', 'encoder_cache', f)),
          ),
          f,
        );
    });

    test('SIGKILL then rerun resumes to bit-identical weights and log', { timeout: 300_000 }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sft-resume-'));
      const { data, media } = writeToyData(dir, 4);
      const args = (out: string) => [
        ...toyArgs(model, data, media, out),
        ...['--max-steps', '6', '--save-every', '1', '--grad-accum', '2', '--lr', '1e-3', '--seed', '3'],
      ];
      const run = (out: string, killAfter?: number) => runCli(args(out), out, killAfter);
      const whole = join(dir, 'whole');
      const killed = join(dir, 'killed');
      assert.equal(await run(whole), 0);
      assert.equal(await run(killed, 3), null, 'the first run is killed');
      assert.ok(!existsSync(join(killed, 'model')));
      assert.equal(await run(killed), 0);
      const bytes = (d: string, f: string) => readFileSync(join(d, f));
      assert.ok(bytes(whole, 'model/model.safetensors').equals(bytes(killed, 'model/model.safetensors')));
      assert.ok(bytes(whole, 'state.safetensors').equals(bytes(killed, 'state.safetensors')));
      const strip = (r: Record<string, unknown>) => ({ ...r, seconds: 0, encoder_cache_hits: 0 });
      assert.deepEqual(readLog(killed).map(strip), readLog(whole).map(strip));
    });

    test('LoRA on an int4 frozen LLM: PEFT adapter with the connector and merger, --merge writes a loadable model', {
      timeout: 300_000,
    }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sft-lora-'));
      const { data, media } = writeToyData(dir, 2);
      const out = join(dir, 'run');
      const s = await runSft({
        ...toyRun(model, data, media, out, 1e-3),
        maxSteps: 2,
        saveEvery: 2,
        lora: { rank: 4 },
        frozenQuant: 'int4',
        merge: true,
      });
      const { config, adapters, saved } = loadPeft(s.exported.adapter!);
      const layers = openSpatialMllm(model).config.qwen.text.numLayers;
      assert.equal(config.r, 4);
      assert.equal(adapters.size, 2 * 7 * layers, 'A and B on q, k, v, o, gate, up, down of every layer');
      assert.ok([...adapters.values()].some((t) => (t.data as Float32Array).some((v) => v !== 0)));
      assert.ok(saved.has('connector.mlp.0.weight') && saved.has('visual.merger.mlp.2.bias'));
      const merged = openSpatialMllm(s.exported.model!);
      const base = openSpatialMllm(model);
      const differs = (k: string) =>
        !Buffer.from(merged.checkpoint.read(k).data.buffer).equals(
          Buffer.from(base.checkpoint.read(k).data.buffer),
        );
      assert.ok(differs('model.layers.0.self_attn.q_proj.weight'), 'adapters merged into the targets');
      assert.ok(differs('connector.mlp.0.weight'), 'the connector trained');
      assert.ok(
        !differs('model.embed_tokens.weight') && !differs('model.layers.0.self_attn.q_proj.bias'),
        'the rest is the base',
      );
      merged.checkpoint.close();
      base.checkpoint.close();
    });

    test('--gradient-checkpointing is a setting of the run: recorded, kept by a rerun without it, refused when changed', {
      timeout: 300_000,
    }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sft-ckpt-'));
      const { data, media } = writeToyData(dir, 2);
      const out = join(dir, 'run');
      const o = { ...toyRun(model, data, media, out, 1e-3), maxSteps: 1 };
      await runSft({ ...o, gradientCheckpointing: true });
      const settings = JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8'));
      assert.equal(
        settings.gradientCheckpointing,
        true,
        'recorded (the default here would be off: no quantized base)',
      );
      const again = await runSft(o);
      assert.equal(again.resumedFrom, 1, 'a rerun without the option resumes with the recorded setting');
      await assert.rejects(runSft({ ...o, gradientCheckpointing: false }), /other settings/);
      // A run started before the setting was recorded still resumes.
      const { gradientCheckpointing: _, ...legacy } = settings;
      writeFileSync(join(out, 'settings.json'), `${JSON.stringify(legacy, null, 2)}\n`);
      assert.equal((await runSft({ ...o, gradientCheckpointing: true })).resumedFrom, 1);
    });

    test('bad data: missing video, malformed line, no answer turn → file:line error, nothing written', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sft-bad-'));
      const { data, media } = writeToyData(dir, 2);
      const good = readFileSync(data, 'utf8').trim().split('\n');
      const cases: [string, string, RegExp][] = [
        [
          'missing video',
          good[1].replace('"room1"', '"nowhere"').replace('"room1"', '"nowhere"'),
          /:2: video .*nowhere not found/,
        ],
        ['malformed line', '{"video": "room1", "conversations": [', /:2: malformed line/],
        [
          'no answer turn',
          JSON.stringify({ video: 'room1', conversations: [{ from: 'human', value: '<video>\nQ?' }] }),
          /:2: no assistant/,
        ],
      ];
      for (const [name, line, message] of cases) {
        const file = join(dir, `${name.replace(/ /g, '_')}.jsonl`);
        writeFileSync(file, `${good[0]}\n${line}\n`);
        const out = join(dir, `out_${name.replace(/ /g, '_')}`);
        await assert.rejects(
          runSft({
            model,
            data: file,
            media,
            out,
            hyper: UPSTREAM_SFT,
            video: VIDEO,
            epochs: 1,
            seed: 0,
            saveEvery: 1,
          }),
          (e: Error) => e instanceof InputError && message.test(e.message) && e.message.includes(file),
          name,
        );
        assert.ok(!existsSync(out), `${name}: nothing written`);
      }
      // The CLI turns it into one line on stderr and exit code 2.
      const write = process.stderr.write;
      let said = '';
      process.stderr.write = ((s: string) => {
        said += s;
        return true;
      }) as typeof process.stderr.write;
      try {
        const file = join(dir, 'malformed_line.jsonl');
        assert.equal(await main(toyArgs(model, file, media, join(dir, 'cli_out'))), 2);
      } finally {
        process.stderr.write = write;
      }
      assert.match(said, /^error: .*malformed_line\.jsonl:2: malformed line/);
    });
  });
