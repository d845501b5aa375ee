// Dataset mixing: drop excluded scenes (e.g. VSI-Bench's, so training never sees benchmark rooms), drop duplicate
// questions, then draw from each bucket of question types its share of the total. The default recipe is the
// Spatial-MLLM-120k mix (paper §4.1): ScanQA ≈21%, SQA3D ≈21%, and the generated spatial QA (≈58%) split as
// relative direction ≈32%, relative + absolute distance ≈31%, appearance order ≈16%, room + object size ≈16%,
// counting ≈5.5% of it. Weights are relative (normalized here).
import { z } from 'zod';
import { InputError } from '../../errors.ts';
import { REL_DIRECTION_TYPES } from '../../vsibench.ts';
import type { Conversation } from '../qa/types.ts';
import { Rng } from '../rng.ts';

export interface Bucket {
  name: string;
  weight: number;
  /** question_type values that fall in this bucket. */
  types: string[];
}

export interface Recipe {
  buckets: Bucket[];
}

const SPATIAL = 58 / 100.5; // the generated share, spread over the five groups whose percentages sum to 100.5
export const SPATIAL_MLLM_120K: Recipe = {
  buckets: [
    { name: 'scanqa', weight: 21, types: ['scanqa'] },
    { name: 'sqa3d', weight: 21, types: ['sqa3d'] },
    {
      name: 'relative_direction',
      weight: 32 * SPATIAL,
      types: [...REL_DIRECTION_TYPES],
    },
    { name: 'distance', weight: 31 * SPATIAL, types: ['object_rel_distance', 'object_abs_distance'] },
    { name: 'appearance_order', weight: 16 * SPATIAL, types: ['obj_appearance_order'] },
    { name: 'size', weight: 16 * SPATIAL, types: ['room_size_estimation', 'object_size_estimation'] },
    { name: 'counting', weight: 5.5 * SPATIAL, types: ['object_counting'] },
  ],
};

const recipeSchema = z.object({
  buckets: z
    .array(
      z.object({
        name: z.string().min(1),
        weight: z.number().nonnegative(),
        types: z.array(z.string()).min(1),
      }),
    )
    .min(1),
});

export function parseRecipe(value: unknown, where: string): Recipe {
  const p = recipeSchema.safeParse(value);
  if (!p.success) {
    const issue = p.error.issues[0];
    throw new InputError(
      `${where}: not a mixing recipe (${issue.path.join('.')}: ${issue.message}); expected ` +
        '{"buckets": [{"name": "...", "weight": 21, "types": ["scanqa"]}, ...]}',
    );
  }
  const seen = new Set<string>();
  for (const b of p.data.buckets)
    for (const t of b.types) {
      if (seen.has(t))
        throw new InputError(`${where}: question type "${t}" is in two buckets; give each type one bucket`);
      seen.add(t);
    }
  if (p.data.buckets.every((b) => b.weight === 0))
    throw new InputError(`${where}: every bucket weighs 0; give one a weight`);
  return p.data;
}

export interface MixOptions {
  recipe?: Recipe;
  /** Total samples; by default the largest total every bucket can fill at its share. */
  total?: number;
  seed?: number;
  excludeScenes?: ReadonlySet<string>;
}

export interface BucketReport {
  name: string;
  available: number;
  quota: number;
}

export interface MixReport {
  input: number;
  excluded: number;
  duplicates: number;
  /** Samples whose question_type no bucket takes. */
  unmatched: number;
  buckets: BucketReport[];
}

/** The question part of a sample (options and answer-format lines removed), for duplicate detection. */
function questionKey(c: Conversation): string {
  const human = c.conversations.find((m) => m.from === 'human')?.value ?? '';
  const question = human.replace(/<video>|<image>/gi, '').split('\nOptions:')[0];
  return `${c.scene_name}\u0000${c.question_type}\u0000${question.toLowerCase().replace(/\s+/g, ' ').trim()}`;
}

/** Integer quotas proportional to the weights that sum to `total` (largest remainder, ties by bucket order). */
export function apportion(weights: readonly number[], total: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (w / sum) * total);
  const quotas = exact.map(Math.floor);
  let left = total - quotas.reduce((a, b) => a + b, 0);
  const order = exact
    .map((x, i) => [x - Math.floor(x), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    quotas[i]++;
  }
  return quotas;
}

export function mixDatasets(
  samples: readonly Conversation[],
  options: MixOptions = {},
): { samples: Conversation[]; report: MixReport } {
  const recipe = options.recipe ?? SPATIAL_MLLM_120K;
  const seed = options.seed ?? 0;
  const kept = samples.filter((s) => !options.excludeScenes?.has(s.scene_name));
  const seen = new Set<string>();
  const unique = kept.filter((s) => {
    const k = questionKey(s);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const pools = recipe.buckets.map((b) => unique.filter((s) => b.types.includes(s.question_type)));
  const weights = recipe.buckets.map((b) => b.weight);
  const wsum = weights.reduce((a, b) => a + b, 0);
  let quotas: number[];
  if (options.total !== undefined) quotas = apportion(weights, options.total);
  else {
    // The largest total every weighted bucket can fill; step down if rounding pushes a quota past its pool.
    let total = Math.floor(
      Math.min(...pools.flatMap((p, i) => (weights[i] > 0 ? [(p.length * wsum) / weights[i]] : []))),
    );
    quotas = apportion(weights, total);
    while (total > 0 && quotas.some((q, i) => q > pools[i].length)) quotas = apportion(weights, --total);
  }
  const short = quotas.findIndex((q, i) => q > pools[i].length);
  if (short >= 0) {
    throw new InputError(
      `bucket "${recipe.buckets[short].name}" needs ${quotas[short]} samples but only ${pools[short].length} are available: ` +
        'lower --total, give it more data, or leave --total out to use the largest feasible total',
    );
  }
  const chosen = recipe.buckets.flatMap((b, i) =>
    new Rng(seed, 'mix', b.name).shuffled(pools[i]).slice(0, quotas[i]),
  );
  const matched = new Set(recipe.buckets.flatMap((b) => b.types));
  return {
    samples: new Rng(seed, 'mix-order').shuffled(chosen),
    report: {
      input: samples.length,
      excluded: samples.length - kept.length,
      duplicates: kept.length - unique.length,
      unmatched: unique.filter((s) => !matched.has(s.question_type)).length,
      buckets: recipe.buckets.map((b, i) => ({
        name: b.name,
        available: pools[i].length,
        quota: quotas[i],
      })),
    },
  };
}
