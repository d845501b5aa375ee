import type { Command } from 'commander';
import {
  DEFAULT_FRAME_COUNT,
  DEFAULT_FRAME_SAMPLING,
  FRAME_SAMPLINGS,
} from '../../pipeline/frame_sampling.ts';

const MODEL_HELP =
  'spatial-mllm:CHECKPOINT_DIR | baseline:chance | baseline:frequency | openai:MODEL_NAME (with --endpoint)';

export function register(program: Command): void {
  const evalCmd = program
    .command('eval')
    .description('evaluate on VSI-Bench, ScanQA or SQA3D (resumable, shardable) and score prediction files');

  for (const [benchmark, title, conventions] of [
    ['vsibench', 'VSI-Bench', 'official (default) | spatial-mllm'],
    ['scanqa', 'ScanQA val', 'video-3d-llm (default, = Spatial-MLLM) | leo'],
    ['sqa3d', 'SQA3D test', 'leo'],
  ] as const)
    evalCmd
      .command(benchmark)
      .description(`answer every ${title} question with a model and write results.jsonl and a report`)
      .requiredOption('--model <spec>', MODEL_HELP)
      .requiredOption('--data <dir>', 'the benchmark folder (or its question file)')
      .option(
        '--videos <dir>',
        'root of the videos if not --data (<dataset>/<scene>.mp4 or a folder of frames)',
      )
      .option('--subset <name>', 'VSI-Bench: full | debiased', 'full')
      .option('--out <dir>', 'output folder (default eval_results/<benchmark>-<model>)')
      .option('--frames <n>', 'frames given to the model per video', String(DEFAULT_FRAME_COUNT))
      .option('--sampling <how>', `${FRAME_SAMPLINGS.join(' | ')} (our model only)`, DEFAULT_FRAME_SAMPLING)
      .option('--prompt <style>', 'VSI-Bench prompt: official (lmms-eval) | spatial-mllm', 'official')
      .option('--convention <name>', `scoring: ${conventions}`)
      .option('--limit <n>', 'only the first n questions')
      .option('--shard <i/n>', 'answer only part i of n (merge the parts with `eval merge`)')
      .option(
        '--endpoint <url>',
        'openai: base URL of the chat-completions API, e.g. http://127.0.0.1:8000/v1',
      )
      .option('--api-key-env <name>', 'openai: environment variable holding the API key')
      .option('--max-tokens <n>', 'openai: max_tokens of each answer (default 256)')
      .option(
        '--blind',
        'our model: frames replaced by a constant grey image (what it answers from the text alone)',
      )
      .option('--no-progress', 'no progress bar on stderr')
      .action(async (opts) => {
        const { evalBenchmark } = await import('../../eval/commands.ts');
        const { evalDeps } = await import('../eval_deps.ts');
        await evalBenchmark(benchmark, opts, evalDeps);
      });

  evalCmd
    .command('merge')
    .description('merge the output folders of sharded runs into one, with its report')
    .argument('<dirs...>', 'the shard output folders')
    .requiredOption('--out <dir>', 'folder for the merged results and report')
    .option('--convention <name>', 'scoring convention (default: the benchmark reference one)')
    .action(async (dirs: string[], opts) => {
      const { evalMerge } = await import('../../eval/commands.ts');
      evalMerge(dirs, opts);
    });

  evalCmd
    .command('score')
    .description(
      'score a JSONL of predictions without a model (lines: question_type, prediction, ground_truth, optional options; ScanQA/SQA3D: answers) and print the report',
    )
    .requiredOption('--predictions <file>', 'JSONL file, e.g. the results.jsonl of a run')
    .option('--benchmark <name>', 'vsibench | scanqa | sqa3d', 'vsibench')
    .option('--convention <name>', 'scoring convention (default: the benchmark reference one)')
    .option('--model <name>', 'name to print in the report', 'predictions')
    .option('--out <dir>', 'also write report.json, report.md and chart.svg there')
    .option('--json', 'print the JSON report instead of Markdown')
    .action(async (opts) => {
      const { evalScore } = await import('../../eval/commands.ts');
      evalScore(opts);
    });
}
