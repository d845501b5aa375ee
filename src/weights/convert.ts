// Whole-tensor float conversions (fp32 ⇄ fp16 ⇄ bf16, fp64), rounding to nearest even as torch's `.to()` does.
import { type DType, f32ToBf16, f32ToF16, type HostTensor, toFloat32 } from '../tensor.ts';

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
