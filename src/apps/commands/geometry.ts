import type { Command } from 'commander';

export function register(program: Command): void {
  const geometry = program.command('geometry').description('VGGT geometry for space-aware sampling');
  geometry
    .command('precompute')
    .description(
      'compute and cache the space-aware sampling geometry of every video under a folder (here, or on workers with --queue)',
    )
    .requiredOption('--model <dir>', 'Spatial-MLLM checkpoint folder (the one `ask`/`eval` will use)')
    .requiredOption(
      '--videos <dir>',
      'folder of the videos (searched recursively: .mp4 .webm .mov .mkv .avi)',
    )
    .option('--sampling <how>', 'space-aware | space-aware-depth', 'space-aware')
    .option('--queue <url>', 'one job per video on this Redis, for `spatial-mllm worker` processes')
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (opts) => {
      const { precomputeGeometry } = await import('../../queue/geometry_queue.ts');
      const { loadGeometryPipeline } = await import('../geometry_deps.ts');
      const { videos, failed } = await precomputeGeometry(opts, loadGeometryPipeline);
      for (const f of failed.slice(0, 20)) process.stderr.write(`failed ${f}\n`);
      process.stdout.write(`geometry of ${videos - failed.length}/${videos} videos cached\n`);
    });
}
