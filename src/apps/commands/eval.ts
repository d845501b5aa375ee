import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { changedRunOptions } from '../../eval/adapter.ts';
import type { EvalCommandOptions } from '../../eval/commands.ts';
import { VSI_SUBSETS } from '../../eval/datasets.ts';
import { QA3D_CONVENTIONS } from '../../eval/qa3d_metrics.ts';
import { BENCHMARKS, PROMPT_STYLES } from '../../eval/questions.ts';
import { parseShard } from '../../eval/runner.ts';
import { CONVENTIONS } from '../../eval/vsibench_metrics.ts';
import { DEFAULT_FRAME_SAMPLING, FRAME_SAMPLINGS } from '../../frame_options.ts';
import {
  choice,
  dtypeOption,
  framesOption,
  integer,
  parsedBy,
  refused,
  spatialResOption,
} from '../options.ts';

const MODEL_HELP =
  'spatial-mllm:CHECKPOINT_DIR | baseline:chance | baseline:frequency | openai:MODEL_NAME (with --endpoint)';

export function register(program: Command): void {
  const evalCmd = program
    .command('eval')
    .description('evaluate on VSI-Bench, ScanQA or SQA3D (resumable, shardable) and score prediction files');

  for (const [benchmark, title, conventions] of [
    ['vsibench', 'VSI-Bench', CONVENTIONS],
    ['scanqa', 'ScanQA val', QA3D_CONVENTIONS],
    ['sqa3d', 'SQA3D test', ['leo']],
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
      .addOption(
        benchmark === 'vsibench'
          ? choice('--subset <name>', 'full or debiased (VSI-Bench-Debiased)', VSI_SUBSETS, 'full')
          : refused('--subset <name>', `${title} has no subsets (debiased is VSI-Bench's); drop --subset.`),
      )
      .option('--out <dir>', 'output folder (default eval_results/<benchmark>-<model>)')
      .addOption(framesOption('frames given to the model per video'))
      .addOption(dtypeOption())
      .addOption(spatialResOption())
      .addOption(
        choice(
          '--sampling <how>',
          'frame selection (our model only)',
          FRAME_SAMPLINGS,
          DEFAULT_FRAME_SAMPLING,
        ),
      )
      .addOption(
        choice('--prompt <style>', 'VSI-Bench prompt (official = lmms-eval)', PROMPT_STYLES, 'official'),
      )
      .addOption(choice('--convention <name>', `scoring convention (default ${conventions[0]})`, conventions))
      .option('--limit <n>', 'only the first n questions', integer(1))
      .option(
        '--shard <i/n>',
        'answer only part i of n (merge the parts with `eval merge`)',
        parsedBy(parseShard),
      )
      .option(
        '--endpoint <url>',
        'openai: base URL of the chat-completions API, e.g. http://127.0.0.1:8000/v1',
      )
      .option('--api-key-env <name>', 'openai: environment variable holding the API key')
      .option('--max-tokens <n>', 'openai: max_tokens of each answer (default 256)', integer(1))
      .option(
        '--queue <url>',
        'enqueue one job per video on this Redis (redis://HOST:PORT/DB) for `spatial-mllm worker` processes, and collect their results',
      )
      .option(
        '--blind',
        'our model: frames replaced by a constant grey image (what it answers from the text alone)',
      )
      .option('--no-progress', 'no progress bar on stderr')
      .action(async (opts: EvalCommandOptions & { queue?: string }) => {
        const { evalBenchmark, evaluateOptions, printOutcome } = await import('../../eval/commands.ts');
        const { evalDeps } = await import('../eval_deps.ts');
        if (!opts.queue) return evalBenchmark(benchmark, opts, evalDeps);
        if (opts.blind) throw new InputError('--blind runs in one process: drop --queue (or --blind)');
        const changed = changedRunOptions(opts);
        if (changed.length)
          throw new InputError(
            `${changed.join(' ')} runs in one process: drop --queue (or ${changed.join(', ')})`,
          );
        const { planRun } = await import('../../eval/runner.ts');
        const { queueEval } = await import('../../queue/eval_queue.ts');
        const plan = await planRun({ ...evaluateOptions(benchmark, opts), model: opts.model });
        printOutcome(await queueEval(plan, { ...opts, queue: opts.queue }), plan.out);
      });

  evalCmd
    .command('merge')
    .description('merge the output folders of sharded runs into one, with its report')
    .argument('<dirs...>', 'the shard output folders')
    .requiredOption('--out <dir>', 'folder for the merged results and report')
    .option('--convention <name>', 'scoring convention (default: the benchmark reference one)')
    .action(async (dirs: string[], opts: { out: string; convention?: string }) => {
      const { evalMerge } = await import('../../eval/commands.ts');
      evalMerge(dirs, opts);
    });

  evalCmd
    .command('compare')
    .description(
      'VSI-Bench: paired difference A − B per task (points, 95% interval) of two runs on the same questions',
    )
    .argument('<a>', 'an eval output folder (or its results.jsonl)')
    .argument('<b>', 'another run on the same questions')
    .action(async (a: string, b: string) => {
      const { evalCompare } = await import('../../eval/commands.ts');
      process.stdout.write(evalCompare(a, b));
    });

  evalCmd
    .command('score')
    .description(
      'score a JSONL of predictions without a model (lines: question_type, prediction, ground_truth, optional options; ScanQA/SQA3D: answers) and print the report',
    )
    .requiredOption('--predictions <file>', 'JSONL file, e.g. the results.jsonl of a run')
    .addOption(choice('--benchmark <name>', 'which benchmark the predictions are of', BENCHMARKS, 'vsibench'))
    .option('--convention <name>', 'scoring convention (default: the benchmark reference one)')
    .option('--model <name>', 'name to print in the report', 'predictions')
    .option('--out <dir>', 'also write report.json, report.md and chart.svg there')
    .option('--json', 'print the JSON report instead of Markdown')
    .action(async (opts: Parameters<typeof import('../../eval/commands.ts').evalScore>[0]) => {
      const { evalScore } = await import('../../eval/commands.ts');
      evalScore(opts);
    });
}
