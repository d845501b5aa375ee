import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('report Node, ONNX Runtime, execution providers (and whether each starts), cores and memory')
    .action(async () => {
      const { doctorReport } = await import('../doctor.ts');
      process.stdout.write(await doctorReport());
    });
}
