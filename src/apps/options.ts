// Option values of every command, parsed and checked where commander declares them: a bad value stops the command
// before any work with "error: option '--frames <n>' argument 'abc' is invalid. <the fix>" and exit 2 (cli.ts).
// Command modules (src/apps/commands/*.ts) declare options only with these; the work modules they call receive
// typed values and check only what spans several options or needs files.
import { InvalidArgumentError, Option } from 'commander';
import { InputError } from '../errors.ts';
import { checkFrameCount, DEFAULT_FRAME_COUNT } from '../frame_options.ts';
import { W8A8 } from '../models/layers.ts';
import type { SpatialMllmOptions } from '../models/spatial_mllm/model.ts';
import { SPATIAL_RESOLUTIONS } from '../models/spatial_mllm/spatial_encoder.ts';
import { userCacheDir } from '../user_cache.ts';

const rangeText = (min: number, max: number) =>
  min === -Infinity
    ? max === Infinity
      ? ''
      : ` ≤ ${max}`
    : max === Infinity
      ? ` ≥ ${min}`
      : ` in ${min}..${max}`;

/** A whole number in [min, max]. */
export function integer(min = -Infinity, max = Infinity): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\s*-?\d+\s*$/.test(text) || n < min || n > max)
      throw new InvalidArgumentError(`Give a whole number${rangeText(min, max)}.`);
    return n;
  };
}

/** A finite number in [min, max]. */
export function number(min = -Infinity, max = Infinity): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`Give a number${rangeText(min, max).replace('..', ' to ')}.`);
    return n;
  };
}

/** A comma-separated list whose items are each one of `allowed`. */
export function listOf<T extends string>(allowed: readonly T[]): (text: string) => T[] {
  return (text) => {
    const items = text.split(',').map((t) => t.trim());
    const bad = items.find((t) => !(allowed as readonly string[]).includes(t));
    if (bad !== undefined) throw new InvalidArgumentError(`"${bad}" is not one of ${allowed.join(', ')}.`);
    return items as T[];
  };
}

/** A parser of the domain code (which throws InputError) as an option parser. */
export function parsedBy<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (e) {
      if (e instanceof InputError) throw new InvalidArgumentError(e.message);
      throw e;
    }
  };
}

/** An option whose value is one of `choices` (commander lists them when another is given). */
export function choice<T extends string>(
  flags: string,
  description: string,
  choices: readonly T[],
  defaultValue?: T,
): Option {
  const o = new Option(flags, description).choices(choices);
  return defaultValue === undefined ? o : o.default(defaultValue);
}

/** An option a command does not take, kept out of its help, refused with the reason and the fix. */
export function refused(flags: string, why: string): Option {
  return new Option(flags).hideHelp().argParser(() => {
    throw new InvalidArgumentError(why);
  });
}

/** --frames: src/frame_options.ts holds the one default and the one check (used by eval and the API too). */
export const framesOption = (description: string) =>
  new Option('--frames <n>', description).argParser((v) => checkFrameCount(v)).default(DEFAULT_FRAME_COUNT);

/** --dtype of the commands that load a Spatial-MLLM (ask, serve): the linear layers' weights. */
export const WEIGHT_DTYPES = ['float32', 'int4', 'int8'] as const;
export type WeightDType = (typeof WEIGHT_DTYPES)[number];

export const dtypeOption = () =>
  choice(
    '--dtype <dtype>',
    'linear-layer weights: float32, or int4/int8 (language model block-quantized, encoders W8A8)',
    WEIGHT_DTYPES,
    'float32',
  );

/**
 * The load-time quantization a --dtype asks for. The language model and connector: accuracy level 4 = int8
 * activations (ONNX Runtime's integer MatMulNBits kernels, the fast CPU path), int4 in blocks of 128 weights per
 * scale and zero point (the layout of Qwen's own AWQ int4 checkpoints; 1.3–1.5× the prefill of blocks of 32 and
 * 0.9 GB less at 36 layers, bench:llm variant g128), int8 in blocks of 32. bench/quant_accuracy.bench.ts measures
 * the accuracy cost (random 3B-width decoder, last logits: cosine 0.9564 at 128 vs 0.9579 at 32). The encoders
 * (ViT, VGGT aggregator), whose products have thousands of rows: W8A8 (int8 weights per output channel, int8
 * activations per token; ~2.5× the float32 GEMM where MatMulNBits reaches ~1.6×, bench/op_profile.bench.ts; cosine
 * vs float32 in bench:vggt / bench:qwen).
 */
const INT4 = { bits: 4, blockSize: 128, accuracyLevel: 4 } as const;
const INT8 = { bits: 8, blockSize: 32, accuracyLevel: 4 } as const;

export function weightOptions(
  dtype: WeightDType,
  store = 'none',
): Pick<SpatialMllmOptions, 'quant' | 'encoders' | 'sessionStore'> {
  if (dtype === 'float32') return {};
  return {
    quant: dtype === 'int4' ? INT4 : INT8,
    encoders: W8A8,
    ...(store !== 'none' ? { sessionStore: store } : {}),
  };
}

/** --spatial-res of the commands that load a Spatial-MLLM (ask, serve, eval): what VGGT's aggregator sees. */
export const spatialResOption = () =>
  choice(
    '--spatial-res <res>',
    'resolution the spatial encoder (VGGT) sees: full (upstream) or half (frames 2×2-pooled: its CPU time ÷ 5–10, approximate answers)',
    SPATIAL_RESOLUTIONS,
    'full',
  );

/**
 * --session-store of ask and serve: quantizing a real checkpoint's weights takes ~2 minutes of each int4/int8 run
 * on 2 cores (bench:e2e), so the prepared graphs (~4 GB for Spatial-MLLM-4B int4) are kept for the next run.
 */
export const sessionStoreOption = () =>
  new Option(
    '--session-store <dir>',
    'with --dtype int4/int8: where the quantized graphs are kept for the next run (none: not kept)',
  ).default(userCacheDir('sessions'));
