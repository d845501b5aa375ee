// The user's cache folder for what the program keeps between runs (per-video geometry, prepared model graphs):
// $XDG_CACHE_HOME or ~/.cache, then spatial-mllm/<what>.
import { homedir } from 'node:os';
import { join } from 'node:path';

export const userCacheDir = (what: string): string =>
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'spatial-mllm', what);
