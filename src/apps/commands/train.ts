import { type Command, InvalidArgumentError, Option } from 'commander';
import type { GeometryCliOptions, GrpoCliOptions, SftCliOptions, SmallCliOptions } from '../train.ts';

const num =
  (name: string, min = 0) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${name} must be a number ≥ ${min}`);
    return n;
  };
const int =
  (name: string, min = 0) =>
  (v: string) => {
    const n = num(name, min)(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };

/** Options both trainers take: data, output, LoRA, frames, checkpoints. */
function common(cmd: Command): Command {
  return cmd
    .requiredOption('--model <dir>', 'Spatial-MLLM checkpoint folder to start from')
    .requiredOption(
      '--data <file>',
      'training conversations: JSON Lines (data qa/mix) or an upstream JSON list',
    )
    .requiredOption('--media <dir>', 'folder the records\' "video" paths are relative to')
    .requiredOption(
      '--out <dir>',
      'run folder: state, train.jsonl, train.svg, the trained model; rerun to resume',
    )
    .option(
      '--max-steps <n>',
      'stop after n optimizer steps (also the schedule length)',
      int('--max-steps', 1),
    )
    .option('--epochs <n>', 'passes over the data when --max-steps is not given', num('--epochs', 0), 1)
    .option('--seed <n>', 'data order and LoRA init seed', int('--seed'), 42)
    .option('--save-every <n>', 'write the resumable state every n steps', int('--save-every', 1), 50)
    .option(
      '--eval-data <path>',
      "held-out data scored during training: conversations (answer loss), or a VSI-Bench question file / data synth folder (loss and the eval harness's metrics; SFT)",
    )
    .option('--eval-every <n>', 'score --eval-data every n steps (and at the last)', int('--eval-every', 1))
    .option('--eval-media <dir>', 'videos of a benchmark --eval-data (default its folder, or --media)')
    .option('--eval-limit <n>', 'score only the first n held-out questions', int('--eval-limit', 1))
    .option(
      '--lora-rank <r>',
      'train LoRA adapters on the LLM (connector and merger stay fully trained)',
      int('--lora-rank', 1),
    )
    .option('--lora-alpha <a>', 'LoRA alpha (default 2 × rank)', num('--lora-alpha'))
    .addOption(
      new Option(
        '--frozen-dtype <dtype>',
        'frozen LLM linear weights with LoRA: float32, or block-quantized int4/int8',
      )
        .choices(['float32', 'int4', 'int8'])
        .default('float32'),
    )
    .option('--merge', 'LoRA: also write the merged full model to <out>/model')
    .option(
      '--gradient-checkpointing',
      'recompute each decoder layer in the backward pass instead of keeping its activations (default with --frozen-dtype int4/int8)',
    )
    .option('--no-gradient-checkpointing', 'keep every activation (default without a quantized base)')
    .option(
      '--no-encoder-cache',
      'recompute the frozen ViT / VGGT outputs every time instead of caching them',
    )
    .option(
      '--frames <n>',
      'frames per video (upstream 16: video_min_frames = video_max_frames)',
      int('--frames', 1),
      16,
    )
    .option('--min-frames <n>', 'lower bound of the frame count (default --frames)', int('--min-frames', 1))
    .option('--max-frames <n>', 'upper bound of the frame count (default --frames)', int('--max-frames', 1))
    .option(
      '--base-interval <s>',
      'seconds of video per frame before the bounds (upstream base_interval)',
      num('--base-interval', 0),
      2,
    )
    .option(
      '--min-pixels <n>',
      'smallest frame area after resize (upstream video_min_frame_pixels)',
      int('--min-pixels', 1),
      293216,
    )
    .option(
      '--max-pixels <n>',
      'largest frame area after resize (upstream video_max_frame_pixels)',
      int('--max-pixels', 1),
      324576,
    )
    .option(
      '--frame-fps <n>',
      'nominal fps of the sampled frames for the temporal positions (upstream video_frame_fps)',
      num('--frame-fps', 0),
      4,
    )
    .option('--threads <n>', 'ONNX Runtime intra-op threads', int('--threads', 1));
}

export function register(program: Command): void {
  const train = program
    .command('train')
    .description('fine-tune a Spatial-MLLM checkpoint (SFT, GRPO, VGGT geometry)');
  common(
    train
      .command('sft')
      .description('supervised fine-tuning as upstream (connector + merger + LLM, or LoRA on the LLM)'),
  )
    .option('--lr <lr>', 'LLM learning rate (upstream learning_rate)', num('--lr'), 7e-6)
    .option(
      '--projector-lr <lr>',
      'connector and vision merger rate (upstream mm_projector_lr)',
      num('--projector-lr'),
      2e-5,
    )
    .option('--weight-decay <wd>', 'AdamW weight decay (not on biases)', num('--weight-decay'), 0.1)
    .option('--warmup-ratio <r>', 'warmup steps = ceil(ratio × steps)', num('--warmup-ratio'), 0.03)
    .addOption(
      new Option('--scheduler <kind>', 'rate schedule')
        .choices(['cosine', 'linear', 'constant'])
        .default('cosine'),
    )
    .option('--max-grad-norm <n>', 'global gradient-norm clip (0 = off)', num('--max-grad-norm'), 1)
    .option('--grad-accum <n>', 'micro-batches (of one sample) per optimizer step', int('--grad-accum', 1), 8)
    .action(async (o: SftCliOptions) => {
      const { runSftCommand } = await import('../train.ts');
      await runSftCommand(o);
    });
  train
    .command('geometry')
    .description(
      "train a checkpoint's VGGT (aggregator, camera, depth and point heads) with VGGT's losses on rendered rooms (data synth)",
    )
    .requiredOption('--model <dir>', 'Spatial-MLLM checkpoint folder whose VGGT trains')
    .requiredOption(
      '--data <dir>',
      'data synth folder of the training rooms (video + exact depth and cameras)',
    )
    .requiredOption('--out <dir>', 'run folder: state, train.jsonl, train.svg, model/; rerun to resume')
    .option('--steps <n>', 'optimizer steps (one sequence each)', int('--steps', 1), 400)
    .option('--frames <n>', 'frames per sequence', int('--frames', 2), 8)
    .option('--lr <lr>', 'peak learning rate (cosine with 5 % warmup)', num('--lr'), 1e-3)
    .option('--seed <n>', 'data order seed', int('--seed'), 44)
    .option('--save-every <n>', 'write the resumable state every n steps', int('--save-every', 1), 10)
    .option('--eval-data <dir>', 'data synth folder of held-out rooms: depth, camera and coverage figures')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', int('--threads', 1))
    .action(async (o: GeometryCliOptions) => {
      const { runGeometryCommand } = await import('../train.ts');
      await runGeometryCommand(o);
    });
  train
    .command('small')
    .description(
      'the small Spatial-MLLM recipe on synthetic rooms: data, init, ViT pretraining, geometry, SFT, GRPO, evaluation (resumable; rerun to continue)',
    )
    .option('--out <dir>', 'run folder (stages, checkpoints, curves, eval table)', '.cache/small')
    .option('--train-scenes <n>', 'training rooms (seed 1000)', int('--train-scenes', 1))
    .option('--eval-scenes <n>', 'evaluation rooms (seed 900000)', int('--eval-scenes', 1))
    .option('--vision-steps <n>', 'ViT pretraining steps (and linear probe steps)', int('--vision-steps', 1))
    .option(
      '--geometry-steps <n>',
      'VGGT geometry-stage steps (one 6-frame sequence each)',
      int('--geometry-steps', 1),
    )
    .option('--sft-steps <n>', 'SFT optimizer steps', int('--sft-steps', 1))
    .option('--grpo-steps <n>', 'GRPO optimizer steps', int('--grpo-steps', 1))
    .option(
      '--blind-every <n>',
      'every n-th training conversation also goes in with grey frames (0 = none)',
      int('--blind-every', 0),
    )
    .option(
      '--encoders-from <model>',
      'skip the vision and geometry stages: take the ViT and VGGT from this model of the recipe (small = models/small)',
    )
    .option('--publish <dir>', 'copy the final model here at the end (npm run train:small: models/small)')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', int('--threads', 1))
    .action(async (o: SmallCliOptions) => {
      const { runSmallCommand } = await import('../train.ts');
      await runSmallCommand(o);
    });
  common(
    train
      .command('grpo')
      .description('GRPO with verifiable rewards (format + accuracy per task type), as the paper'),
  )
    .option('--lr <lr>', 'learning rate (the paper: 1e-6)', num('--lr'), 1e-6)
    .option('--projector-lr <lr>', 'connector and vision merger rate (default --lr)', num('--projector-lr'))
    .option('--weight-decay <wd>', 'AdamW weight decay (not on biases)', num('--weight-decay'), 0)
    .option('--max-grad-norm <n>', 'global gradient-norm clip (0 = off)', num('--max-grad-norm'), 1)
    .option('--group-size <g>', 'completions sampled per prompt (G)', int('--group-size', 2), 8)
    .option('--beta <b>', 'KL coefficient to the reference model (k3 estimator)', num('--beta'), 0.04)
    .option('--epsilon <e>', 'clip range of the probability ratio', num('--epsilon'), 0.2)
    .addOption(
      new Option('--loss-norm <how>', 'loss normalisation: per sequence (GRPO), per token, DAPO, Dr. GRPO')
        .choices(['sequence', 'token', 'dapo', 'dr_grpo'])
        .default('sequence'),
    )
    .option('--no-scale-rewards', 'do not divide advantages by the group reward std (implied by dr_grpo)')
    .option(
      '--max-completion-length <n>',
      'tokens sampled per completion at most',
      int('--max-completion-length', 1),
      1024,
    )
    .option('--temperature <t>', 'sampling temperature of the rollouts', num('--temperature'), 1)
    .option('--prompts-per-step <n>', 'prompts per optimizer step', int('--prompts-per-step', 1), 1)
    .action(async (o: GrpoCliOptions) => {
      const { runGrpoCommand } = await import('../train.ts');
      await runGrpoCommand(o);
    });
}
