// CLI child processes for the tests that run `spatial-mllm` as a process: their stderr kept, their exit awaited.
import { type ChildProcess, spawn } from 'node:child_process';

export interface Child {
  process: ChildProcess;
  stderr: () => string;
  exit: Promise<number | null>;
}

export function cli(args: string[], env?: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/apps/cli.ts', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  return {
    process: child,
    stderr: () => stderr,
    exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
}
