// The engine API that model code uses: build a Graph with ops and composites, then lower it with toOnnx.

export { type AttentionOptions, type AttentionResult, attention, heads, segmentBias } from './attention.ts';
export { type BlockedAttentionOptions, blockedAttention } from './blocked_attention.ts';
export type { Lowering } from './composite.ts';
export { ifElse } from './control_flow.ts';
export { Graph, type Node, type Tensor } from './graph.ts';
export { lower } from './lower.ts';
export { type ActivationScale, matmulInt8 } from './matmul_int8.ts';
export { gatherNBits, matmulNBits, type NBitsOptions } from './matmul_nbits.ts';
export {
  graphHash,
  type ModelStore,
  type OnnxModel,
  type SessionModel,
  sessionModel,
  storedModel,
  type ToOnnxOptions,
  toOnnx,
  type WeightSource,
} from './onnx.ts';
export * from './ops.ts';
export { recomputeBoundary } from './recompute.ts';
export { rmsNorm } from './rms_norm.ts';
export { rotary } from './rotary.ts';
export { type Dim, type Shape, ShapeError } from './shape.ts';
