// Model names that stand for a folder shipped with the repository, resolved in one place for every command that
// takes a model folder (ask, eval --model spatial-mllm:NAME, serve, demo).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.ts';

/** The repository root (this file is src/apps/model_name.ts). */
const ROOT = resolve(import.meta.dirname, '../..');

/** Named models: the small Spatial-MLLM trained on synthetic rooms (src/train/small, README "The small model"). */
export const NAMED_MODELS: Readonly<Record<string, string>> = { small: join(ROOT, 'models', 'small') };

/** The folder of a named model when this checkout has it (its config.json exists), else undefined. */
export function shippedModel(name: string): string | undefined {
  const dir = NAMED_MODELS[name];
  return dir !== undefined && existsSync(join(dir, 'config.json')) ? dir : undefined;
}

/** A `--model` value as a checkpoint folder: a named model's folder, or the value itself. */
export function resolveModelDir(spec: string): string {
  const named = NAMED_MODELS[spec];
  if (named === undefined || existsSync(spec)) return spec;
  if (!shippedModel(spec))
    throw new InputError(
      `--model ${spec}: the ${spec} model is not in this checkout (${named} is missing); train it with ` +
        '`npm run train:small` (it writes models/small), or give a checkpoint folder',
    );
  return named;
}
