// `spatial-mllm ask`: one question about one video, with per-stage progress on stderr.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SpatialMllm } from '../models/spatial_mllm/model.ts';
import type { SpatialResolution } from '../models/spatial_mllm/spatial_encoder.ts';
import { ask, PROMPT_SUFFIXES, type StageEvent } from '../pipeline/ask.ts';
import type { FrameSampling, GeometryMode } from '../pipeline/frame_sampling.ts';
import { saveAnswerArtifacts } from './artifacts.ts';
import { resolveModelDir } from './model_name.ts';
import { type WeightDType, weightOptions } from './options.ts';

/** The options of `spatial-mllm ask` as commander parses them (declared in ./commands/ask.ts). */
export interface AskCliOptions {
  model: string;
  video: string;
  frames: number;
  sampling: FrameSampling;
  geometry?: GeometryMode;
  device: 'cpu' | 'webgpu' | 'cuda';
  dtype: WeightDType;
  spatialRes: SpatialResolution;
  sessionStore: string;
  /** Absent: the model's own default (SpatialMllm.maxNewTokens). */
  maxNewTokens?: number;
  temperature: number;
  topP: number;
  topK?: number;
  seed: number;
  suffix: 'none' | 'mc' | 'numeric';
  json?: boolean;
  save?: string;
}

export function stageLogger(write: (s: string) => void) {
  return (e: StageEvent) => {
    if (e.state === 'start') write(`[${e.stage}] …\n`);
    else write(`[${e.stage}] ${e.seconds!.toFixed(2)} s${e.detail ? ` — ${e.detail}` : ''}\n`);
  };
}

/** Bytes under a folder (0 when absent). */
function folderBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  return n;
}

export async function runAsk(question: string, o: AskCliOptions): Promise<void> {
  const err = (s: string) => process.stderr.write(s);
  const weights = weightOptions(o.dtype, o.sessionStore);
  const store = weights.sessionStore;
  const storedBefore = store ? folderBytes(store) : 0;
  const model = SpatialMllm.load(resolveModelDir(o.model), {
    device: o.device,
    ...weights,
    spatialResolution: o.spatialRes,
  });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const suffix =
      o.suffix === 'mc'
        ? PROMPT_SUFFIXES.multipleChoice
        : o.suffix === 'numeric'
          ? PROMPT_SUFFIXES.numeric
          : undefined;
    const result = await ask(model, o.video, question, {
      frames: o.frames,
      sampling: o.sampling,
      geometryMode: o.geometry,
      maxNewTokens: o.maxNewTokens,
      temperature: o.temperature,
      topP: o.topP,
      topK: o.topK,
      seed: o.seed,
      promptSuffix: suffix,
      signal: abort.signal,
      // One question per process: the encoders' memory is not needed once the features exist.
      releaseEncoders: true,
      onStage: stageLogger(err),
      onToken: o.json ? undefined : (t) => err(t),
    });
    const saved = o.save ? await saveAnswerArtifacts(model, result, o.save) : undefined;
    if (o.json) {
      const { images: _images, ...rest } = result;
      process.stdout.write(`${JSON.stringify({ question, ...rest, saved }, null, 2)}\n`);
    } else {
      err('\n');
      process.stdout.write(`${result.answer}\n`);
      err(`frames: ${result.frames.map((f) => `${f.index}@${f.timestamp.toFixed(2)}s`).join(' ')}\n`);
      if (result.coverage)
        err(`coverage: ${(100 * result.coverage.ratio).toFixed(1)}% of ${result.coverage.total} voxels\n`);
      if (saved)
        err(
          `saved: ${saved.frames.length} frames${saved.pointCloud ? `, ${saved.points} points, cameras` : ''} in ${o.save}\n`,
        );
    }
  } finally {
    process.off('SIGINT', onSigint);
    await model.release();
  }
  const added = store ? folderBytes(store) - storedBefore : 0;
  if (added > 0)
    err(
      `kept ${(added / 1e9).toFixed(1)} GB of quantized graphs in ${store} for the next run (--session-store none: keep nothing)\n`,
    );
}
