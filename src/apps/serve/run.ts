// `spatial-mllm serve`: loads the models once, starts the HTTP server, stops cleanly on Ctrl-C.

import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import type { SpatialResolution } from '../../models/spatial_mllm/spatial_encoder.ts';
import { userCacheDir } from '../../user_cache.ts';
import { TINY_DESCRIPTION, writeTinySpatialMllm } from '../demo/tiny_model.ts';
import { resolveModelDir, shippedModel } from '../model_name.ts';
import { type WeightDType, weightOptions } from '../options.ts';
import { loadServedModel } from './served_model.ts';
import { buildServer } from './server.ts';

export interface ServeCliOptions {
  model?: string[];
  port: number;
  host: string;
  data?: string;
  concurrency: number;
  queue: number;
  timeout: number;
  maxUploadMb: number;
  reports?: string;
  device: 'cpu' | 'webgpu' | 'cuda';
  dtype: WeightDType;
  spatialRes: SpatialResolution;
  sessionStore: string;
}

export async function runServe(o: ServeCliOptions): Promise<void> {
  const err = (s: string) => process.stderr.write(`${s}\n`);
  const dataDir = o.data ?? userCacheDir('serve');
  let dirs = (o.model ?? []).map(resolveModelDir);
  const small = shippedModel('small');
  if (dirs.length === 0 && small) {
    err(`no --model given: serving the small Spatial-MLLM trained on synthetic rooms (${small})`);
    dirs = [small];
  } else if (dirs.length === 0) {
    const tiny = join(dataDir, 'models', 'tiny-random');
    writeTinySpatialMllm(tiny);
    err(`no --model given: serving ${TINY_DESCRIPTION}`);
    dirs = [tiny];
  }
  const models = dirs.map((dir) =>
    loadServedModel(dir, {
      device: o.device,
      ...weightOptions(o.dtype, o.sessionStore),
      spatialResolution: o.spatialRes,
      cacheDir: join(dataDir, 'geometry'),
      // ONNX Runtime's runs block their thread: off the main one, the server keeps answering (health, 429,
      // disconnects) while a model computes.
      offMainThread: true,
    }),
  );
  const ids = models.map((m) => m.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice)
    throw new InputError(
      `two --model folders are both named ${twice}: the API tells models apart by folder name`,
    );
  const app = await buildServer({
    models,
    dataDir,
    concurrency: o.concurrency,
    maxQueue: o.queue,
    timeoutSeconds: o.timeout,
    maxUploadBytes: o.maxUploadMb * 2 ** 20,
    reportsDir: o.reports,
  });
  let url: string;
  try {
    url = await app.listen({ port: o.port, host: o.host });
  } catch (e) {
    await app.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new InputError(`cannot listen on ${o.host}:${o.port} (${code}): pick another --port or --host`);
    throw e;
  }
  err(
    `serving ${models.map((m) => m.id).join(', ')} at ${url} (web app at /, API at /v1; data in ${dataDir})`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      err('stopping…');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await app.close();
}
