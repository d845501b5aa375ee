// Trained weights written as Hugging Face folders that `ask`, `eval` and `serve` load directly: the base folder's
// config, tokenizer and processor files copied, model.safetensors holding every tensor of the base checkpoint with
// the trained ones replaced (checkpoint key names). LoRA runs write a PEFT adapter folder (adapter weights, plus the
// fully trained connector and merger as modules_to_save) and, with merge, the full folder with W + (α/r)·B·A.
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type SpatialMllmCheckpoint, spatialMllmKey } from '../models/spatial_mllm/checkpoint.ts';
import type { HostTensor } from '../tensor.ts';
import { type TensorSource, writeSafetensors } from '../weights/safetensors.ts';
import { mergeLora, savePeft } from './lora.ts';
import type { SftModel } from './sft.ts';

const WEIGHT_FILE = /\.safetensors$|^model\.safetensors\.index\.json$/;

/** Copies every file of the base folder except the weights (config, tokenizer, processor, templates). */
function copyMetadata(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    if (statSync(src).isDirectory()) {
      if (name === 'tokenizer') copyMetadata(src, join(to, name));
    } else if (!WEIGHT_FILE.test(name)) copyFileSync(src, join(to, name));
  }
}

/** A full model folder: base tensors with `trained` (graph names) replaced. */
export function writeModelFolder(
  ckpt: SpatialMllmCheckpoint,
  dir: string,
  trained: Map<string, HostTensor>,
): void {
  const byKey = new Map(
    [...trained].map(([n, t]) => [spatialMllmKey(n, ckpt.config.version, ckpt.layout), t]),
  );
  writeCheckpointCopy(ckpt.dir, ckpt.checkpoint, dir, byKey);
}

/**
 * A copy of the model folder `from` (config, tokenizer, processor files) at `dir` whose model.safetensors holds
 * every tensor of `source` with those of `replaced` (checkpoint key names) swapped in. Written to a temp folder,
 * then moved, so `dir` is complete or absent.
 */
export function writeCheckpointCopy(
  from: string,
  source: TensorSource,
  dir: string,
  replaced: Map<string, HostTensor>,
): void {
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  copyMetadata(from, tmp);
  const tensors = new Map<string, HostTensor>();
  for (const key of source.names()) tensors.set(key, replaced.get(key) ?? source.read(key));
  writeSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt' });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

export interface ExportResult {
  model?: string;
  adapter?: string;
}

/** Writes the current weights under `out`: `model/` (full runs, or LoRA with merge) and `adapter/` (LoRA). */
export async function exportSft(
  model: SftModel,
  out: string,
  o: { merge?: boolean } = {},
): Promise<ExportResult> {
  const params = model.trainer.parameters();
  const trained = new Map(model.trainer.trainable.map((n) => [n, params.get(n)!]));
  if (!model.lora) {
    writeModelFolder(model.checkpoint, join(out, 'model'), trained);
    return { model: join(out, 'model') };
  }
  const adapters = new Map([...trained].filter(([n]) => n.includes('.lora_')));
  const full = new Map([...trained].filter(([n]) => !n.includes('.lora_')));
  const adapter = join(out, 'adapter');
  savePeft(adapter, adapters, model.lora.config, model.checkpoint.dir, {
    modules: ['visual.merger', 'connector'],
    tensors: full,
  });
  if (!o.merge) return { adapter };
  // Merge into the float base read from the checkpoint (the training copy may be quantized).
  const base = new Map(
    model.lora.modules.map((m) => [`${m.name}.weight`, model.checkpoint.weights.read(`${m.name}.weight`)]),
  );
  const merged = await mergeLora(base, adapters, model.lora.modules, model.lora.config);
  writeModelFolder(model.checkpoint, join(out, 'model'), new Map([...full, ...merged]));
  return { adapter, model: join(out, 'model') };
}
