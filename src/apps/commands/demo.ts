import type { Command } from 'commander';
import { FRAME_SAMPLINGS, type FrameSampling } from '../../frame_options.ts';
import { choice } from '../options.ts';

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'ask the small model (a tiny random one where the checkout lacks it) about a synthetic room it never saw (no downloads)',
    )
    .option('--out <dir>', 'where the room, the outputs (and a tiny model) go (default: a temp folder)')
    .addOption(choice('--sampling <how>', 'frame selection', FRAME_SAMPLINGS, 'space-aware'))
    .action(async (opts: { out?: string; sampling: FrameSampling }) => {
      const { runDemo } = await import('../demo/run.ts');
      await runDemo(opts);
    });
}
