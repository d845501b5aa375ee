// VGGT's camera head (vggt `heads/camera_head.py`, `heads/head_act.py`): the camera tokens of the last aggregator
// layer, refined over a fixed number of iterations into a 9-d pose encoding (translation 3, quaternion xyzw 4,
// FoV h/w). Every iteration restarts from the same normalized camera tokens, conditioned (adaLN) on the
// previous accumulated encoding before activation; the trunk attends across the frames of each batch element.
import * as E from '../../engine/index.ts';
import { tensor } from '../../tensor.ts';
import { transformerBlock } from '../layers.ts';
import type { VggtConfig } from './config.ts';

const POSE_DIM = 9;
const PREFIX = 'camera_head';

/** Linear translation and quaternion, ReLU on the two FoV entries. */
function activatePose(pose: E.Tensor): E.Tensor {
  const [tq, fov] = E.split(pose, [7, 2], -1);
  return E.concat([tq, E.relu(fov)], -1);
}

/** camera tokens [B, S, 2C] (token 0 of the last layer) → activated pose encodings [B, S, 9], one per iteration. */
export function cameraHead(g: E.Graph, cameraTokens: E.Tensor, c: VggtConfig): E.Tensor[] {
  const dim = 2 * c.aggregator.embedDim;
  const h = c.cameraHead;
  const p = (name: string, shape: number[]) => g.param(`${PREFIX}.${name}`, 'float32', shape);
  const linear = (t: E.Tensor, name: string, inF: number, outF: number) =>
    E.linear(t, p(`${name}.weight`, [outF, inF]), p(`${name}.bias`, [outF]));
  const norm = (t: E.Tensor, name: string) =>
    E.layerNorm(t, p(`${name}.weight`, [dim]), p(`${name}.bias`, [dim]));
  const ones = E.constant(g, tensor('float32', [dim], new Float32Array(dim).fill(1)));

  const tokens = norm(cameraTokens, 'token_norm');
  const adaNormed = E.layerNorm(tokens, ones, null, 1e-6); // adaln_norm: no affine
  let pose: E.Tensor | undefined;
  const outputs: E.Tensor[] = [];
  for (let it = 0; it < h.iterations; it++) {
    const condition = linear(pose ?? p('empty_pose_tokens', [1, 1, POSE_DIM]), 'embed_pose', POSE_DIM, dim);
    const modulation = linear(E.silu(condition), 'poseLN_modulation.1', dim, 3 * dim);
    const [shift, scale, gate] = E.split(modulation, [dim, dim, dim], -1);
    let x = E.add(E.mul(gate, E.add(E.mul(adaNormed, E.add(scale, 1)), shift)), tokens);
    for (let i = 0; i < h.trunkDepth; i++)
      x = transformerBlock(g, x, `${PREFIX}.trunk.${i}`, {
        dim,
        numHeads: h.numHeads,
        mlpRatio: h.mlpRatio,
        eps: 1e-5,
      });
    const hidden = E.gelu(linear(norm(x, 'trunk_norm'), 'pose_branch.fc1', dim, dim / 2));
    const delta = linear(hidden, 'pose_branch.fc2', dim / 2, POSE_DIM);
    pose = pose ? E.add(pose, delta) : delta;
    outputs.push(activatePose(pose));
  }
  return outputs;
}
