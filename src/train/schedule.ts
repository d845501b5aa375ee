// Learning-rate schedules as multipliers of each parameter group's base rate, with HF transformers semantics
// (optimization.py: get_constant_schedule_with_warmup, get_linear_schedule_with_warmup,
// get_cosine_schedule_with_warmup with num_cycles 0.5). `step` counts the optimizer steps already taken, so the
// first update uses factor(0): 0 when there is a warmup, as in HF.

export interface Schedule {
  kind: 'constant' | 'linear' | 'cosine';
  /** Linear ramp from 0 over this many steps (default 0). */
  warmupSteps?: number;
  /** Total optimizer steps (needed by linear and cosine decay). */
  totalSteps?: number;
}

/** HF TrainingArguments.get_warmup_steps: ceil(total · ratio). */
export const warmupFromRatio = (totalSteps: number, ratio: number): number => Math.ceil(totalSteps * ratio);

export function lrFactor(s: Schedule, step: number): number {
  const warmup = s.warmupSteps ?? 0;
  if (step < warmup) return step / Math.max(1, warmup);
  if (s.kind === 'constant') return 1;
  if (s.totalSteps === undefined) throw new Error(`a ${s.kind} schedule needs totalSteps`);
  const progress = (step - warmup) / Math.max(1, s.totalSteps - warmup);
  if (s.kind === 'linear') return Math.max(0, 1 - progress);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
