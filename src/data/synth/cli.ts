// `spatial-mllm data synth`: renders N procedural rooms and writes, under --out,
//   synthetic/<scene>.mp4 | .safetensors | .json   one video, its exact maps and cameras, its metadata (write.ts)
//   synthetic/<scene>.png                            with --previews: colour | depth | instances of one frame
//   meta_info.json                                   all scenes in VSI-Bench's meta_info layout (rewritten per scene)
//   qa.json                                          questions of the 8 VSI-Bench task types, exact by construction
// Scenes are independent (scene i depends only on --seed and i), so an interrupted run resumes: complete scenes,
// whose metadata file exists, are read back instead of rendered again.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { readJsonFile } from '../../json.ts';
import { writeRecordsAtomic } from '../jsonl.ts';
import { generateQuestions } from '../qa/generate.ts';
import type { VsiQuestion } from '../qa/types.ts';
import { parseSceneMeta, type SceneMeta, type SceneMetaFile } from '../scene.ts';
import { buildScene, DEFAULT_SYNTH, SYNTH_DATASET, type SynthOptions, sceneName } from './world.ts';
import { writeJson, writeScene } from './write.ts';

export interface SynthRun extends SynthOptions {
  scenes: number;
  out: string;
  seed: number;
  /** Also write a preview PNG per scene (colour | depth | instances). */
  previews?: boolean;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

export interface SynthResult {
  scenes: SceneMetaFile;
  questions: VsiQuestion[];
}

/** Generates (or resumes) a synthetic dataset; see the file comment for the layout. */
export async function synthesize(run: SynthRun): Promise<SynthResult> {
  const log = run.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = join(run.out, SYNTH_DATASET);
  mkdirSync(dir, { recursive: true });
  const scenes: SceneMetaFile = {};
  for (let i = 0; i < run.scenes; i++) {
    const name = sceneName(run.seed, i);
    const file = join(dir, `${name}.json`);
    const started = Date.now();
    let meta: SceneMeta;
    if (existsSync(file)) {
      meta = parseSceneMeta(readJsonFile(file, 'delete it to render the scene again'), file);
      checkMatches(meta, run, file);
      log(`[${i + 1}/${run.scenes}] ${name}: already complete`);
    } else {
      const scene = buildScene(run.seed, i, run);
      const what = `${name} (${scene.room.type}, ${scene.objects.length} objects)`;
      meta = await writeScene(scene, dir, {
        preview: run.previews,
        onFrame: (f) => {
          if (process.stderr.isTTY)
            process.stderr.write(`\r[${i + 1}/${run.scenes}] ${what}: frame ${f + 1}/${run.frames}`);
        },
      });
      if (process.stderr.isTTY) process.stderr.write('\r');
      log(
        `[${i + 1}/${run.scenes}] ${what}: ${run.frames} frames in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    scenes[name] = meta;
    writeJson(join(run.out, 'meta_info.json'), scenes);
  }
  const questions = generateQuestions(scenes, { seed: run.seed });
  writeRecordsAtomic(join(run.out, 'qa.json'), questions);
  const perType = new Map<string, number>();
  for (const q of questions) perType.set(q.question_type, (perType.get(q.question_type) ?? 0) + 1);
  log(
    `${questions.length} questions (${[...perType].map(([t, n]) => `${t} ${n}`).join(', ')}) → ${join(run.out, 'qa.json')}`,
  );
  return { scenes, questions };
}

/** A scene left by an earlier run must have been made with the same frame count and size. */
function checkMatches(meta: SceneMeta, run: SynthRun, file: string): void {
  const frames = meta.frames ?? [];
  const k = frames[0]?.intrinsics;
  if (frames.length !== run.frames || k?.width !== run.width || k?.height !== run.height)
    throw new InputError(
      `${file} was made with other options (${frames.length} frames of ${k?.width}×${k?.height}): ` +
        'use a new --out folder, or the options of the earlier run',
    );
}

/** A scene's depth (4 bytes) and mask (1 byte) per pixel stay in memory until written: at most 500 MB. */
export const MAX_PIXELS_PER_SCENE = 100e6;

function positiveInt(name: string, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < 1 || n > max)
      throw new InputError(`${name} must be an integer in 1..${max}, got "${text}"`);
    return n;
  };
}

/** Entry point of `spatial-mllm data synth` (src/apps/commands/data.ts hands over the arguments). */
export async function runSynth(argv: string[]): Promise<void> {
  const d = DEFAULT_SYNTH;
  const cmd = new Command('spatial-mllm data synth')
    .description('render procedural rooms to videos with exact depth, masks, cameras, metadata and QA')
    .requiredOption('--scenes <n>', 'number of rooms', positiveInt('--scenes', 100000))
    .requiredOption('--out <dir>', 'output folder (an interrupted run resumes there)')
    .option('--seed <n>', 'random seed: the same seed gives byte-identical files', '0')
    .option('--frames <n>', 'frames per video', positiveInt('--frames', 10000), d.frames)
    .option('--fps <n>', 'frame rate of the videos', positiveInt('--fps', 120), d.fps)
    .option('--width <px>', 'frame width (even)', positiveInt('--width', 4096), d.width)
    .option('--height <px>', 'frame height (even)', positiveInt('--height', 4096), d.height)
    .option('--previews', 'also write <scene>.png: colour | depth | instances of its busiest frame')
    .exitOverride()
    .action(async (o: Omit<SynthRun, 'seed'> & { seed: string }) => {
      if (!/^\d+$/.test(o.seed))
        throw new InputError(`--seed must be a non-negative integer, got "${o.seed}"`);
      if (o.width % 2 || o.height % 2)
        throw new InputError('--width and --height must be even (H.264 4:2:0 video)');
      if (o.frames * o.width * o.height > MAX_PIXELS_PER_SCENE)
        throw new InputError(
          `${o.frames} frames of ${o.width}×${o.height} exceed ${MAX_PIXELS_PER_SCENE / 1e6}M pixels per scene, whose ` +
            'depth and masks are held in memory until written: use fewer frames or smaller ones',
        );
      await synthesize({ ...o, seed: Number(o.seed) });
    });
  await cmd.parseAsync(argv, { from: 'user' });
}
