// VGGT camera and point-map geometry on the host: pose encoding <-> cameras, quaternions, depth unprojection,
// confidence filtering, and exports (PLY point cloud, cameras JSON).
// Upstream: facebookresearch/vggt `vggt/utils/pose_enc.py`, `rotation.py`, `geometry.py` (commit 44b3afbd).
// Upstream runs these in float32 torch (pose/rotation) and float64 numpy (unprojection); `f` (Math.fround) marks
// every float32 rounding so results match to the last bits where the order of operations is known.

const f = Math.fround;

/** Frame count and image size of a batch of per-pixel maps. */
export interface MapDims {
  frames: number;
  height: number;
  width: number;
}

/** Cameras of S frames: extrinsics [S,3,4] camera-from-world [R|t] (OpenCV axes), intrinsics [S,3,3] in pixels. */
export interface Cameras {
  extrinsics: Float32Array;
  intrinsics: Float32Array;
}

/** Rotation matrix (row-major 3x3) of a quaternion in XYZW order; not normalised first, scaled by 2/|q|² instead. */
export function quatToMat(q: ArrayLike<number>, at = 0): number[] {
  const [i, j, k, r] = [q[at], q[at + 1], q[at + 2], q[at + 3]];
  const twoS = f(2 / f(f(f(f(i * i) + f(j * j)) + f(k * k)) + f(r * r)));
  const m = (a: number) => f(twoS * a);
  return [
    f(1 - m(f(f(j * j) + f(k * k)))),
    m(f(f(i * j) - f(k * r))),
    m(f(f(i * k) + f(j * r))),
    m(f(f(i * j) + f(k * r))),
    f(1 - m(f(f(i * i) + f(k * k)))),
    m(f(f(j * k) - f(i * r))),
    m(f(f(i * k) - f(j * r))),
    m(f(f(j * k) + f(i * r))),
    f(1 - m(f(f(i * i) + f(j * j)))),
  ];
}

/**
 * Quaternion (XYZW, real part made non-negative) of a row-major 3x3 rotation matrix. Like upstream (from
 * PyTorch3D), four candidate quaternions are formed and the one with the largest |component| denominator wins
 * (first on ties); denominators are floored at 0.1.
 */
export function matToQuat(m: ArrayLike<number>, at = 0): number[] {
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = Array.from({ length: 9 }, (_, n) => m[at + n]);
  const sqrtPos = (x: number) => (x > 0 ? f(Math.sqrt(x)) : 0);
  const qAbs = [
    sqrtPos(f(f(f(1 + m00) + m11) + m22)),
    sqrtPos(f(f(f(1 + m00) - m11) - m22)),
    sqrtPos(f(f(f(1 - m00) + m11) - m22)),
    sqrtPos(f(f(f(1 - m00) - m11) + m22)),
  ];
  // Candidate quaternions in (r, i, j, k) order, each multiplied by one of r, i, j, k.
  const byRijk = [
    [f(qAbs[0] * qAbs[0]), f(m21 - m12), f(m02 - m20), f(m10 - m01)],
    [f(m21 - m12), f(qAbs[1] * qAbs[1]), f(m10 + m01), f(m02 + m20)],
    [f(m02 - m20), f(m10 + m01), f(qAbs[2] * qAbs[2]), f(m12 + m21)],
    [f(m10 - m01), f(m20 + m02), f(m21 + m12), f(qAbs[3] * qAbs[3])],
  ];
  let best = 0;
  for (let c = 1; c < 4; c++) if (qAbs[c] > qAbs[best]) best = c;
  const denom = f(2 * Math.max(qAbs[best], f(0.1)));
  const [r, i, j, k] = byRijk[best].map((v) => f(v / denom));
  return r < 0 ? [-i, -j, -k, -r] : [i, j, k, r];
}

/**
 * Pose encodings [S,9] (translation 3, quaternion XYZW 4, vertical FoV, horizontal FoV) to cameras for images of
 * `height`×`width` pixels: fy = (H/2)/tan(fov_h/2), fx = (W/2)/tan(fov_w/2), principal point (W/2, H/2).
 */
export function poseEncodingToCameras(poseEnc: ArrayLike<number>, height: number, width: number): Cameras {
  const frames = poseEnc.length / 9;
  const extrinsics = new Float32Array(frames * 12);
  const intrinsics = new Float32Array(frames * 9);
  for (let s = 0; s < frames; s++) {
    const p = s * 9;
    const R = quatToMat(poseEnc, p + 3);
    for (let row = 0; row < 3; row++) {
      for (let col = 0; col < 3; col++) extrinsics[s * 12 + row * 4 + col] = R[row * 3 + col];
      extrinsics[s * 12 + row * 4 + 3] = poseEnc[p + row];
    }
    const K = intrinsics.subarray(s * 9, s * 9 + 9);
    K[0] = f(width / 2 / f(Math.tan(f(poseEnc[p + 8] / 2))));
    K[4] = f(height / 2 / f(Math.tan(f(poseEnc[p + 7] / 2))));
    K[2] = width / 2;
    K[5] = height / 2;
    K[8] = 1;
  }
  return { extrinsics, intrinsics };
}

/** Inverse of poseEncodingToCameras: [S,9] encodings; the principal point is not encoded. */
export function camerasToPoseEncoding(cameras: Cameras, height: number, width: number): Float32Array {
  const frames = cameras.extrinsics.length / 12;
  const out = new Float32Array(frames * 9);
  for (let s = 0; s < frames; s++) {
    const E = cameras.extrinsics.subarray(s * 12, s * 12 + 12);
    const R = [E[0], E[1], E[2], E[4], E[5], E[6], E[8], E[9], E[10]];
    const K = cameras.intrinsics.subarray(s * 9, s * 9 + 9);
    out.set([E[3], E[7], E[11], ...matToQuat(R)], s * 9);
    out[s * 9 + 7] = f(2 * f(Math.atan(f(height / 2 / K[4]))));
    out[s * 9 + 8] = f(2 * f(Math.atan(f(width / 2 / K[0]))));
  }
  return out;
}

/**
 * Camera-frame points [H,W,3] of one depth map [H,W] (OpenCV axes). Pixel (u, v) sits at integer coordinates
 * 0..W−1, 0..H−1 (no +0.5, as upstream); computed in float64, then rounded to float32 like upstream.
 */
export function depthToCameraPoints(
  depth: ArrayLike<number>,
  intrinsic: ArrayLike<number>,
  height: number,
  width: number,
): Float32Array {
  const [fu, cu, fv, cv] = [intrinsic[0], intrinsic[2], intrinsic[4], intrinsic[5]];
  if (intrinsic[1] !== 0 || intrinsic[3] !== 0)
    throw new Error('depthToCameraPoints: intrinsics must have zero skew');
  const out = new Float32Array(height * width * 3);
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const n = v * width + u;
      const d = depth[n];
      out[n * 3] = ((u - cu) * d) / fu;
      out[n * 3 + 1] = ((v - cv) * d) / fv;
      out[n * 3 + 2] = d;
    }
  }
  return out;
}

/**
 * World points [S,H,W,3] of depth maps [S,H,W] (a trailing 1-channel axis is the same layout) seen by `cameras`:
 * world = Rᵀ·cam − Rᵀ·t. Upstream (`unproject_depth_map_to_point_map`) returns float64; every consumer here
 * works in float32 and a 128-frame map in float64 takes ~600 MB, so the result is rounded to float32.
 */
export function unprojectDepthMaps(depth: Float32Array, cameras: Cameras, dims: MapDims): Float32Array {
  const { frames, height, width } = dims;
  const hw = height * width;
  const out = new Float32Array(frames * hw * 3);
  for (let s = 0; s < frames; s++) {
    const E = cameras.extrinsics.subarray(s * 12, s * 12 + 12);
    const K = cameras.intrinsics.subarray(s * 9, s * 9 + 9);
    const cam = depthToCameraPoints(depth.subarray(s * hw, (s + 1) * hw), K, height, width);
    // Rᵀ (row i = column i of R) and −Rᵀt; upstream forms −Rᵀt with a float32 matmul.
    const Rt = [E[0], E[4], E[8], E[1], E[5], E[9], E[2], E[6], E[10]];
    const t = [0, 1, 2].map(
      (i) => -f(f(f(Rt[i * 3] * E[3]) + f(Rt[i * 3 + 1] * E[7])) + f(Rt[i * 3 + 2] * E[11])),
    );
    const base = s * hw * 3;
    for (let n = 0; n < hw * 3; n += 3) {
      const x = cam[n];
      const y = cam[n + 1];
      const z = cam[n + 2];
      for (let i = 0; i < 3; i++)
        out[base + n + i] = x * Rt[i * 3] + y * Rt[i * 3 + 1] + z * Rt[i * 3 + 2] + t[i];
    }
  }
  return out;
}

/**
 * numpy's default ("linear") percentile of float32 values, q in [0, 100], as numpy 1.24 computes it: the two
 * neighbouring order statistics a ≤ b are blended in float64, but their difference b − a is taken in float32.
 * NaN if any value is NaN.
 */
export function percentile(values: Float32Array, q: number): number {
  const n = values.length;
  if (n === 0) throw new Error('percentile of an empty array');
  if (values.some(Number.isNaN)) return Number.NaN;
  const virtual = (n - 1) * (q / 100);
  const lo = Math.min(Math.max(Math.floor(virtual), 0), n - 1);
  const hi = Math.min(lo + 1, n - 1);
  const work = Float32Array.from(values);
  const a = selectKth(work, lo);
  if (hi === lo) return a;
  let b = Number.POSITIVE_INFINITY;
  for (let i = lo + 1; i < n; i++) if (work[i] < b) b = work[i];
  const gamma = virtual - lo;
  const diff = f(b - a);
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

/** Rearranges `a` so that a[k] is the k-th smallest, smaller values before it and larger after (quickselect). */
function selectKth(a: Float32Array, k: number): number {
  let [left, right] = [0, a.length - 1];
  while (left < right) {
    const pivot = a[(left + right) >>> 1];
    let [i, j] = [left, right];
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        [a[i], a[j]] = [a[j], a[i]];
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return a[k];
}

/**
 * Points whose confidence is ≥ the `q`-th percentile of all confidences and > `minConf`. Both thresholds are
 * compared in float32, as torch does with a Python/numpy scalar (so 0.1 means float32(0.1)).
 * VGGT's demo uses (q, 1e-5); Spatial-MLLM's space-aware sampling (50, 0.1).
 */
export function confidenceMask(
  conf: Float32Array,
  q: number,
  minConf: number,
): { mask: Uint8Array; threshold: number } {
  const threshold = percentile(conf, q);
  const [thr32, min32] = [f(threshold), f(minConf)];
  const mask = new Uint8Array(conf.length);
  for (let i = 0; i < conf.length; i++) mask[i] = conf[i] >= thr32 && conf[i] > min32 ? 1 : 0;
  return { mask, threshold };
}

/** A point cloud: xyz positions and 8-bit RGB colours, one triple per point. */
export interface PointCloud {
  positions: Float32Array;
  colors: Uint8Array;
}

/**
 * The masked points of world-point maps [S,H,W,3], coloured from the images VGGT saw ([S,3,H,W], values in
 * [0,1]); colours are truncated like upstream's demo (`(x*255).astype(uint8)`), clamped to 0..255.
 */
export function maskedPointCloud(
  points: Float32Array,
  images: Float32Array,
  mask: Uint8Array,
  dims: MapDims,
): PointCloud {
  const hw = dims.height * dims.width;
  let count = 0;
  for (const m of mask) count += m;
  const positions = new Float32Array(count * 3);
  const colors = new Uint8Array(count * 3);
  let o = 0;
  for (let n = 0; n < mask.length; n++) {
    if (!mask[n]) continue;
    const [s, p] = [Math.floor(n / hw), n % hw];
    for (let c = 0; c < 3; c++) {
      positions[o * 3 + c] = points[n * 3 + c];
      colors[o * 3 + c] = Math.min(255, Math.max(0, Math.trunc(f(images[(s * 3 + c) * hw + p] * 255))));
    }
    o++;
  }
  return { positions, colors };
}

/** Binary little-endian PLY of a point cloud: vertices with float x y z and uchar red green blue. */
export function encodePly(cloud: PointCloud): Uint8Array {
  const count = cloud.positions.length / 3;
  const header =
    'ply\nformat binary_little_endian 1.0\n' +
    `element vertex ${count}\n` +
    'property float x\nproperty float y\nproperty float z\n' +
    'property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n';
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(head.length + count * 15);
  out.set(head);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) {
    const at = head.length + i * 15;
    for (let c = 0; c < 3; c++) view.setFloat32(at + c * 4, cloud.positions[i * 3 + c], true);
    out.set(cloud.colors.subarray(i * 3, i * 3 + 3), at + 12);
  }
  return out;
}

/** One camera as written to cameras JSON: row-major matrices and the image size they refer to. */
export interface CameraRecord {
  frame: number;
  extrinsic: number[][];
  intrinsic: number[][];
  width: number;
  height: number;
}

/** Per-frame camera records (extrinsic 3x4 camera-from-world, intrinsic 3x3) for JSON export. */
export function cameraRecords(cameras: Cameras, height: number, width: number): CameraRecord[] {
  const rows = (m: Float32Array, cols: number) =>
    Array.from({ length: 3 }, (_, r) => Array.from(m.subarray(r * cols, r * cols + cols)));
  return Array.from({ length: cameras.extrinsics.length / 12 }, (_, s) => ({
    frame: s,
    extrinsic: rows(cameras.extrinsics.subarray(s * 12, s * 12 + 12), 4),
    intrinsic: rows(cameras.intrinsics.subarray(s * 9, s * 9 + 9), 3),
    width,
    height,
  }));
}
