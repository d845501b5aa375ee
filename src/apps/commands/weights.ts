import type { Command } from 'commander';

export function register(program: Command): void {
  const weights = program.command('weights').description('inspect and convert safetensors checkpoints');
  weights
    .command('inspect')
    .argument('<path>', 'a .safetensors file, or a folder with model.safetensors(.index.json)')
    .option('--json', 'print JSON instead of a table')
    .description('list tensor names, dtypes, shapes and the parameter count')
    .action(async (path: string, opts: { json?: boolean }) => {
      const { inspectWeights } = await import('../inspect.ts');
      process.stdout.write(await inspectWeights(path, opts));
    });
}
