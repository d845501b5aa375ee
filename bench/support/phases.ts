// Two child processes per benchmark job: one writes the model into a temporary folder ('build'), another loads
// and runs it ('run'), so that the second one's RSS high-water mark is inference alone. A child prints its result
// as one JSON line on stdout; the parent removes the folder even when a child is killed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binEnv } from './bin_env.ts';

export type Phase = 'build' | 'run';
export type PhaseOutcome<T> = { ok: true; result: T } | { ok: false; error: string };

/** Runs `script --child <phase> <job> <dir>` and reads its last stdout line; a kill or timeout becomes an error. */
function spawnPhase<T>(
  script: string,
  phase: Phase,
  job: unknown,
  dir: string,
  timeoutMin: number,
): PhaseOutcome<T> {
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, script, '--child', phase, JSON.stringify(job), dir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: binEnv(), // as the spatial-mllm launcher runs
      encoding: 'utf8',
      timeout: timeoutMin * 60e3,
    },
  );
  const last = r.stdout?.trim().split('\n').pop();
  if (r.status === 0 && last) return JSON.parse(last);
  const how =
    r.error?.message.includes('ETIMEDOUT') || r.signal === 'SIGTERM'
      ? `timed out after ${timeoutMin} min`
      : r.signal === 'SIGKILL'
        ? 'killed (out of memory?)'
        : `exited with ${r.signal ?? r.status}`;
  return { ok: false, error: `${phase} child ${how}` };
}

/** The 'build' then the 'run' child of `script` for one job, in a fresh temporary folder; their results merged. */
export function buildThenRun<B, R>(
  script: string,
  job: unknown,
  opts: { tmpPrefix: string; timeoutMin: number },
): PhaseOutcome<B & R> {
  const dir = mkdtempSync(join(tmpdir(), opts.tmpPrefix));
  try {
    const built = spawnPhase<B>(script, 'build', job, dir, opts.timeoutMin);
    if (!built.ok) return built;
    const ran = spawnPhase<R>(script, 'run', job, dir, opts.timeoutMin);
    if (!ran.ok) return ran;
    return { ok: true, result: { ...built.result, ...ran.result } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The child side: `argv` = [phase, job JSON, dir]; prints the outcome (first line of an error) as JSON. */
export async function childPhase<J>(
  argv: string[],
  phases: Record<Phase, (job: J, dir: string) => unknown>,
): Promise<void> {
  const [phase, jobJson, dir] = argv as [Phase, string, string];
  let outcome: PhaseOutcome<unknown>;
  try {
    outcome = { ok: true, result: await phases[phase](JSON.parse(jobJson) as J, dir) };
  } catch (e) {
    outcome = { ok: false, error: (e as Error).message.split('\n')[0] };
  }
  console.log(JSON.stringify(outcome));
}
