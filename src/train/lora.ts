// LoRA (Hu et al., arXiv 2106.09685) as a graph rewrite: every linear layer whose module name matches the targets
// gets y += (α/r)·(x·Aᵀ)·Bᵀ with new parameters `<module>.lora_A.weight` [r, in] and `<module>.lora_B.weight`
// [out, r]. Linear layers are found as the engine builds them: MatMul(x, Transpose(<module>.weight)) for float
// weights and the MatMulNBits composite over `<module>.weight.qweight` for quantized ones (QLoRA). Adapters are
// saved in the PEFT layout (huggingface/peft: adapter_config.json + adapter_model.safetensors with keys
// `base_model.model.<module>.lora_A.weight`), so PEFT and other tools load them.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../engine/index.ts';
import { readJsonFile } from '../json.ts';
import { Session } from '../runtime/session.ts';
import { f32, type HostTensor } from '../tensor.ts';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.ts';
import { replay } from './replay.ts';
import type { Rng } from './rng.ts';

export interface LoraConfig {
  r: number;
  alpha: number;
  /**
   * PEFT target_modules: module-name suffixes (a module matches when its name equals one or ends with '.' + it),
   * or a single regular expression that must match the whole module name.
   */
  targets: string[] | string;
  /** Scale α/√r instead of α/r (rsLoRA). */
  useRslora?: boolean;
}

export interface LoraModule {
  name: string;
  inFeatures: number;
  outFeatures: number;
}

export const PEFT_PREFIX = 'base_model.model.';

export const loraScale = (c: LoraConfig): number => (c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r);

/** PEFT's check_target_module_exists for a list or a regex. */
export function matchesTarget(module: string, targets: LoraConfig['targets']): boolean {
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(module);
  return targets.some((t) => module === t || module.endsWith(`.${t}`));
}

export const adapterNames = (module: string) => ({
  a: `${module}.lora_A.weight`,
  b: `${module}.lora_B.weight`,
});

/** The module a linear layer node computes, with its sizes; undefined for other nodes. */
function linearModule(g: E.Graph, n: E.Node): LoraModule | undefined {
  const paramName = (t: E.Tensor | null) => {
    const s = t && g.sources.get(t.id);
    return s?.kind === 'param' ? s.name : undefined;
  };
  if (n.composite?.kind === 'MatMulNBits') {
    const name = paramName(n.inputs[1])?.match(/^(.*)\.weight\.qweight$/)?.[1];
    const o = n.composite.options as { k: number; n: number };
    return name ? { name, inFeatures: o.k, outFeatures: o.n } : undefined;
  }
  if (n.op !== 'MatMul' || !n.inputs[1]) return undefined;
  const src = g.sources.get(n.inputs[1].id);
  if (src?.kind !== 'node' || src.node.op !== 'Transpose') return undefined;
  const w = src.node.inputs[0]!;
  const name = paramName(w)?.match(/^(.*)\.weight$/)?.[1];
  if (!name || w.shape.length !== 2) return undefined;
  const [out, inF] = w.shape as number[];
  return { name, inFeatures: inF, outFeatures: out };
}

/** A copy of `graph` with LoRA adapters on the matching linear layers (throws when none matches). */
export function applyLora(graph: E.Graph, c: LoraConfig): { graph: E.Graph; modules: LoraModule[] } {
  const modules: LoraModule[] = [];
  const scale = loraScale(c);
  const out = replay(graph, {
    rewrite(n, inputs, results, g) {
      const m = linearModule(graph, n);
      if (!m || !matchesTarget(m.name, c.targets)) return results;
      const x = inputs[0]!;
      const names = adapterNames(m.name);
      const a = g.param(names.a, x.dtype, [c.r, m.inFeatures]);
      const b = g.param(names.b, x.dtype, [m.outFeatures, c.r]);
      modules.push(m);
      return [E.add(results[0], E.mul(E.linear(E.linear(x, a), b), scale))];
    },
  });
  if (modules.length === 0)
    throw new Error(
      `applyLora: no linear layer of graph ${graph.name} matches targets ${JSON.stringify(c.targets)}`,
    );
  return { graph: out, modules };
}

/** PEFT's default init: A ~ kaiming_uniform(a = √5) = U(−1/√in, 1/√in), B = 0 (the adapted model starts as the base). */
export function initLora(modules: LoraModule[], c: LoraConfig, rng: Rng): Map<string, HostTensor> {
  const w = new Map<string, HostTensor>();
  for (const m of modules) {
    const bound = 1 / Math.sqrt(m.inFeatures);
    const names = adapterNames(m.name);
    w.set(
      names.a,
      f32(
        [c.r, m.inFeatures],
        Array.from({ length: c.r * m.inFeatures }, () => (2 * rng.uniform() - 1) * bound),
      ),
    );
    w.set(names.b, f32([m.outFeatures, c.r]));
  }
  return w;
}

/**
 * Base weights with the adapters folded in (sign +1, merge) or taken out again (sign −1, unmerge):
 * W ± (α/r)·B·A, computed by ONNX Runtime. Only float `<module>.weight` bases can be merged.
 */
export async function mergeLora(
  base: Map<string, HostTensor>,
  adapters: Map<string, HostTensor>,
  modules: LoraModule[],
  c: LoraConfig,
  sign: 1 | -1 = 1,
): Promise<Map<string, HostTensor>> {
  const g = new E.Graph('lora_merge');
  const w = g.input('w', 'float32', ['out', 'in']);
  const a = g.input('a', 'float32', ['r', 'in']);
  const b = g.input('b', 'float32', ['out', 'r']);
  g.output('merged', E.add(w, E.mul(E.matmul(b, a), sign * loraScale(c))));
  const session = await Session.create(E.toOnnx(g).bytes);
  const merged = new Map<string, HostTensor>();
  try {
    for (const m of modules) {
      const weight = base.get(`${m.name}.weight`);
      if (weight?.dtype !== 'float32')
        throw new Error(
          `mergeLora: ${m.name}.weight is not a float32 weight of the base model (quantized bases cannot be merged)`,
        );
      const names = adapterNames(m.name);
      const res = await session.run({ w: weight, a: adapters.get(names.a)!, b: adapters.get(names.b)! });
      merged.set(`${m.name}.weight`, res.merged);
    }
  } finally {
    await session.release();
  }
  return merged;
}

/** PEFT LoraConfig as adapter_config.json stores it. */
function peftConfig(
  c: LoraConfig,
  baseModel: string | null,
  modulesToSave: string[] | null,
): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: c.r,
    lora_alpha: c.alpha,
    lora_dropout: 0,
    target_modules: c.targets,
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: c.useRslora ?? false,
    use_dora: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: modulesToSave,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    revision: null,
  };
}

/**
 * Writes adapter_config.json and adapter_model.safetensors (PEFT key names) into dir, each atomically. `saved`:
 * fully trained tensors of `modulesToSave` (PEFT modules_to_save), stored under their own names after the prefix.
 */
export function savePeft(
  dir: string,
  adapters: Map<string, HostTensor>,
  c: LoraConfig,
  baseModel: string | null = null,
  saved?: { modules: string[]; tensors: Map<string, HostTensor> },
): void {
  mkdirSync(dir, { recursive: true });
  writeSafetensors(
    join(dir, 'adapter_model.safetensors'),
    new Map([...adapters, ...(saved?.tensors ?? [])].map(([name, t]) => [PEFT_PREFIX + name, t])),
    { format: 'pt' },
  );
  const tmp = join(dir, `.adapter_config.json.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(peftConfig(c, baseModel, saved?.modules ?? null), null, 2)}\n`);
  renameSync(tmp, join(dir, 'adapter_config.json'));
}

/**
 * Reads a PEFT LoRA adapter: its config, the adapter weights under graph parameter names and the fully trained
 * tensors of its modules_to_save.
 */
export function loadPeft(dir: string): {
  config: LoraConfig;
  adapters: Map<string, HostTensor>;
  saved: Map<string, HostTensor>;
} {
  const cfgPath = join(dir, 'adapter_config.json');
  if (!existsSync(cfgPath))
    throw new Error(`${dir} has no adapter_config.json: not a PEFT adapter directory`);
  const raw: any = readJsonFile(cfgPath, 'check the PEFT adapter folder');
  if (raw.peft_type !== 'LORA') throw new Error(`${cfgPath}: peft_type ${raw.peft_type} is not LORA`);
  if (raw.use_dora) throw new Error(`${cfgPath}: DoRA adapters are not supported`);
  const config: LoraConfig = {
    r: raw.r,
    alpha: raw.lora_alpha,
    targets: raw.target_modules,
    useRslora: !!raw.use_rslora,
  };
  const adapters = new Map<string, HostTensor>();
  const saved = new Map<string, HostTensor>();
  const modules: string[] = raw.modules_to_save ?? [];
  for (const [key, t] of readSafetensors(join(dir, 'adapter_model.safetensors'))) {
    // PEFT drops the adapter name when saving; older files may still carry '.default'.
    const m = key.match(/^base_model\.model\.(.*)\.(lora_[AB])(?:\.default)?\.weight$/);
    const name = key.slice(PEFT_PREFIX.length);
    if (m) adapters.set(`${m[1]}.${m[2]}.weight`, t);
    else if (key.startsWith(PEFT_PREFIX) && modules.some((mod) => name.startsWith(`${mod}.`)))
      saved.set(name, t);
    else throw new Error(`${dir}: unexpected tensor ${key} in adapter_model.safetensors`);
  }
  return { config, adapters, saved };
}
