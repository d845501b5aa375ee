import { type Command, InvalidArgumentError, Option } from 'commander';
import { dtypeOption, sessionStoreOption, spatialResOption } from '../options.ts';
import type { ServeCliOptions } from '../serve/run.ts';

const int = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
  return n;
};

export function register(program: Command): void {
  program
    .command('serve')
    .description('an OpenAI-compatible HTTP API and a web app showing the space behind each answer')
    .option(
      '--model <dir>',
      "Spatial-MLLM checkpoint folder; repeat to serve several (default: the small model when this checkout has it, else the demo's tiny random model)",
      (v: string, all: string[] | undefined) => [...(all ?? []), v],
    )
    .option('--port <n>', 'TCP port (0 = any free one)', int('--port', 0), 8080)
    .option('--host <addr>', 'address to listen on (0.0.0.0 exposes it to the network)', '127.0.0.1')
    .option('--data <dir>', 'uploads, answers and the geometry cache (default ~/.cache/spatial-mllm/serve)')
    .option('--concurrency <n>', 'generations at once per model', int('--concurrency', 1), 1)
    .option('--queue <n>', 'requests waiting per model before 429', int('--queue', 0), 4)
    .option('--timeout <s>', 'time limit per request, queueing included (seconds)', int('--timeout', 1), 600)
    .option('--max-upload-mb <n>', 'largest upload or data: URL', int('--max-upload-mb', 1), 512)
    .option('--reports <dir>', 'folder of eval outputs whose report.json files the web app shows')
    .addOption(
      new Option('--device <device>', 'execution provider').choices(['cpu', 'webgpu', 'cuda']).default('cpu'),
    )
    .addOption(dtypeOption())
    .addOption(spatialResOption())
    .addOption(sessionStoreOption())
    .action(async (opts: ServeCliOptions) => {
      const { runServe } = await import('../serve/run.ts');
      await runServe(opts);
    });
}
