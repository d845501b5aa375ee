// Plain-JS float64 references for the composite ops and a Llama/Qwen-style transformer block, written directly
// from the math (independent of the engine) for tests.

export type Mat = Float64Array; // row-major

export function rmsNormRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  rows: number,
  d: number,
  eps: number,
): Mat {
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x[r * d + j] ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let j = 0; j < d; j++) y[r * d + j] = x[r * d + j] * inv * w[j];
  }
  return y;
}

/** x [S, H·D] with per-token tables cos/sin [S, D] (rotate_half convention). */
export function rotaryRef(
  x: ArrayLike<number>,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
  s: number,
  h: number,
  d: number,
): Mat {
  const y = new Float64Array(s * h * d);
  const half = d / 2;
  for (let i = 0; i < s; i++)
    for (let hh = 0; hh < h; hh++)
      for (let j = 0; j < d; j++) {
        const base = i * h * d + hh * d;
        const rot = j < half ? -x[base + j + half] : x[base + j - half];
        y[base + j] = x[base + j] * cos[i * d + j] + rot * sin[i * d + j];
      }
  return y;
}

/**
 * Attention for one batch row. q [S, Hq·D], k/v [T, Hkv·D] (T includes past keys first), causal offset = T − S.
 * bias [S, T] added to logits if given.
 */
export function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  o: {
    s: number;
    t: number;
    hq: number;
    hkv: number;
    d: number;
    causal: boolean;
    bias?: ArrayLike<number>;
    scale?: number;
  },
): Mat {
  const { s, t, hq, hkv, d } = o;
  const scale = o.scale ?? 1 / Math.sqrt(d);
  const out = new Float64Array(s * hq * d);
  const rep = hq / hkv;
  const logits = new Float64Array(t);
  for (let h = 0; h < hq; h++) {
    const kh = Math.floor(h / rep);
    for (let i = 0; i < s; i++) {
      let m = -Infinity;
      for (let j = 0; j < t; j++) {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[i * hq * d + h * d + c] * k[j * hkv * d + kh * d + c];
        let l = dot * scale + (o.bias ? o.bias[i * t + j] : 0);
        if (o.causal && j > t - s + i) l = -Infinity;
        logits[j] = l;
        m = Math.max(m, l);
      }
      let z = 0;
      for (let j = 0; j < t; j++) z += logits[j] = Math.exp(logits[j] - m);
      for (let j = 0; j < t; j++) {
        const p = logits[j] / z;
        for (let c = 0; c < d; c++) out[i * hq * d + h * d + c] += p * v[j * hkv * d + kh * d + c];
      }
    }
  }
  return out;
}

/** y [rows, n] = x [rows, k] · Wᵀ (W [n, k]) + b. */
export function linearRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  rows: number,
  k: number,
  n: number,
  b?: ArrayLike<number>,
): Mat {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < n; c++) {
      let acc = b ? b[c] : 0;
      for (let i = 0; i < k; i++) acc += x[r * k + i] * w[c * k + i];
      y[r * n + c] = acc;
    }
  return y;
}

export const siluRef = (v: number) => v / (1 + Math.exp(-v));

export function maxErrors(got: ArrayLike<number>, want: ArrayLike<number>): { abs: number; rel: number } {
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    abs = Math.max(abs, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return { abs, rel: abs / (scale || 1) };
}
