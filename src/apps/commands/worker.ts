import type { Command } from 'commander';
import { InputError } from '../../errors.ts';

function positiveInt(flag: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < 1) throw new InputError(`${flag} ${text}: give a whole number ≥ 1`);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command('worker')
    .description(
      'answer queued jobs (eval --queue, data synth --queue, geometry precompute --queue); run one per machine or GPU',
    )
    .requiredOption('--queue <url>', 'the Redis the jobs were enqueued on, e.g. redis://10.0.0.1:6379/0')
    .option('--concurrency <n>', 'jobs at a time in this process', positiveInt('--concurrency'), 1)
    .option(
      '--lock-seconds <s>',
      'a job whose worker stops renewing its lock (killed) is handed to another worker after this long',
      positiveInt('--lock-seconds'),
      60,
    )
    .option(
      '--idle-exit <s>',
      'exit once the queue has had nothing waiting or running for this long (batch schedulers)',
      positiveInt('--idle-exit'),
    )
    .option('--model <spec>', "this machine's model (default: the enqueuer's --model, same path)")
    .option('--videos <dir>', "this machine's video root (default: the enqueuer's)")
    .option('--out <dir>', "data synth: this machine's output folder (default: the enqueuer's --out)")
    .option('--endpoint <url>', "openai models: this machine's endpoint (default: the enqueuer's)")
    .action(async (opts) => {
      const { runWorker } = await import('../../queue/worker.ts');
      const { evalDeps } = await import('../eval_deps.ts');
      const { loadGeometryPipeline } = await import('../geometry_deps.ts');
      await runWorker(opts, { eval: evalDeps, geometry: loadGeometryPipeline });
    });
}
