// The `spatial-mllm` command line. Each command group lives in src/apps/commands/<name>.ts and exports
// `register(program)`; this file only wires them together.
import { Command, CommanderError } from 'commander';
import { InputError } from '../errors.ts';
import { commands } from './commands/index.ts';

export function buildProgram(): Command {
  const program = new Command('spatial-mllm')
    .description('Spatial-MLLM in TypeScript: spatial reasoning over indoor videos on ONNX Runtime')
    .version('0.1.0')
    .showHelpAfterError();
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof InputError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

const isEntry = process.argv[1] && /(cli\.ts|spatial-mllm(\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  // `spatial-mllm … | head` closes stdout early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
