// Host tensors: a dtype, a shape and a typed array. Shared by the engine (constants), the runtime (session I/O),
// weights (safetensors) and the pure-JS parts of models and pipeline. Row-major (C order) always.

export type DType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

/** The typed array that holds each dtype. float16 and bfloat16 are stored as raw 16-bit patterns. */
export interface DTypeArrays {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int16: Int16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}
export type TypedArray = DTypeArrays[DType];

export interface HostTensor<D extends DType = DType> {
  dtype: D;
  shape: number[];
  data: DTypeArrays[D];
}

export const BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

const CTORS = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
} as const;

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function allocate<D extends DType>(dtype: D, length: number): DTypeArrays[D] {
  return new CTORS[dtype](length) as DTypeArrays[D];
}

/** A typed-array view over bytes (copied when the offset is not aligned to the element size). */
export function viewBytes<D extends DType>(dtype: D, bytes: Uint8Array): DTypeArrays[D] {
  const size = BYTES[dtype];
  if (bytes.byteLength % size !== 0)
    throw new Error(`${bytes.byteLength} bytes is not a whole number of ${dtype}`);
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new CTORS[dtype](
    aligned.buffer as ArrayBuffer,
    aligned.byteOffset,
    aligned.byteLength / size,
  ) as DTypeArrays[D];
}

export function tensor<D extends DType>(
  dtype: D,
  shape: number[],
  data?: DTypeArrays[D] | ArrayLike<number>,
): HostTensor<D> {
  const n = numel(shape);
  let arr: DTypeArrays[D];
  if (data === undefined) arr = allocate(dtype, n);
  else if (ArrayBuffer.isView(data) && data.constructor === CTORS[dtype]) arr = data as DTypeArrays[D];
  else if (dtype === 'int64')
    arr = BigInt64Array.from(data as ArrayLike<number>, (v) => BigInt(v)) as DTypeArrays[D];
  else arr = (CTORS[dtype] as any).from(data) as DTypeArrays[D];
  if (arr.length !== n) throw new Error(`tensor: shape [${shape}] needs ${n} values, got ${arr.length}`);
  return { dtype, shape: [...shape], data: arr };
}

export const f32 = (shape: number[], data?: ArrayLike<number>) => tensor('float32', shape, data);
export const i64 = (shape: number[], data?: ArrayLike<number>) => tensor('int64', shape, data);

/** Values as JS numbers (float16/bfloat16 decoded), for tests and small host-side math. */
export function toFloat32(t: HostTensor): Float32Array {
  switch (t.dtype) {
    case 'float32':
      return t.data as Float32Array;
    case 'bfloat16':
      return bf16ToF32(t.data as Uint16Array);
    case 'float16':
      return f16ToF32(t.data as Uint16Array);
    case 'int64':
      return Float32Array.from(t.data as BigInt64Array, Number);
    default:
      return Float32Array.from(t.data as ArrayLike<number>);
  }
}

export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
  return new Float32Array(out.buffer);
}

/** Round-to-nearest-even, as torch does for .to(bfloat16); NaN stays NaN. */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i];
    if ((b & 0x7fffffff) > 0x7f800000) out[i] = (b >>> 16) | 0x40;
    else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

const f16Table = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] =
      e === 0
        ? s * m * 2 ** -24
        : e === 31
          ? m
            ? Number.NaN
            : s * Number.POSITIVE_INFINITY
          : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16Table[src[i]];
  return out;
}

/** Round-to-nearest-even float32 → IEEE half (overflow → ±Inf, subnormals kept). */
export function f32ToF16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      const rem = mant & ((1 << shift) - 1);
      let h = mant >>> shift;
      if (rem > half || (rem === half && h & 1)) h++;
      out[i] = sign | h;
    } else {
      let h = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
      out[i] = sign | h;
    }
  }
  return out;
}
