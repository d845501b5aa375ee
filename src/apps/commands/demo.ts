import type { Command } from 'commander';
import { checkFrameSampling, FRAME_SAMPLINGS, type FrameSampling } from '../../pipeline/frame_sampling.ts';

const FRAME_SAMPLINGS_HELP = FRAME_SAMPLINGS.join(' | ');

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the whole pipeline on a tiny generated model and clip (no downloads)')
    .option('--out <dir>', 'where the tiny model, clip and outputs go (default: a temp folder)')
    .option('--sampling <how>', FRAME_SAMPLINGS_HELP, (v) => checkFrameSampling(v), 'space-aware')
    .action(async (opts: { out?: string; sampling: FrameSampling }) => {
      const { runDemo } = await import('../demo/run.ts');
      await runDemo(opts);
    });
}
