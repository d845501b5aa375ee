import type { Command } from 'commander';
import { choice } from '../options.ts';

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the whole pipeline on a tiny generated model and clip (no downloads)')
    .option('--out <dir>', 'where the tiny model, clip and outputs go (default: a temp folder)')
    .addOption(
      choice(
        '--sampling <how>',
        'frame selection',
        ['uniform', 'space-aware', 'space-aware-depth'],
        'space-aware',
      ),
    )
    .action(async (opts: { out?: string; sampling: 'uniform' | 'space-aware' | 'space-aware-depth' }) => {
      const { runDemo } = await import('../demo/run.ts');
      await runDemo(opts);
    });
}
