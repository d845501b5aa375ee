// What travels through the queue: one job kind per command (eval: the questions of one video; synth: a range of
// scenes; geometry: one video), each carrying its settings and their hash. A worker recomputes the hash from the
// job's settings, its own model folder and its own code version, and refuses a job whose hash differs: results
// of two different models or program versions never end up in one run.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import type { Benchmark, EvalQuestion, PromptStyle } from '../eval/questions.ts';
import { FRAME_SAMPLINGS, type FrameSampling } from '../frame_options.ts';

/** Bumped when job data or result handling changes meaning: old workers then refuse new jobs. */
export const PROTOCOL = 1;

const packageVersion = (): string =>
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

export const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/** Canonical JSON (sorted keys), so that a hash does not depend on property order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value ?? null);
}

/** The hash of what decides a job's output, with the code that computes it. */
export function settingsHash(kind: JobKind, whatMatters: Record<string, unknown>): string {
  return sha256(canonical({ protocol: PROTOCOL, version: packageVersion(), kind, ...whatMatters })).slice(
    0,
    16,
  );
}

/** Bytes read from each weight file for its fingerprint: the safetensors header and the first tensors. */
const FINGERPRINT_BYTES = 1 << 20;

function headBytes(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(n, statSync(path).size));
    readSync(fd, buf, 0, buf.length, 0);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/**
 * What a `--model` spec means wherever it runs: for a checkpoint folder, a fingerprint of its config and its
 * weight files (names, sizes, first MiB: header and first tensors) rather than its path, which may differ between
 * machines; for the other kinds, the spec itself (an endpoint URL is per machine and left out).
 */
export function modelIdentity(spec: string): string {
  const [kind, ...rest] = spec.split(':');
  const dir = rest.join(':');
  if (kind !== 'spatial-mllm') return spec;
  if (!existsSync(join(dir, 'config.json')))
    throw new InputError(
      `model folder ${dir} (with config.json) not found on this machine: copy the checkpoint here or give its local path with --model spatial-mllm:DIR`,
    );
  const h = createHash('sha256').update(readFileSync(join(dir, 'config.json')));
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith('.safetensors'))
    .sort()) {
    const path = join(dir, name);
    h.update(`${name}\0${statSync(path).size}\0`).update(headBytes(path, FINGERPRINT_BYTES));
  }
  return `spatial-mllm@${h.digest('hex').slice(0, 16)}`;
}

export type JobKind = 'eval' | 'synth' | 'geometry';

interface JobBase {
  /** The run (one enqueuing command) the job belongs to. */
  run: string;
  settingsHash: string;
}

/** How an eval run answers; `endpoint`, `apiKeyEnv` and `videos` are per machine and not hashed. */
export interface EvalJobSettings {
  benchmark: Benchmark;
  subset: string;
  model: string;
  frames: number;
  sampling: FrameSampling;
  prompt: PromptStyle;
  maxTokens: number | null;
  endpoint: string | null;
  apiKeyEnv: string | null;
  /** The enqueuer's video root; a worker may have its own (--videos). */
  videos: string;
}

export const evalHash = (s: EvalJobSettings, identity: string) =>
  settingsHash('eval', {
    benchmark: s.benchmark,
    subset: s.subset,
    model: identity,
    frames: s.frames,
    sampling: s.sampling,
    prompt: s.prompt,
    maxTokens: s.maxTokens,
  });

/** The questions of one video: its geometry (space-aware sampling) and decoded frames serve all of them. */
export interface EvalJob extends JobBase {
  settings: EvalJobSettings;
  /** `<dataset>/<scene>`, relative to the video root (resolved on the worker as the single-process runner does). */
  video: string;
  questions: EvalQuestion[];
}

export interface SynthJobSettings {
  seed: number;
  frames: number;
  fps: number;
  width: number;
  height: number;
  previews: boolean;
  /** The enqueuer's output folder; a worker may write elsewhere (--out) and the files be gathered later. */
  out: string;
}

export const synthHash = (s: SynthJobSettings) =>
  settingsHash('synth', {
    seed: s.seed,
    frames: s.frames,
    fps: s.fps,
    width: s.width,
    height: s.height,
    previews: s.previews,
  });

/** Scenes first … first + count - 1 (a scene depends only on the seed and its index). */
export interface SynthJob extends JobBase {
  settings: SynthJobSettings;
  first: number;
  count: number;
  /** All scenes of the run (for progress lines). */
  scenes: number;
}

/** The sampling variants that need geometry. */
export type GeometrySampling = Exclude<FrameSampling, 'uniform'>;
export const GEOMETRY_SAMPLINGS = FRAME_SAMPLINGS.filter((s): s is GeometrySampling => s !== 'uniform');

export interface GeometryJobSettings {
  model: string;
  sampling: GeometrySampling;
  /** The enqueuer's video root; a worker may have its own (--videos). */
  videos: string;
}

export const geometryHash = (s: GeometryJobSettings, identity: string) =>
  settingsHash('geometry', { model: identity, sampling: s.sampling });

export interface GeometryJob extends JobBase {
  settings: GeometryJobSettings;
  /** Relative to the video root. */
  video: string;
}

export interface JobData {
  eval: EvalJob;
  synth: SynthJob;
  geometry: GeometryJob;
}

/** BullMQ job ids may not contain ':'; a hash of the item keeps them short and stable across reruns. */
export const jobId = (run: string, item: string) => `${run}-${sha256(item).slice(0, 12)}`;
