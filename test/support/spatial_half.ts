// Host references of `--spatial-res half` (src/models/spatial_mllm/spatial_encoder.ts), written apart from the graph:
// the frames 2×2-average-pooled, and each token of the pooled grid given to the 2×2 patches it covers.
import { type HostTensor, tensor } from '../../src/tensor.ts';

/** [..., H, W] float32 → [..., H/2, W/2]: the mean of each 2×2 block. */
export function pool2x2(x: HostTensor): HostTensor {
  const [H, W] = x.shape.slice(-2);
  const src = x.data as Float32Array;
  const out = new Float32Array(src.length / 4);
  for (let i = 0; i < src.length / (2 * W); i++)
    for (let x2 = 0; x2 < W / 2; x2++) {
      const at = 2 * i * W + 2 * x2;
      out[i * (W / 2) + x2] = (src[at] + src[at + 1] + src[at + W] + src[at + W + 1]) / 4;
    }
  return tensor('float32', [...x.shape.slice(0, -2), H / 2, W / 2], out);
}

/** [..., n + h·w, C] tokens of an h × w grid after n special tokens → [..., n + 2h·2w, C]. */
export function repeat2x2(x: HostTensor, n: number, h: number, w: number): HostTensor {
  const C = x.shape[x.shape.length - 1];
  const src = x.data as Float32Array;
  const [from, to] = [n + h * w, n + 4 * h * w];
  const S = src.length / (from * C);
  const out = new Float32Array(S * to * C);
  for (let s = 0; s < S; s++)
    for (let p = 0; p < to; p++) {
      const y = Math.floor((p - n) / (2 * w));
      const q = p < n ? p : n + (y >> 1) * w + (((p - n) % (2 * w)) >> 1);
      out.set(src.subarray((s * from + q) * C, (s * from + q + 1) * C), (s * to + p) * C);
    }
  return tensor('float32', [...x.shape.slice(0, -2), to, C], out);
}
