import type { Command } from 'commander';
import { CONVERT_DTYPES, type ConvertDType } from '../../weights/convert.ts';
import { choice } from '../options.ts';

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
  weights
    .command('convert')
    .argument('<src>', 'checkpoint folder (config.json, model.safetensors or shards with their index)')
    .argument('<dst>', 'output folder (an interrupted run resumes there)')
    .addOption(choice('--dtype <dtype>', 'dtype of every float tensor', CONVERT_DTYPES).makeOptionMandatory())
    .description(
      'copy a checkpoint folder with its float tensors in another dtype (int4/int8: use `ask --dtype`, which quantizes at load time)',
    )
    .action(async (src: string, dst: string, opts: { dtype: ConvertDType }) => {
      const { convertCheckpoint } = await import('../../weights/convert.ts');
      const { bytes } = await import('../inspect.ts');
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const r = convertCheckpoint(src, dst, opts.dtype, log);
      log(`${r.files.length} files, ${bytes(r.bytesIn)} → ${bytes(r.bytesOut)} of tensors in ${dst}`);
    });
}
