// The environment `spatial-mllm` (bin/spatial-mllm.js) runs under: the glibc malloc settings of its shebang line,
// read from the file so that a benchmark child measures what a user's command runs.
import { readFileSync } from 'node:fs';

const BIN = new URL('../../bin/spatial-mllm.js', import.meta.url);

/** The GLIBC_TUNABLES value of the launcher's `#!/usr/bin/env -S GLIBC_TUNABLES=… node` line. */
export const BIN_TUNABLES = /GLIBC_TUNABLES=(\S+)/.exec(readFileSync(BIN, 'utf8').split('\n')[0])?.[1] ?? '';

/** process.env with the launcher's tunables added. */
export const binEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  GLIBC_TUNABLES: [process.env.GLIBC_TUNABLES, BIN_TUNABLES].filter(Boolean).join(':'),
});
