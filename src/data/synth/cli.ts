// `spatial-mllm data synth`: renders N procedural rooms and writes, under --out,
//   synthetic/<scene>.mp4 | .safetensors | .json   one video, its exact maps and cameras, its metadata (write.ts)
//   synthetic/<scene>.png                            with --previews: colour | depth | instances of one frame
//   meta_info.json                                   all scenes in VSI-Bench's meta_info layout (once all are done)
//   qa.json                                          questions of the 8 VSI-Bench task types, exact by construction
// Scenes are independent (scene i depends only on --seed and i), so an interrupted run resumes: complete scenes,
// whose metadata file exists, are read back instead of rendered again.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import { readJsonFile } from '../../json.ts';
import { writeRecordsAtomic } from '../jsonl.ts';
import { generateQuestions } from '../qa/generate.ts';
import type { VsiQuestion } from '../qa/types.ts';
import { parseSceneMeta, type SceneMeta, type SceneMetaFile } from '../scene.ts';
import { buildScene, SYNTH_DATASET, type SynthOptions, sceneName } from './world.ts';
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
  const scenes: SceneMetaFile = {};
  // meta_info.json is written once, by writeQuestions: rewriting it per scene cost O(scenes²) (27 MB per write at
  // 1,600 scenes), and the per-scene metadata files already make an interrupted run resumable.
  for (let i = 0; i < run.scenes; i++) scenes[sceneName(run.seed, i)] = await synthScene(run, i, log);
  return writeQuestions(run, scenes, log);
}

/** Renders scene `i` into `<out>/synthetic/`, or reads it back if an earlier run completed it. */
export async function synthScene(
  run: Omit<SynthRun, 'log'>,
  i: number,
  log: (line: string) => void,
): Promise<SceneMeta> {
  const dir = join(run.out, SYNTH_DATASET);
  mkdirSync(dir, { recursive: true });
  const name = sceneName(run.seed, i);
  const file = join(dir, `${name}.json`);
  const started = Date.now();
  if (existsSync(file)) {
    const meta = parseSceneMeta(readJsonFile(file, 'delete it to render the scene again'), file);
    checkMatches(meta, run, file);
    log(`[${i + 1}/${run.scenes}] ${name}: already complete`);
    return meta;
  }
  const scene = buildScene(run.seed, i, run);
  const what = `${name} (${scene.room.type}, ${scene.objects.length} objects)`;
  const meta = await writeScene(scene, dir, {
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
  return meta;
}

/** The dataset files over all scenes: meta_info.json and the questions of every task type (qa.json). */
export function writeQuestions(
  run: Pick<SynthRun, 'out' | 'seed'>,
  scenes: SceneMetaFile,
  log: (line: string) => void,
): SynthResult {
  mkdirSync(run.out, { recursive: true });
  writeJson(join(run.out, 'meta_info.json'), scenes);
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
function checkMatches(meta: SceneMeta, run: SynthOptions, file: string): void {
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

/** `data synth` options, as src/apps/commands/data.ts parses them. */
export type SynthCliOptions = Omit<SynthRun, 'log'>;

/** Renders the scenes elsewhere (src/queue/synth_queue.ts, handed in by the app: data knows no queue). */
export type QueuedSynth = (run: SynthRun & { queue: string; scenesPerJob: number }) => Promise<unknown>;

/** Entry point of `spatial-mllm data synth`: the checks that span several options, then the run (here, or as
 * jobs on a queue when --queue is given). */
export async function runSynth(
  o: SynthCliOptions & { queue?: string; scenesPerJob?: number },
  queued?: QueuedSynth,
): Promise<void> {
  if (o.width % 2 || o.height % 2)
    throw new InputError('--width and --height must be even (H.264 4:2:0 video)');
  if (o.frames * o.width * o.height > MAX_PIXELS_PER_SCENE)
    throw new InputError(
      `${o.frames} frames of ${o.width}×${o.height} exceed ${MAX_PIXELS_PER_SCENE / 1e6}M pixels per scene, whose ` +
        'depth and masks are held in memory until written: use fewer frames or smaller ones',
    );
  const { queue, scenesPerJob = 4, ...run } = o;
  if (!queue) await synthesize(run);
  else if (!queued) throw new InputError('--queue is not available in this build');
  else await queued({ ...run, queue, scenesPerJob });
}
