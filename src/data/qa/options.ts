// Option construction shared by the generators: VSI-Bench's answer-letter balancing and the feasibility test of
// its numeric distractors. Upstream: VITA-Group/VLM-3R `vlm_3r_data_process/src/utils/common_utils.py`
// (from_options_to_mc_answer, generate_multiple_choice).
import type { Rng } from '../rng.ts';
import { OPTION_LETTERS } from './types.ts';

/**
 * Puts the correct answer under the letter used least so far (a random one among ties) and the distractors,
 * shuffled, around it — so over a run every letter is the answer equally often, within one. Upstream keeps one
 * counter per generator; we keep one per (question type, option count), so types with a variable option count
 * (route planning) stay balanced too.
 */
export class LetterBalancer {
  private readonly counts = new Map<string, number[]>();

  constructor(private readonly rng: Rng) {}

  assign(
    type: string,
    answer: string,
    distractors: readonly string[],
  ): { ordered: string[]; letter: string } {
    const n = distractors.length + 1;
    const key = `${type}/${n}`;
    let counts = this.counts.get(key);
    if (!counts) {
      counts = new Array(n).fill(0);
      this.counts.set(key, counts);
    }
    const min = Math.min(...counts);
    const least = counts.flatMap((c, i) => (c === min ? [i] : []));
    const target = this.rng.pick(least);
    const ordered = this.rng.shuffled(distractors);
    ordered.splice(target, 0, answer);
    counts[target]++;
    return { ordered, letter: OPTION_LETTERS[target] };
  }
}

/**
 * Whether VSI-Bench's numeric distractor sampler can succeed: three values drawn from
 * [lower·gt, upper·gt], rounded to `decimals`, at least EPS = ceil(gt·margin·10^d)/10^d apart from each other and
 * from the answer. Upstream samples and drops the question after 30 failed re-draws; we decide the same question
 * deterministically (can such three values exist?) so eligibility does not depend on luck. Works in integer units
 * of 10^-d; a value counts as drawable when its rounding interval overlaps the range by more than float noise.
 * EPS is computed with upstream's float expression (1.5·0.2·10 = 3.0000000000000004 → 4).
 */
export function numericDistractorsExist(
  gt: number,
  lower: number,
  upper: number,
  decimals: number,
  margin = 0.2,
): boolean {
  const unit = 10 ** decimals;
  const eps = Math.ceil(gt * margin * unit);
  const g = Math.round(gt * unit);
  const noise = 1e-9;
  const lo = Math.floor((gt * lower + noise) * unit - 0.5) + 1;
  const hi = Math.ceil((gt * upper - noise) * unit + 0.5) - 1;
  let found = 0;
  let last = Number.NEGATIVE_INFINITY;
  for (let k = lo; k <= hi && found < 3; k++) {
    if (Math.abs(k - g) < eps || k - last < eps) continue;
    found++;
    last = k;
  }
  return found === 3;
}
