import type { Command } from 'commander';
import { FRAME_SAMPLINGS, type FrameSampling } from '../../frame_options.ts';
import { choice } from '../options.ts';

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the whole pipeline on a tiny generated model and clip (no downloads)')
    .option('--out <dir>', 'where the tiny model, clip and outputs go (default: a temp folder)')
    .addOption(choice('--sampling <how>', 'frame selection', FRAME_SAMPLINGS, 'space-aware'))
    .action(async (opts: { out?: string; sampling: FrameSampling }) => {
      const { runDemo } = await import('../demo/run.ts');
      await runDemo(opts);
    });
}
