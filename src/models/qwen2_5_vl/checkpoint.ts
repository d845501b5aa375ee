// Qwen2.5-VL checkpoint key names. Graphs use the transformers ≤ 4.51 names (`model.layers.*`, `visual.*`);
// checkpoints saved by later versions nest them (`model.language_model.layers.*`, `model.visual.*`). This maps
// the graph's names onto whichever generation a checkpoint uses.
import type { WeightSource } from '../../engine/index.ts';
import type { TensorSource } from '../../weights/safetensors.ts';

export type KeyLayout = 'flat' | 'nested';

export function detectLayout(names: readonly string[]): KeyLayout {
  return names.some((n) => n.startsWith('model.language_model.') || n.startsWith('model.visual.'))
    ? 'nested'
    : 'flat';
}

/** Graph name → checkpoint name for a layout (and an optional prefix the whole model sits under). */
export function checkpointKey(name: string, layout: KeyLayout): string {
  if (layout === 'flat') return name;
  if (name.startsWith('visual.')) return `model.${name}`;
  if (name.startsWith('model.')) return `model.language_model.${name.slice('model.'.length)}`;
  return name;
}

export function qwenWeightSource(ckpt: TensorSource): WeightSource & { layout: KeyLayout } {
  const layout = detectLayout(ckpt.names());
  return { layout, read: (name) => ckpt.read(checkpointKey(name, layout)) };
}
