// `data synth … --queue URL`: scene ranges as jobs. A scene depends only on the seed and its index, so workers
// render ranges anywhere (into their own --out, or the enqueuer's on shared storage) and return the scenes'
// metadata; the enqueuer writes meta_info.json and qa.json from it, the same bytes as a single-process run.
import { resolve } from 'node:path';
import type { Job } from 'bullmq';
import type { SceneMeta, SceneMetaFile } from '../data/scene.ts';
import { type SynthResult, type SynthRun, synthScene, writeQuestions } from '../data/synth/cli.ts';
import { sceneName } from '../data/synth/world.ts';
import { InputError } from '../errors.ts';
import { openQueue, persistenceWarning } from './connection.ts';
import { enqueue, onInterrupt, waitForJobs } from './follow.ts';
import { jobId, type SynthJob, type SynthJobSettings, sha256, synthHash } from './protocol.ts';

export const synthJobHash = (job: SynthJob) => synthHash(job.settings);

/** Worker side: renders (or finds complete) the job's scenes, returning their metadata by scene name. */
export async function synthJob(
  job: Job<SynthJob>,
  out: string | undefined,
  log: (line: string) => void,
): Promise<SceneMetaFile> {
  const { settings: s, first, count, scenes } = job.data;
  const run = { ...s, scenes, out: out ?? s.out };
  const metas: SceneMetaFile = {};
  for (let i = first; i < first + count; i++) metas[sceneName(s.seed, i)] = await synthScene(run, i, log);
  return metas;
}

export async function queueSynth(
  run: SynthRun & { queue: string; scenesPerJob: number },
): Promise<SynthResult | undefined> {
  const log = run.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const settings: SynthJobSettings = {
    seed: run.seed,
    frames: run.frames,
    fps: run.fps,
    width: run.width,
    height: run.height,
    previews: run.previews ?? false,
    out: resolve(run.out),
  };
  const hash = synthHash(settings);
  const id = sha256(JSON.stringify([hash, run.scenes, settings.out])).slice(0, 16);
  const h = await openQueue(run.queue);
  const interrupt = onInterrupt('synthetic scenes');
  const metas = new Map<number, SceneMeta>();
  const failures: string[] = [];
  try {
    const warning = await persistenceWarning(h.redis);
    if (warning) log(`warning: ${warning}`);
    const ids: string[] = [];
    for (let first = 0; first < run.scenes; first += run.scenesPerJob) {
      const job = jobId(id, String(first));
      ids.push(job);
      const count = Math.min(run.scenesPerJob, run.scenes - first);
      await enqueue(h.queue, 'synth', job, {
        run: id,
        settingsHash: hash,
        settings,
        first,
        count,
        scenes: run.scenes,
      });
    }
    log(`run ${id}: ${ids.length} jobs of up to ${run.scenesPerJob} scenes queued on ${run.queue}`);
    const complete = await waitForJobs(h.queue, ids, {
      what: 'synthesis run',
      signal: interrupt.signal,
      tick: () => new Promise((r) => setTimeout(r, 500)),
      onFinished: async ({ job, failed }) => {
        const data = job.data as SynthJob;
        const range = `scenes ${data.first}–${data.first + data.count - 1}`;
        if (failed) {
          failures.push(`${range}: ${job.failedReason}`);
          return;
        }
        const got = job.returnvalue as SceneMetaFile;
        for (let i = data.first; i < data.first + data.count; i++) metas.set(i, got[sceneName(run.seed, i)]);
        log(`${range} done (${metas.size}/${run.scenes} scenes)`);
        await job.remove();
      },
    });
    if (!complete) return undefined;
  } finally {
    interrupt.dispose();
    await h.close();
  }
  if (failures.length)
    throw new InputError(
      `${failures.length} scene ranges failed (${failures.slice(0, 5).join('; ')}); fix the cause and rerun the same command to retry them`,
    );
  const scenes: SceneMetaFile = {};
  for (let i = 0; i < run.scenes; i++) scenes[sceneName(run.seed, i)] = metas.get(i)!;
  return writeQuestions(run, scenes, log);
}
