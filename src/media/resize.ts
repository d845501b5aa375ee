// Pillow's `Image.resize` for 8-bit images, bit for bit (upstream: python-pillow/Pillow
// `src/libImaging/Resample.c`, behaviour unchanged from 9.x to 11.x). Both VGGT's loader and the Qwen2-VL image
// processor resize with PIL, so the last digit of every model input depends on this arithmetic:
// - separable convolution, horizontal pass first, the intermediate image rounded and clamped to uint8;
// - the filter support is widened by the scale factor when downscaling (antialiasing);
// - per-output-pixel weights are computed in float64, normalised to sum 1, then turned into fixed point with
//   22 fractional bits (32 − 8 − 2); sums start at one half and are shifted back with an arithmetic shift.
// `Image.resize` has reducing_gap=None by default, so no box pre-reduction happens before the convolution.
import type { RgbImage } from './image.ts';

export type ResampleFilter = 'bicubic' | 'bilinear';

interface Kernel {
  /** Half-width of the kernel at scale 1, in input pixels. */
  support: number;
  weight(x: number): number;
}

// Written in the same operation order as Resample.c so the float64 weights agree to the last bit.
const KERNELS: Record<ResampleFilter, Kernel> = {
  bilinear: {
    support: 1,
    weight: (x) => {
      if (x < 0) x = -x;
      return x < 1 ? 1 - x : 0;
    },
  },
  // Keys' cubic convolution with a = −0.5.
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      if (x < 0) x = -x;
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);

/** Fixed-point weights of a 1-D resampling: output i reads `count[i]` inputs from `start[i]`. */
interface Coefficients {
  /** Weights per output, `kernelSize` slots each (unused slots are 0). */
  weights: Int32Array;
  kernelSize: number;
  start: Int32Array;
  count: Int32Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the whole input range (box = [0, inSize]). */
function coefficients(inSize: number, outSize: number, kernel: Kernel): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = kernel.support * filterScale;
  const kernelSize = Math.ceil(support) * 2 + 1;
  const weights = new Int32Array(outSize * kernelSize);
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const w = new Float64Array(kernelSize);
  const invScale = 1 / filterScale;
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const n = hi - lo;
    let total = 0;
    for (let k = 0; k < n; k++) {
      w[k] = kernel.weight((k + lo - center + 0.5) * invScale);
      total += w[k];
    }
    for (let k = 0; k < n; k++) {
      const v = total !== 0 ? w[k] / total : w[k];
      weights[i * kernelSize + k] = Math.trunc(
        v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS),
      );
    }
    start[i] = lo;
    count[i] = n;
  }
  return { weights, kernelSize, start, count };
}

/** Back from fixed point to uint8: arithmetic shift, then clamp (Pillow's clip8 table). */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return Math.min(Math.max(v, 0), 255);
}

/** Horizontal pass over rows [row0, row0 + rows) of an RGB image. */
function resampleRows(
  src: Uint8Array,
  width: number,
  row0: number,
  rows: number,
  c: Coefficients,
): Uint8Array {
  const outWidth = c.start.length;
  const out = new Uint8Array(outWidth * rows * 3);
  for (let y = 0; y < rows; y++) {
    const rowIn = (row0 + y) * width * 3;
    for (let x = 0; x < outWidth; x++) {
      const k0 = x * c.kernelSize;
      const n = c.count[x];
      let p = rowIn + c.start[x] * 3;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let k = 0; k < n; k++, p += 3) {
        const w = c.weights[k0 + k];
        r += src[p] * w;
        g += src[p + 1] * w;
        b += src[p + 2] * w;
      }
      const o = (y * outWidth + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

/** Vertical pass: output row y mixes input rows start[y] − row0 … (bounds relative to the first row held).
 * Whole rows are accumulated at once (same sums as Pillow's per-pixel loop; integers, so order is irrelevant). */
function resampleColumns(src: Uint8Array, width: number, row0: number, c: Coefficients): Uint8Array {
  const outHeight = c.start.length;
  const stride = width * 3;
  const out = new Uint8Array(outHeight * stride);
  const acc = new Int32Array(stride);
  for (let y = 0; y < outHeight; y++) {
    acc.fill(HALF);
    for (let k = 0; k < c.count[y]; k++) {
      const w = c.weights[y * c.kernelSize + k];
      const p0 = (c.start[y] - row0 + k) * stride;
      for (let i = 0; i < stride; i++) acc[i] += src[p0 + i] * w;
    }
    for (let i = 0; i < stride; i++) out[y * stride + i] = clip8(acc[i]);
  }
  return out;
}

/** `PIL.Image.resize((width, height), filter)` of an RGB image. */
export function resize(
  image: RgbImage,
  width: number,
  height: number,
  filter: ResampleFilter = 'bicubic',
): RgbImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
    throw new Error(`resize: target size must be positive integers, got ${width}×${height}`);
  const kernel = KERNELS[filter];
  let data = image.data;
  let row0 = 0;
  const vertical = height !== image.height ? coefficients(image.height, height, kernel) : undefined;
  if (width !== image.width) {
    // Only the input rows the vertical pass will read are resampled horizontally (as Pillow does).
    const first = vertical ? vertical.start[0] : 0;
    const last = vertical ? vertical.start[height - 1] + vertical.count[height - 1] : image.height;
    data = resampleRows(data, image.width, first, last - first, coefficients(image.width, width, kernel));
    row0 = first;
  }
  if (vertical) data = resampleColumns(data, width, row0, vertical);
  return { width, height, data: data === image.data ? data.slice() : data };
}
