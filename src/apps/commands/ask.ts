import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MAX_NEW_TOKENS, SPATIAL_MLLM_SAMPLING } from '../../models/spatial_mllm/config.ts';
import {
  checkFrameCount,
  DEFAULT_FRAME_COUNT,
  DEFAULT_FRAME_SAMPLING,
  FRAME_SAMPLINGS,
} from '../../pipeline/frame_sampling.ts';
import type { AskCliOptions } from '../ask.ts';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative number`);
  return n;
};

export function register(program: Command): void {
  program
    .command('ask')
    .description('answer a spatial question about a video with a Spatial-MLLM checkpoint')
    .argument('<question>', 'the question (add the options of a multiple-choice question to it)')
    .requiredOption(
      '--model <dir>',
      'Spatial-MLLM checkpoint folder (safetensors, config.json, tokenizer), or `small`: the small model trained on synthetic rooms',
    )
    .requiredOption('--video <path>', 'video file (mp4, webm, mov) or folder of frames')
    .option('--frames <n>', 'frames given to the model', (v) => checkFrameCount(v), DEFAULT_FRAME_COUNT)
    .addOption(
      new Option(
        '--sampling <how>',
        'frame selection (space-aware-depth: the paper variant, VGGT depth + cameras)',
      )
        .choices(FRAME_SAMPLINGS)
        .default(DEFAULT_FRAME_SAMPLING),
    )
    .addOption(
      new Option('--device <device>', 'execution provider').choices(['cpu', 'webgpu', 'cuda']).default('cpu'),
    )
    .addOption(
      new Option(
        '--dtype <dtype>',
        'linear-layer weights: float32, or int4/int8 block-quantized (MatMulNBits; VGGT stays float32)',
      )
        .choices(['float32', 'int4', 'int8'])
        .default('float32'),
    )
    .option('--max-new-tokens <n>', 'generation limit', int('--max-new-tokens'), DEFAULT_MAX_NEW_TOKENS)
    .option(
      '--temperature <t>',
      'sampling temperature (0 = greedy); upstream uses 0.1',
      num('--temperature'),
      SPATIAL_MLLM_SAMPLING.temperature,
    )
    .option(
      '--top-p <p>',
      'nucleus sampling mass; upstream uses 0.001',
      num('--top-p'),
      SPATIAL_MLLM_SAMPLING.topP,
    )
    .option('--top-k <k>', 'keep the k most likely tokens', int('--top-k'))
    .option('--seed <n>', 'sampling seed', int('--seed'), 0)
    .addOption(
      new Option(
        '--suffix <kind>',
        'task instruction appended to the question (mc = option letter, numeric = single word)',
      )
        .choices(['none', 'mc', 'numeric'])
        .default('none'),
    )
    .option('--json', 'print the answer, frames, coverage and timings as JSON')
    .option('--save <dir>', 'write the selected frames (PNG), the point cloud (PLY) and the cameras (JSON)')
    .action(async (question: string, opts: AskCliOptions) => {
      const { runAsk } = await import('../ask.ts');
      await runAsk(question, opts);
    });
}
