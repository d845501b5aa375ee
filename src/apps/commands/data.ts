import type { Command } from 'commander';

export function register(program: Command): void {
  const data = program
    .command('data')
    .description('spatial QA data: generate VSI-Bench-style questions, check answers, mix datasets');
  data
    .command('qa')
    .description('generate questions of the VSI-Bench task types from scene metadata')
    .requiredOption(
      '--meta <files...>',
      'scene metadata (VSI-Bench meta_info layout, optionally with frames and floor)',
    )
    .requiredOption('--out <file>', 'output: .json (array) or .jsonl')
    .option('--types <list>', 'comma-separated question types (default: all)')
    .option('--seed <n>', 'random seed', '0')
    .option('--exhaustive', 'every eligible question instead of a per-scene sample')
    .option(
      '--format <layout>',
      'vsi (VSI-Bench question layout) or conversation (Qwen-VL fine-tuning)',
      'vsi',
    )
    .action(async (opts) => {
      const { runQa } = await import('../../data/commands.ts');
      runQa(opts);
    });
  data
    .command('answer')
    .description(
      'recompute the answers of VSI-Bench-template questions from scene metadata and compare with theirs',
    )
    .requiredOption('--meta <files...>', 'scene metadata files')
    .requiredOption('--questions <file>', 'questions in the VSI-Bench layout (.json, .jsonl or .parquet)')
    .option('--out <file>', 'write the answers here (default: JSON Lines on stdout)')
    .action(async (opts) => {
      const { runAnswer } = await import('../../data/commands.ts');
      await runAnswer(opts);
    });
  data
    .command('mix')
    .description(
      'mix generated QA with ScanQA and SQA3D to a recipe (default: the Spatial-MLLM-120k proportions)',
    )
    .requiredOption('--out <file>', 'output conversations (.jsonl or .json)')
    .option('--in <files...>', 'generated questions (VSI layout or conversations)')
    .option('--scanqa <files...>', 'ScanQA_v1.0_<split>.json')
    .option('--sqa3d-questions <file>', 'v1_balanced_questions_<split>_scannetv2.json')
    .option('--sqa3d-annotations <file>', 'v1_balanced_sqa_annotations_<split>_scannetv2.json')
    .option('--recipe <file>', 'JSON {"buckets": [{"name", "weight", "types"}]}')
    .option('--total <n>', 'number of samples (default: the largest the recipe allows)')
    .option(
      '--exclude-scenes <files...>',
      'scenes to leave out: text list, JSON list, or meta_info JSON (its keys)',
    )
    .option('--seed <n>', 'random seed', '0')
    .action(async (opts) => {
      const { runMix } = await import('../../data/commands.ts');
      await runMix(opts);
    });
  data
    .command('synth')
    .description('render synthetic rooms with exact metadata (see `data synth --help`)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { runSynth } = await import('../../data/synth/cli.ts');
      await runSynth(args);
    });
}
