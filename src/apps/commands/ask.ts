import type { Command } from 'commander';
import { DEFAULT_FRAME_SAMPLING, FRAME_SAMPLINGS, GEOMETRY_MODES } from '../../frame_options.ts';
import { DEFAULT_MAX_NEW_TOKENS, SPATIAL_MLLM_SAMPLING } from '../../models/spatial_mllm/config.ts';
import type { AskCliOptions } from '../ask.ts';
import {
  choice,
  dtypeOption,
  framesOption,
  integer,
  number,
  sessionStoreOption,
  spatialResOption,
} from '../options.ts';

export function register(program: Command): void {
  program
    .command('ask')
    .description('answer a spatial question about a video with a Spatial-MLLM checkpoint')
    .argument('<question>', 'the question (add the options of a multiple-choice question to it)')
    .option(
      '--model <dir>',
      'Spatial-MLLM checkpoint folder (safetensors, config.json, tokenizer), or `small`: the small model trained on synthetic rooms',
      'small',
    )
    .requiredOption('--video <path>', 'video file (mp4, webm, mov) or folder of frames')
    .addOption(framesOption('frames given to the model'))
    .addOption(
      choice(
        '--sampling <how>',
        'frame selection (space-aware-depth: the paper variant, VGGT depth + cameras)',
        FRAME_SAMPLINGS,
        DEFAULT_FRAME_SAMPLING,
      ),
    )
    .addOption(
      choice(
        '--geometry <mode>',
        'space-aware candidates: exact = upstream (128 at 518 px in one VGGT call, hours on a CPU), cpu = 32 at 294 px in chunks (minutes); default: cpu on --device cpu, exact otherwise',
        GEOMETRY_MODES,
      ),
    )
    .addOption(choice('--device <device>', 'execution provider', ['cpu', 'webgpu', 'cuda'], 'cpu'))
    .addOption(dtypeOption())
    .addOption(spatialResOption())
    .addOption(sessionStoreOption())
    .option(
      '--max-new-tokens <n>',
      `generation limit (default: the model's generation_config.json max_new_tokens, else ${DEFAULT_MAX_NEW_TOKENS})`,
      integer(0),
    )
    .option(
      '--temperature <t>',
      'sampling temperature (0 = greedy); upstream uses 0.1',
      number(0),
      SPATIAL_MLLM_SAMPLING.temperature,
    )
    .option(
      '--top-p <p>',
      'nucleus sampling mass; upstream uses 0.001',
      number(0, 1),
      SPATIAL_MLLM_SAMPLING.topP,
    )
    .option('--top-k <k>', 'keep the k most likely tokens (0 = all)', integer(0))
    .option('--seed <n>', 'sampling seed', integer(0), 0)
    .addOption(
      choice(
        '--suffix <kind>',
        'task instruction appended to the question (mc = option letter, numeric = single word)',
        ['none', 'mc', 'numeric'],
        'none',
      ),
    )
    .option('--json', 'print the answer, frames, coverage and timings as JSON')
    .option('--save <dir>', 'write the selected frames (PNG), the point cloud (PLY) and the cameras (JSON)')
    .action(async (question: string, opts: AskCliOptions) => {
      const { runAsk } = await import('../ask.ts');
      await runAsk(question, opts);
    });
}
