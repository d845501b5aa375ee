// The SFT options an upstream `spatial_mllm_sft_step` fixture was run with (its fixture.json training_args and
// data_args), for the tests that train on it.
import type { SftOptions } from '../../src/train/sft.ts';

export function fixtureSftOptions(meta: any): Pick<SftOptions, 'hyper' | 'video'> {
  const ta = meta.training_args;
  const da = meta.data_args;
  return {
    hyper: {
      lr: ta.learning_rate,
      projectorLr: ta.mm_projector_lr,
      weightDecay: ta.weight_decay,
      betas: [ta.adam_beta1, ta.adam_beta2],
      eps: ta.adam_epsilon,
      schedule: ta.lr_scheduler_type,
      warmupRatio: ta.warmup_ratio,
      maxGradNorm: ta.max_grad_norm,
      gradAccum: ta.gradient_accumulation_steps,
      totalSteps: ta.max_steps,
    },
    video: {
      baseInterval: da.base_interval,
      minFrames: da.video_min_frames,
      maxFrames: da.video_max_frames,
      minPixels: da.video_min_frame_pixels,
      maxPixels: da.video_max_frame_pixels,
      frameFps: da.video_frame_fps ?? undefined,
    },
  };
}
