// The `spatial-mllm` command line. Each command group lives in src/apps/commands/<name>.ts and exports
// `register(program)`, declaring its options with the parsers of ./options.ts; this file wires them together and
// holds the one rule for bad input: a one-line message naming the option or file and the fix, no stack trace,
// exit 2 (commander's option errors and our InputError alike). Anything else is a bug and keeps its stack.
import { Command, CommanderError } from 'commander';
import { CommandFailed, InputError } from '../errors.ts';
import { commands } from './commands/index.ts';

export function buildProgram(): Command {
  const program = new Command('spatial-mllm')
    .description('Spatial-MLLM in TypeScript: spatial reasoning over indoor videos on ONNX Runtime')
    .version('0.1.0')
    // Set before the commands are added: subcommands copy these settings when created.
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

/** Exit status for bad input (usage errors, unreadable or invalid files), as most Unix tools use. */
export const BAD_INPUT = 2;

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    // Commander has printed its message (or the help / version, exit code 0).
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : BAD_INPUT;
    if (e instanceof InputError) {
      process.stderr.write(`error: ${e.message}\n`);
      return BAD_INPUT;
    }
    if (e instanceof CommandFailed) {
      process.stderr.write(`error: ${e.message}\n`);
      return e.exitCode;
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
