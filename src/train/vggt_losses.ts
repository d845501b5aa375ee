// VGGT's training losses as engine graph functions (facebookresearch/vggt `training/loss.py`, `MultitaskLoss` with
// the weights of its training configs: camera 5.0 with L1, depth 1.0 and points 1.0 with γ = 1, α = 0.2):
//   camera  per refinement iteration i of n, weight 0.6^(n−1−i): L1 on translation (each entry clamped at 100),
//           quaternion and FoV of the absT_quaR_FoV encoding, each averaged; summed over iterations and divided by
//           n; camera = T + R + 0.5·FL.
//   depth / points   `regression_loss`: over valid pixels, reg = ‖gt − pred‖₂ (the channel norm, not squared, as
//           upstream computes it despite its docstring) and conf = γ·reg·c − α·log c; plus the multi-scale
//           `gradient_loss` (L1 of horizontal and vertical differences of the masked error, 4 scales ::2^s).
// Simplifications (each: what upstream does, why not here):
//   - `valid_range` 0.98 quantile filtering of the per-pixel losses is not applied: it drops outliers of noisy
//     real scans; the synthetic ground truth is exact, and a quantile needs a sort the autodiff has no rule for.
//   - The point loss uses the same gradient term as depth; upstream's point config uses the surface-normal loss
//     (`normal_loss`, cross products of neighbour differences), a refinement that matters for real scans' surfaces.
//   - Upstream's camera loss drops frames with ≤ 100 valid pixels (read from batch element 0 only); rendered rooms
//     have a hit at every pixel, so every frame counts.
//   - ‖·‖₂ of the point error is √(Σ d² + 1e-12): torch's norm has a zero subgradient at 0, √ has none.
// Masks are float tensors (1 = valid): a masked mean is Σ m·x / Σ m, which equals upstream's mean over x[mask].
import * as E from '../engine/index.ts';

export interface CameraLossOptions {
  /** Decay of the earlier refinement iterations (upstream gamma 0.6). */
  gamma: number;
  weightTrans: number;
  weightRot: number;
  weightFocal: number;
}

export interface RegressionLossOptions {
  /** Weight of the confidence-weighted error (γ) and of −log c (α). */
  gamma: number;
  alpha: number;
  /** Scales of the gradient term (0 = none). */
  gradScales: number;
}

export interface VggtLossOptions {
  camera: CameraLossOptions & { weight: number };
  depth: RegressionLossOptions & { weight: number };
  point: RegressionLossOptions & { weight: number };
}

export const VGGT_LOSS_DEFAULTS: VggtLossOptions = {
  camera: { weight: 5, gamma: 0.6, weightTrans: 1, weightRot: 1, weightFocal: 0.5 },
  depth: { weight: 1, gamma: 1, alpha: 0.2, gradScales: 4 },
  point: { weight: 1, gamma: 1, alpha: 0.2, gradScales: 4 },
};

const meanAll = (x: E.Tensor) => E.mean(x, []);
const sumAll = (x: E.Tensor) => E.sum(x, []);

/** Camera loss of the pose encodings of every iteration [B, S, 9] against the ground truth [B, S, 9]. */
export function cameraLoss(
  poseEncList: readonly E.Tensor[],
  gt: E.Tensor,
  o: CameraLossOptions = VGGT_LOSS_DEFAULTS.camera,
): { loss: E.Tensor; T: E.Tensor; R: E.Tensor; FL: E.Tensor } {
  const n = poseEncList.length;
  const [gtT, gtR, gtF] = E.split(gt, [3, 4, 2], -1);
  let [T, R, FL] = [undefined, undefined, undefined] as (E.Tensor | undefined)[];
  const acc = (a: E.Tensor | undefined, b: E.Tensor) => (a ? E.add(a, b) : b);
  poseEncList.forEach((pred, i) => {
    const w = o.gamma ** (n - i - 1);
    const [pT, pR, pF] = E.split(pred, [3, 4, 2], -1);
    T = acc(T, E.mul(meanAll(E.minimum(E.abs(E.sub(pT, gtT)), 100)), w));
    R = acc(R, E.mul(meanAll(E.abs(E.sub(pR, gtR))), w));
    FL = acc(FL, E.mul(meanAll(E.abs(E.sub(pF, gtF))), w));
  });
  const [t, r, f] = [T!, R!, FL!].map((x) => E.div(x, n));
  const loss = E.add(E.add(E.mul(t, o.weightTrans), E.mul(r, o.weightRot)), E.mul(f, o.weightFocal));
  return { loss, T: t, R: r, FL: f };
}

/** ‖a − b‖₂ over the last axis (keeps it, size 1): |a − b| for one channel. */
function channelDistance(a: E.Tensor, b: E.Tensor): E.Tensor {
  const d = E.sub(a, b);
  if (a.shape[a.shape.length - 1] === 1) return E.abs(d);
  return E.sqrt(E.add(E.sum(E.mul(d, d), [-1], true), 1e-12));
}

/**
 * Upstream `gradient_loss` at one scale: pred, gt [B, S, H, W, C], mask [B, S, H, W]. The error is masked, its
 * horizontal and vertical differences (|·|, where both pixels are valid, clamped at 100) are summed over every
 * image and divided by the number of valid (pixel, channel) pairs.
 */
export function gradientLoss(pred: E.Tensor, gt: E.Tensor, mask: E.Tensor): E.Tensor {
  const m = E.unsqueeze(mask, [-1]);
  const C = pred.shape[4] as number;
  const diff = E.mul(E.sub(pred, gt), m);
  const H = pred.shape[2] as number;
  const W = pred.shape[3] as number;
  const along = (axis: number, size: number) => {
    const hi = (t: E.Tensor) => E.slice(t, [axis], [1], [size]);
    const lo = (t: E.Tensor) => E.slice(t, [axis], [0], [size - 1]);
    const g = E.abs(E.sub(hi(diff), lo(diff)));
    return sumAll(E.minimum(E.mul(g, E.mul(hi(m), lo(m))), 100));
  };
  const total = E.add(along(3, W), along(2, H));
  return E.div(total, E.mul(sumAll(mask), C));
}

/** `gradient_loss_multi_scale_wrapper`: the mean of gradientLoss on the maps subsampled by 1, 2, 4, … */
export function multiScaleGradientLoss(
  pred: E.Tensor,
  gt: E.Tensor,
  mask: E.Tensor,
  scales: number,
): E.Tensor {
  let total: E.Tensor | undefined;
  for (let s = 0; s < scales; s++) {
    const step = 2 ** s;
    const sub = (t: E.Tensor) =>
      step === 1 ? t : E.slice(t, [2, 3], [0, 0], [t.shape[2] as number, t.shape[3] as number], [step, step]);
    const l = gradientLoss(sub(pred), sub(gt), sub(mask));
    total = total ? E.add(total, l) : l;
  }
  return E.div(total!, scales);
}

export interface RegressionLoss {
  conf: E.Tensor;
  reg: E.Tensor;
  grad: E.Tensor;
}

/**
 * Upstream `regression_loss`: pred, gt [B, S, H, W, C], conf and mask [B, S, H, W] → the confidence-weighted
 * loss, the plain regression loss and the gradient loss, each a scalar.
 */
export function regressionLoss(
  pred: E.Tensor,
  gt: E.Tensor,
  conf: E.Tensor,
  mask: E.Tensor,
  o: RegressionLossOptions,
): RegressionLoss {
  const dist = E.squeeze(channelDistance(gt, pred), [-1]);
  const count = sumAll(mask);
  const masked = (x: E.Tensor) => E.div(sumAll(E.mul(x, mask)), count);
  const confTerm = E.sub(E.mul(E.mul(dist, conf), o.gamma), E.mul(E.log(conf), o.alpha));
  const grad =
    o.gradScales > 0 ? multiScaleGradientLoss(pred, gt, mask, o.gradScales) : E.scalar(pred.graph, 0);
  return { conf: masked(confTerm), reg: masked(dist), grad };
}

export interface VggtPredictionTensors {
  poseEncList: E.Tensor[];
  depth: E.Tensor;
  depthConf: E.Tensor;
  worldPoints: E.Tensor;
  worldPointsConf: E.Tensor;
}

export interface VggtTargets {
  /** absT_quaR_FoV encodings of the normalised ground-truth cameras [B, S, 9]. */
  pose: E.Tensor;
  /** Normalised depth [B, S, H, W, 1] and world points in the first camera's frame [B, S, H, W, 3]. */
  depth: E.Tensor;
  points: E.Tensor;
  /** 1 where the ground truth is valid [B, S, H, W]. */
  mask: E.Tensor;
}

/** `MultitaskLoss`: the weighted sum of the three losses, with every component for logging. */
export function vggtLoss(
  p: VggtPredictionTensors,
  t: VggtTargets,
  o: VggtLossOptions = VGGT_LOSS_DEFAULTS,
): { loss: E.Tensor; parts: Record<string, E.Tensor> } {
  const cam = cameraLoss(p.poseEncList, t.pose, o.camera);
  const depth = regressionLoss(p.depth, t.depth, p.depthConf, t.mask, o.depth);
  const point = regressionLoss(p.worldPoints, t.points, p.worldPointsConf, t.mask, o.point);
  const sum3 = (r: RegressionLoss) => E.add(E.add(r.conf, r.reg), r.grad);
  const loss = E.add(
    E.add(E.mul(cam.loss, o.camera.weight), E.mul(sum3(depth), o.depth.weight)),
    E.mul(sum3(point), o.point.weight),
  );
  return {
    loss,
    parts: {
      loss_camera: cam.loss,
      loss_T: cam.T,
      loss_R: cam.R,
      loss_FL: cam.FL,
      loss_conf_depth: depth.conf,
      loss_reg_depth: depth.reg,
      loss_grad_depth: depth.grad,
      loss_conf_point: point.conf,
      loss_reg_point: point.reg,
      loss_grad_point: point.grad,
    },
  };
}
