import type { Command } from 'commander';
import type { AnswerOptions, MixCliOptions, QaOptions } from '../../data/commands.ts';
import type { SynthCliOptions } from '../../data/synth/cli.ts';
import { DEFAULT_SYNTH } from '../../data/synth/world.ts';
import { QUESTION_TYPES } from '../../vsibench.ts';
import { choice, integer, listOf } from '../options.ts';

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
    .option('--types <list>', 'comma-separated question types (default: all)', listOf(QUESTION_TYPES))
    .option('--seed <n>', 'random seed', integer(), 0)
    .option('--exhaustive', 'every eligible question instead of a per-scene sample')
    .addOption(
      choice(
        '--format <layout>',
        'vsi (VSI-Bench question layout) or conversation (Qwen-VL fine-tuning)',
        ['vsi', 'conversation'],
        'vsi',
      ),
    )
    .action(async (opts: QaOptions) => {
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
    .action(async (opts: AnswerOptions) => {
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
    .option('--total <n>', 'number of samples (default: the largest the recipe allows)', integer(0))
    .option(
      '--exclude-scenes <files...>',
      'scenes to leave out: text list, JSON list, or meta_info JSON (its keys)',
    )
    .option('--seed <n>', 'random seed', integer(), 0)
    .action(async (opts: MixCliOptions) => {
      const { runMix } = await import('../../data/commands.ts');
      await runMix(opts);
    });
  const d = DEFAULT_SYNTH;
  data
    .command('synth')
    .description('render procedural rooms to videos with exact depth, masks, cameras, metadata and QA')
    .requiredOption('--scenes <n>', 'number of rooms', integer(1, 100000))
    .requiredOption('--out <dir>', 'output folder (an interrupted run resumes there)')
    .option('--seed <n>', 'random seed: the same seed gives byte-identical files', integer(0), 0)
    .option('--frames <n>', 'frames per video', integer(1, 10000), d.frames)
    .option('--fps <n>', 'frame rate of the videos', integer(1, 120), d.fps)
    .option('--width <px>', 'frame width (even)', integer(1, 4096), d.width)
    .option('--height <px>', 'frame height (even)', integer(1, 4096), d.height)
    .option('--previews', 'also write <scene>.png: colour | depth | instances of its busiest frame')
    .option('--queue <url>', 'render on `spatial-mllm worker` processes: scene ranges as jobs on this Redis')
    .option('--scenes-per-job <n>', 'with --queue: scenes per job', integer(1, 100000), 4)
    .action(async (opts: SynthCliOptions & { queue?: string; scenesPerJob: number }) => {
      const { runSynth } = await import('../../data/synth/cli.ts');
      await runSynth(opts, async (run) => (await import('../../queue/synth_queue.ts')).queueSynth(run));
    });
}
