// The engine API that model code uses: build a Graph with ops and composites, then lower it with toOnnx.
export * from './ops.ts';
export { Graph, type Tensor, type Node } from './graph.ts';
export { type Dim, type Shape, ShapeError } from './shape.ts';
export { type Lowering } from './composite.ts';
export { lower } from './lower.ts';
export { toOnnx, graphHash, type OnnxModel, type ToOnnxOptions, type WeightSource } from './onnx.ts';
export { rmsNorm } from './rms_norm.ts';
export { rotary } from './rotary.ts';
export { attention, segmentBias, type AttentionOptions, type AttentionResult } from './attention.ts';
export { matmulNBits, type NBitsOptions } from './matmul_nbits.ts';
