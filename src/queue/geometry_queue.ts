// `spatial-mllm geometry precompute`: VGGT geometry of every video of a dataset, for space-aware sampling, into the
// pipeline's per-video cache (default ~/.cache/spatial-mllm/geometry; XDG_CACHE_HOME moves it), in this process
// or, with --queue, one job per video on any number of workers. The cache is keyed by the video's path, size and
// mtime and the checkpoint folder: workers must see the videos and the checkpoint at the same paths as the later
// `ask`/`eval` runs, and share that cache folder (or be the machines that run them).
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type Job, UnrecoverableError } from 'bullmq';
import { InputError } from '../errors.ts';
import { Progress } from '../eval/runner.ts';
import { openQueue, persistenceWarning } from './connection.ts';
import { enqueue, onInterrupt, waitForJobs } from './follow.ts';
import {
  GEOMETRY_SAMPLINGS,
  type GeometryJob,
  type GeometryJobSettings,
  type GeometrySampling,
  geometryHash,
  jobId,
  modelIdentity,
  sha256,
} from './protocol.ts';

const VIDEO_FILE = /\.(mp4|webm|mov|mkv|avi)$/i;

/** Every video file under `root`, relative to it, sorted. */
export function listVideos(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const path = join(dir, e.name);
      if (e.isDirectory()) return walk(path);
      return VIDEO_FILE.test(e.name) ? [relative(root, path)] : [];
    });
  try {
    if (!statSync(root).isDirectory()) throw new Error('not a folder');
  } catch {
    throw new InputError(`--videos ${root}: not a folder; give the folder holding the dataset's videos`);
  }
  const videos = walk(root).sort();
  if (!videos.length) throw new InputError(`--videos ${root} holds no video files (.mp4, .webm, .mov, .mkv)`);
  return videos;
}

/** The part of the Spatial-MLLM pipeline used here, which the app hands in (the queue knows no pipeline). */
export interface GeometryPipeline {
  precomputeGeometry(video: string, sampling: GeometrySampling): Promise<void>;
  release(): Promise<void>;
}

export type LoadGeometryPipeline = (checkpoint: string) => Promise<GeometryPipeline>;

const checkpointOf = (spec: string) => spec.replace(/^spatial-mllm:/, '');

export interface PrecomputeOptions {
  model: string;
  videos: string;
  sampling: string;
  queue?: string;
  progress: boolean;
}

export async function precomputeGeometry(
  o: PrecomputeOptions,
  loadPipeline: LoadGeometryPipeline,
): Promise<{ videos: number; failed: string[] }> {
  if (!(GEOMETRY_SAMPLINGS as readonly string[]).includes(o.sampling))
    throw new InputError(`--sampling ${o.sampling}: choose one of ${GEOMETRY_SAMPLINGS.join(', ')}`);
  const settings: GeometryJobSettings = {
    model: `spatial-mllm:${checkpointOf(o.model)}`,
    sampling: o.sampling as GeometrySampling,
    videos: resolve(o.videos),
  };
  const videos = listVideos(settings.videos);
  const hash = geometryHash(settings, modelIdentity(settings.model));
  const failed: string[] = [];
  const progress = new Progress(videos.length, 0, o.progress);
  if (!o.queue) {
    const pipeline = await loadPipeline(checkpointOf(settings.model));
    try {
      for (const [i, video] of videos.entries()) {
        try {
          await pipeline.precomputeGeometry(join(settings.videos, video), settings.sampling);
        } catch (e) {
          failed.push(`${video}: ${(e as Error).message}`);
        }
        progress.update(i + 1, failed.length);
      }
    } finally {
      progress.finish();
      await pipeline.release();
    }
    return { videos: videos.length, failed };
  }
  const run = sha256(JSON.stringify([hash, settings])).slice(0, 16);
  const h = await openQueue(o.queue);
  const interrupt = onInterrupt('geometry');
  try {
    const warning = await persistenceWarning(h.redis);
    if (warning) process.stderr.write(`warning: ${warning}\n`);
    const ids: string[] = [];
    for (const video of videos) {
      const id = jobId(run, video);
      ids.push(id);
      await enqueue(h.queue, 'geometry', id, { run, settingsHash: hash, settings, video });
    }
    process.stderr.write(`run ${run}: ${ids.length} videos queued on ${o.queue}\n`);
    let done = 0;
    await waitForJobs(h.queue, ids, {
      what: 'geometry run',
      signal: interrupt.signal,
      tick: () => new Promise((r) => setTimeout(r, 500)),
      onFinished: async ({ job, failed: isFailed }) => {
        if (isFailed) failed.push(`${(job.data as GeometryJob).video}: ${job.failedReason}`);
        else await job.remove();
        progress.update(++done, failed.length);
      },
    });
  } finally {
    progress.finish();
    interrupt.dispose();
    await h.close();
  }
  return { videos: videos.length, failed };
}

/** A worker's side: one pipeline per checkpoint, geometry of one video per job. */
export class GeometryMaker {
  private readonly pipelines = new Map<string, Promise<GeometryPipeline>>();

  constructor(
    private readonly local: { model?: string; videos?: string },
    private readonly loadPipeline?: LoadGeometryPipeline,
  ) {}

  private spec(job: GeometryJob): string {
    return this.local.model ?? job.settings.model;
  }

  hash(job: GeometryJob): string {
    return geometryHash(job.settings, modelIdentity(this.spec(job)));
  }

  async run(job: Job<GeometryJob>): Promise<{ video: string }> {
    const checkpoint = checkpointOf(this.spec(job.data));
    if (!this.loadPipeline) throw new InputError('this build has no Spatial-MLLM pipeline for geometry jobs');
    if (!this.pipelines.has(checkpoint)) this.pipelines.set(checkpoint, this.loadPipeline(checkpoint));
    const pipeline = await this.pipelines.get(checkpoint)!;
    const root = resolve(this.local.videos ?? job.data.settings.videos);
    try {
      await pipeline.precomputeGeometry(join(root, job.data.video), job.data.settings.sampling);
    } catch (e) {
      // a video that cannot be read fails its job for good; a retry would not help
      if (e instanceof InputError) throw new UnrecoverableError(`${job.data.video}: ${e.message}`);
      throw e;
    }
    return { video: job.data.video };
  }

  async close(): Promise<void> {
    for (const p of this.pipelines.values()) await (await p.catch(() => undefined))?.release();
  }
}
