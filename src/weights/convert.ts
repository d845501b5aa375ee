// Whole-tensor float conversions (fp32 ⇄ fp16 ⇄ bf16, fp64), rounding to nearest even as torch's `.to()` does,
// and `spatial-mllm weights convert`: a checkpoint folder rewritten in another float dtype.
import { cpSync, existsSync, mkdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { InputError } from '../errors.ts';
import { readJsonObject } from '../json.ts';
import { BYTES, type DType, f32ToBf16, f32ToF16, type HostTensor, numel, toFloat32 } from '../tensor.ts';
import {
  openCheckpoint,
  openSafetensors,
  type SafetensorsFile,
  type TensorSpec,
  writeSafetensorsFrom,
} from './safetensors.ts';

export type FloatDType = 'float32' | 'float16' | 'bfloat16' | 'float64';
export const FLOAT_DTYPES: readonly FloatDType[] = ['float32', 'float16', 'bfloat16', 'float64'];
export const isFloat = (dtype: DType): dtype is FloatDType =>
  (FLOAT_DTYPES as readonly DType[]).includes(dtype);

/**
 * `t` converted to another float dtype (a new tensor); `t` itself when it already has that dtype.
 * float64 → float16/bfloat16 rounds through float32, which differs from a single direct rounding only for values
 * within 2⁻²⁹ (relative) of a tie.
 */
export function castTensor<D extends FloatDType>(t: HostTensor, dtype: D): HostTensor<D> {
  if (!isFloat(t.dtype)) throw new Error(`castTensor converts float tensors, got ${t.dtype}`);
  if (t.dtype === dtype) return t as HostTensor<D>;
  // Exact: every float32/float16/bfloat16 value is a float32; float64 → float32 rounds to nearest even.
  const f32 = t.dtype === 'float64' ? Float32Array.from(t.data as Float64Array) : toFloat32(t);
  const data =
    dtype === 'float64'
      ? Float64Array.from(f32)
      : dtype === 'float16'
        ? f32ToF16(f32)
        : dtype === 'bfloat16'
          ? f32ToBf16(f32)
          : f32;
  return { dtype, shape: [...t.shape], data } as HostTensor<D>;
}

// ---- whole checkpoint folders ----------------------------------------------------------------------------------

/** The dtypes `weights convert` writes: ones every loader here reads back (int4/int8 are quantized at load time by
 * `ask --dtype`, from a float checkpoint; a folder of pre-quantized tensors would not load). */
export const CONVERT_DTYPES = ['bfloat16', 'float16', 'float32'] as const;
export type ConvertDType = (typeof CONVERT_DTYPES)[number];

export interface ConvertReport {
  files: { file: string; tensors: number; converted: number; skipped: boolean }[];
  /** Bytes of tensor data before and after. */
  bytesIn: number;
  bytesOut: number;
}

/**
 * Copies a checkpoint folder with every float tensor cast to `dtype` (other tensors as they are): each safetensors
 * shard is rewritten under the same name, one tensor in memory at a time; the index gets its new total_size;
 * config.json's `torch_dtype` (top level and sub-configs) says the new dtype; every other file is copied. A shard
 * already converted by an interrupted run is kept, so rerunning resumes.
 */
export function convertCheckpoint(
  src: string,
  dst: string,
  dtype: ConvertDType,
  log: (line: string) => void = () => {},
): ConvertReport {
  if (!existsSync(src) || !statSync(src).isDirectory())
    throw new InputError(`${src} is not a folder; give the checkpoint folder (config.json, *.safetensors)`);
  if (existsSync(dst) && realpathSync(dst) === realpathSync(src))
    throw new InputError(`the output folder is the input folder (${src}); give another one`);
  const ckpt = openCheckpoint(src);
  const report: ConvertReport = { files: [], bytesIn: 0, bytesOut: 0 };
  try {
    mkdirSync(dst, { recursive: true });
    const shardFiles = new Set(ckpt.files.map((f) => basename(f)));
    cpSync(src, dst, {
      recursive: true,
      filter: (from) => {
        const name = relative(src, from);
        return !(shardFiles.has(name) || name.endsWith('.safetensors.index.json') || name === 'config.json');
      },
    });
    ckpt.files.forEach((file, i) => {
      const source = openSafetensors(file);
      try {
        const names = source.names();
        const specs = names.map((name) => {
          const { dtype: from, shape } = source.info(name);
          return { name, dtype: isFloat(from) ? dtype : from, shape };
        });
        const converted = specs.filter((s, k) => s.dtype !== source.info(names[k]).dtype).length;
        for (const name of names) report.bytesIn += source.info(name).byteLength;
        const out = join(dst, basename(file));
        const done = existsSync(out) && sameHeader(out, specs);
        if (!done)
          writeSafetensorsFrom(
            out,
            specs,
            (name) => {
              const t = source.read(name);
              return isFloat(t.dtype) ? castTensor(t, dtype) : t;
            },
            source.metadata,
          );
        for (const s of specs) report.bytesOut += numel(s.shape) * BYTES[s.dtype];
        report.files.push({ file: basename(file), tensors: names.length, converted, skipped: done });
        log(
          `[${i + 1}/${ckpt.files.length}] ${basename(file)}: ${done ? 'already converted' : `${converted} of ${names.length} tensors → ${dtype}`}`,
        );
      } finally {
        source.close();
      }
    });
    const index = ckpt.path.endsWith('.index.json') ? ckpt.path : undefined;
    if (index) {
      const json = readJsonObject(index, 're-download the index with its shards');
      json.metadata = { ...(json.metadata as object), total_size: report.bytesOut };
      writeFileSync(join(dst, basename(index)), `${JSON.stringify(json, null, 2)}\n`);
    }
    const config = join(src, 'config.json');
    if (existsSync(config)) {
      const json = readJsonObject(config, "fix it or copy the checkpoint's config.json again");
      writeFileSync(join(dst, 'config.json'), `${JSON.stringify(withTorchDtype(json, dtype), null, 2)}\n`);
    }
  } finally {
    ckpt.close();
  }
  return report;
}

/** config.json with `torch_dtype` set wherever it is given (top level, text_config, vision_config, …). */
function withTorchDtype(json: Record<string, unknown>, dtype: ConvertDType): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json))
    out[k] =
      k === 'torch_dtype'
        ? dtype
        : v && typeof v === 'object' && !Array.isArray(v)
          ? withTorchDtype(v as Record<string, unknown>, dtype)
          : v;
  return out;
}

/** Whether a file written earlier holds exactly these tensors (a finished shard of an interrupted run). */
function sameHeader(path: string, specs: readonly TensorSpec[]): boolean {
  let file: SafetensorsFile;
  try {
    file = openSafetensors(path);
  } catch {
    return false;
  }
  try {
    const names = file.names();
    return (
      names.length === specs.length &&
      specs.every(
        (s) =>
          names.includes(s.name) &&
          file.info(s.name).dtype === s.dtype &&
          file.info(s.name).shape.join() === s.shape.join(),
      )
    );
  } finally {
    file.close();
  }
}
