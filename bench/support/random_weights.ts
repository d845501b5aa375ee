// Deterministic random weights for the benchmarks (nothing is downloaded): each tensor seeded by its name, uniform
// with std 0.02 (norm weights 1), generated when read so that nothing is held. The same name gives the same values
// in every process, so an ONNX graph and a GGUF file written by different children carry the same weights.
import type * as E from '../../src/engine/index.ts';
import { type DType, f32ToF16, type HostTensor, numel, tensor } from '../../src/tensor.ts';
import type { WeightReader } from '../../src/weights/quantized_source.ts';

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function fillUniform(out: Float32Array, bound: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const k = (2 * bound) / 4294967296;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s * k - bound;
  }
  return out;
}

/** Uniform values with standard deviation `std` in the given float dtype. */
export function randomTensor(dtype: DType, shape: number[], seed: number, std = 0.02): HostTensor {
  const v = fillUniform(new Float32Array(numel(shape)), std * Math.sqrt(3), seed);
  return dtype === 'float16' ? tensor('float16', shape, f32ToF16(v)) : tensor('float32', shape, v);
}

/** The random float32 value of parameter `name` of shape `shape`. */
export function randomParam(name: string, shape: number[]): HostTensor<'float32'> {
  if (/norm|ln_q/.test(name)) return tensor('float32', shape, new Float32Array(numel(shape)).fill(1));
  return randomTensor('float32', shape, fnv1a(name)) as HostTensor<'float32'>;
}

/** Random weights for every parameter of a float graph (which declares every `<name>.weight` a quantized one reads). */
export function randomWeights(fp32Graph: E.Graph): WeightReader {
  return {
    read(name) {
      const shape = fp32Graph.params.get(name)?.shape as number[] | undefined;
      if (!shape) throw new Error(`random weights: no parameter ${name}`);
      return randomParam(name, shape);
    },
  };
}
