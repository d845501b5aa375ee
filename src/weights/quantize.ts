// Block-wise int4/int8 weight quantization in the layout of ONNX Runtime's com.microsoft.MatMulNBits
// (microsoft/onnxruntime docs/ContribOperators.md; shapes as checked by
// onnxruntime/contrib_ops/cpu/quantization/matmul_nbits_helper.h):
//   weight W [N, K] (nn.Linear's [out, in]) is cut along K into blocks of `blockSize` (K zero-padded to a multiple);
//   B           uint8 [N, kBlocks, blockSize·bits/8]: codes packed along K, low bits first (4 bits: two per byte);
//   scales      [N·kBlocks] in the float type of the activations;
//   zero_points uint8 [N·ceil(kBlocks·bits/8)]: packed like B, each row padded to whole bytes;
//   W[n, k] ≈ (code − zero_point) · scale.
// Codes are round-to-nearest-even of w/scale + zero_point, so every weight is off by at most scale/2.
import { InputError } from '../errors.ts';
import { f32ToBf16, f32ToF16, type HostTensor, toFloat32 } from '../tensor.ts';

export type ScaleDType = 'float32' | 'float16' | 'bfloat16';

export interface QuantizeOptions {
  bits: 4 | 8;
  /** A power of two ≥ 16 (MatMulNBits' rule). */
  blockSize: number;
  /**
   * Symmetric: scale = max|w| / (2^(bits−1) − 1) and the fixed zero point 2^(bits−1) (MatMulNBits' default, so
   * zero_points may be left out of the graph). Asymmetric (default): the block's range widened to include 0,
   * scale = (max − min) / (2^bits − 1), zero point = round(−min / scale).
   */
  symmetric?: boolean;
  /** Type of the scales = type of the matmul's activations. Default float32. */
  scaleDType?: ScaleDType;
}

export interface MatMulNBitsWeight {
  /** MatMulNBits attributes. */
  K: number;
  N: number;
  bits: 4 | 8;
  blockSize: number;
  symmetric: boolean;
  B: HostTensor<'uint8'>;
  scales: HostTensor<ScaleDType>;
  /** Always present; for symmetric weights every value is 2^(bits−1), the op's default. */
  zeroPoints: HostTensor<'uint8'>;
}

/** Quantizes a float weight [N, K] (float32, float16 or bfloat16). */
export function quantizeMatMulNBits(weight: HostTensor, o: QuantizeOptions): MatMulNBitsWeight {
  const { bits, blockSize, symmetric = false, scaleDType = 'float32' } = o;
  if (bits !== 4 && bits !== 8) throw new InputError(`quantization bits must be 4 or 8, got ${bits}`);
  if (!(blockSize >= 16 && (blockSize & (blockSize - 1)) === 0))
    throw new InputError(
      `quantization block size must be a power of two ≥ 16 (e.g. 32, 64, 128), got ${blockSize}`,
    );
  if (weight.shape.length !== 2)
    throw new InputError(`only 2-D [out, in] weights are quantized, got [${weight.shape}]`);
  if (!['float32', 'float16', 'bfloat16'].includes(weight.dtype))
    throw new InputError(`only float weights are quantized, got ${weight.dtype}`);

  const [N, K] = weight.shape;
  const w = toFloat32(weight);
  const kBlocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const maxCode = (1 << bits) - 1;
  const mid = 1 << (bits - 1);

  // Pass 1: each block's range (padded positions hold 0, which both variants represent exactly) and ideal scale;
  // the scales are then rounded up to the stored dtype all at once.
  const lows = new Float64Array(N * kBlocks);
  const ideals = new Float64Array(N * kBlocks);
  for (let n = 0; n < N; n++)
    for (let b = 0; b < kBlocks; b++) {
      const start = n * K + b * blockSize;
      const end = start + Math.min(blockSize, K - b * blockSize);
      let lo = 0;
      let hi = 0;
      for (let i = start; i < end; i++) {
        const v = w[i];
        if (v < lo) lo = v;
        else if (v > hi) hi = v;
      }
      lows[n * kBlocks + b] = lo;
      ideals[n * kBlocks + b] = symmetric ? Math.max(-lo, hi) / (mid - 1) : (hi - lo) / maxCode;
    }
  const { values: scales, stored } = storedScales(ideals, scaleDType);

  // Pass 2: codes, two per byte at 4 bits.
  const B = new Uint8Array(N * kBlocks * blob);
  const zeros = new Uint8Array(N * zpRow);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const scale = scales[n * kBlocks + b];
      const zp = symmetric ? mid : scale === 0 ? 0 : codeOf(-lows[n * kBlocks + b], scale, 0, maxCode);
      setCode(zeros, n * zpRow, b, bits, zp);
      const start = n * K + b * blockSize;
      const len = Math.min(blockSize, K - b * blockSize);
      const base = (n * kBlocks + b) * blob;
      // Positions past K (padding) and all-zero blocks take the zero point.
      for (let j = 0; j < blockSize; j++) {
        const c = j >= len || scale === 0 ? zp : codeOf(w[start + j], scale, zp, maxCode);
        if (bits === 8) B[base + j] = c;
        else B[base + (j >> 1)] |= c << ((j & 1) * 4);
      }
    }
  }
  return {
    K,
    N,
    bits,
    blockSize,
    symmetric,
    B: { dtype: 'uint8', shape: [N, kBlocks, blob], data: B },
    scales: { dtype: scaleDType, shape: [N * kBlocks], data: stored },
    zeroPoints: { dtype: 'uint8', shape: [N * zpRow], data: zeros },
  };
}

/** The float32 weight [N, K] that MatMulNBits multiplies by: (code − zero_point) · scale, padding dropped. */
export function dequantizeMatMulNBits(q: MatMulNBitsWeight): HostTensor<'float32'> {
  const { N, K, bits, blockSize } = q;
  const kBlocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const scales = toFloat32(q.scales);
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / blockSize);
      const code = getCode(q.B.data, (n * kBlocks + b) * blob, k % blockSize, bits);
      const zp = getCode(q.zeroPoints.data, n * zpRow, b, bits);
      out[n * K + k] = (code - zp) * scales[n * kBlocks + b];
    }
  return { dtype: 'float32', shape: [N, K], data: out };
}

/**
 * Per-element bound [N, K] on |w − dequantize(quantize(w))| in exact arithmetic: half the element's block scale
 * (round to nearest, and the zero point and stored scale chosen so no code is clamped by more than that).
 */
export function quantizationErrorBound(q: MatMulNBitsWeight): HostTensor<'float32'> {
  const kBlocks = Math.ceil(q.K / q.blockSize);
  const scales = toFloat32(q.scales);
  const out = new Float32Array(q.N * q.K);
  for (let n = 0; n < q.N; n++)
    for (let k = 0; k < q.K; k++) out[n * q.K + k] = scales[n * kBlocks + Math.floor(k / q.blockSize)] / 2;
  return { dtype: 'float32', shape: [q.N, q.K], data: out };
}

/** Codes are stored `bits` wide from the low bits of byte `base` on: item i at bit i·bits. */
function setCode(bytes: Uint8Array, base: number, i: number, bits: number, code: number): void {
  if (bits === 8) bytes[base + i] = code;
  else bytes[base + (i >> 1)] |= code << ((i & 1) * 4);
}

function getCode(bytes: Uint8Array, base: number, i: number, bits: number): number {
  return bits === 8 ? bytes[base + i] : (bytes[base + (i >> 1)] >> ((i & 1) * 4)) & 0x0f;
}

/**
 * The smallest value of `dtype` ≥ each `ideal` (≥ 0), as numbers and as the dtype's storage. Rounding a scale up,
 * never down, keeps the block's range within the codes, so the scale/2 bound holds for the scale actually stored.
 */
function storedScales(
  ideals: Float64Array,
  dtype: ScaleDType,
): { values: Float32Array; stored: Float32Array | Uint16Array } {
  const stored = encode(ideals, dtype);
  // For non-negative floats the next bit pattern is the next value up.
  const bits = dtype === 'float32' ? new Uint32Array(stored.buffer) : (stored as Uint16Array);
  const decode = () => toFloat32({ dtype, shape: [ideals.length], data: stored } as HostTensor);
  const first = decode();
  for (let i = 0; i < ideals.length; i++) if (first[i] < ideals[i]) bits[i]++;
  const values = decode();
  for (let i = 0; i < ideals.length; i++)
    if (!Number.isFinite(values[i]))
      throw new InputError(
        `a weight block needs a scale of ${ideals[i]}, beyond ${dtype}: quantize with float32 scales`,
      );
  return { values, stored };
}

/** Round half to even for |x| < 2^51: adding 1.5·2^52 leaves no fraction bits, and IEEE addition rounds ties to
 * even (the same result as python_compat's roundHalfEven, without its branches). */
function roundEven(x: number): number {
  return x + 6755399441055744 - 6755399441055744;
}

/** round-half-even(v / scale) + zp, clamped to [0, maxCode]. */
function codeOf(v: number, scale: number, zp: number, maxCode: number): number {
  const c = roundEven(v / scale) + zp;
  return Math.min(Math.max(c, 0), maxCode);
}

/** float64 values → the dtype's storage (rounded to float32 first, then to 16 bits). */
function encode(values: Float64Array, dtype: ScaleDType): Float32Array | Uint16Array {
  const f32 = Float32Array.from(values);
  return dtype === 'float32' ? f32 : dtype === 'float16' ? f32ToF16(f32) : f32ToBf16(f32);
}

/** W8A8 weights (engine/matmul_int8.ts): int8 codes transposed to [K, N], one symmetric scale per output column. */
export interface Int8ColumnWeight {
  B: HostTensor<'int8'>;
  scales: HostTensor<'float32'>;
}

/**
 * Quantizes a float weight [N, K] per output row n (a column of the [K, N] product): scale = max|w[n]| / 127,
 * code = round-half-even(w / scale) in [−127, 127], so every weight is off by at most scale/2.
 */
export function quantizeInt8Columns(weight: HostTensor): Int8ColumnWeight {
  if (weight.shape.length !== 2)
    throw new InputError(`only 2-D [out, in] weights are quantized, got [${weight.shape}]`);
  const [N, K] = weight.shape;
  const w = toFloat32(weight);
  const scales = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let i = n * K; i < (n + 1) * K; i++) m = Math.max(m, Math.abs(w[i]));
    scales[n] = m / 127;
  }
  // Transposed in bands of rows: each k writes a run of consecutive bytes while the band's rows are read in order.
  const B = new Int8Array(K * N);
  const BAND = 16;
  for (let n0 = 0; n0 < N; n0 += BAND)
    for (let k = 0; k < K; k++)
      for (let n = n0; n < Math.min(n0 + BAND, N); n++) {
        const scale = scales[n];
        if (scale === 0) continue;
        const c = roundEven(w[n * K + k] / scale);
        B[k * N + n] = Math.min(Math.max(c, -127), 127);
      }
  return {
    B: { dtype: 'int8', shape: [K, N], data: B },
    scales: { dtype: 'float32', shape: [N], data: scales },
  };
}
