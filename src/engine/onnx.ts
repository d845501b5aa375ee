// Serialization of a lowered graph to an ONNX ModelProto (onnx-proto). Deterministic: the same graph and options
// give the same bytes. Parameters become initializers (weights from a WeightSource, inline or in an external
// data file for models over protobuf's 2 GB limit) or graph inputs (training).
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import onnxProto, { type onnx as P } from 'onnx-proto';

const { onnx } = onnxProto;

import { BYTES, type DType, f32ToBf16, f32ToF16, type HostTensor, numel, toFloat32 } from '../tensor.ts';
import type { Lowering } from './composite.ts';
import { branchesOf } from './control_flow.ts';
import type { AttrValue, Graph, Node, Tensor } from './graph.ts';
import { liveNodes, lower } from './lower.ts';
import { fmt } from './shape.ts';

export const OPSET = 21;
export const IR_VERSION = 10;

const ONNX_TYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

/** Where parameter values come from: a checkpoint (see weights/) or a plain map. */
export interface WeightSource {
  read(name: string): HostTensor;
}

export interface ToOnnxOptions {
  lowering?: Lowering;
  /** 'initializers' (inference, default) or 'inputs' (training: parameters are fed each run). */
  params?: 'initializers' | 'inputs';
  weights?: WeightSource | Map<string, HostTensor>;
  /** Write initializers of at least `threshold` bytes (default 1024) to this file, next to the model file. */
  externalData?: { path: string; threshold?: number };
}

export interface OnnxModel {
  bytes: Uint8Array;
  inputNames: string[];
  outputNames: string[];
  /** Names of parameters that were bound as graph inputs. */
  paramInputs: string[];
}

function valueInfo(name: string, t: Tensor): P.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_TYPE[t.dtype],
        shape: { dim: t.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function rawBytes(t: HostTensor): Uint8Array {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function tensorProto(name: string, t: HostTensor): P.ITensorProto {
  return { name, dims: t.shape, dataType: ONNX_TYPE[t.dtype], rawData: rawBytes(t) };
}

function attribute(name: string, v: Exclude<AttrValue, { branch: unknown }>): P.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number')
    return Number.isInteger(v) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v };
  if (typeof v === 'string') {
    // `to` of Cast names a dtype.
    if (name === 'to' && v in ONNX_TYPE) return { name, type: A.INT, i: ONNX_TYPE[v as DType] };
    return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  }
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string'))
      return { name, type: A.STRINGS, strings: (v as string[]).map((x) => new TextEncoder().encode(x)) };
    return { name, type: A.INTS, ints: v as number[] };
  }
  if ('float' in v) return { name, type: A.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: A.FLOATS, floats: v.floats };
  return { name, type: A.TENSOR, t: tensorProto('', v) };
}

/** Converts a checkpoint tensor to the dtype the graph declared (bf16/fp16/fp32 conversions only). */
export function castWeight(name: string, t: HostTensor, dtype: DType, shape: readonly number[]): HostTensor {
  if (fmt(t.shape) !== fmt(shape))
    throw new Error(`weight ${name}: checkpoint shape ${fmt(t.shape)} but the graph expects ${fmt(shape)}`);
  if (t.dtype === dtype) return t;
  const floats = ['float32', 'float16', 'bfloat16'];
  if (!floats.includes(t.dtype) || !floats.includes(dtype))
    throw new Error(`weight ${name}: checkpoint dtype ${t.dtype} cannot be used as ${dtype}`);
  const f = toFloat32(t);
  const data = dtype === 'float32' ? f : dtype === 'float16' ? f32ToF16(f) : f32ToBf16(f);
  return { dtype, shape: [...t.shape], data } as HostTensor;
}

const readWeight = (src: WeightSource | Map<string, HostTensor>, name: string): HostTensor => {
  if (src instanceof Map) {
    const t = src.get(name);
    if (!t) throw new Error(`weight ${name} is missing from the weights given`);
    return t;
  }
  return src.read(name);
};

/** Lowers (if needed) and serializes a graph to ONNX bytes. */
export function toOnnx(graph: Graph, options: ToOnnxOptions = {}): OnnxModel {
  const g = lower(graph, options.lowering ?? 'fused');
  const paramsAsInputs = options.params === 'inputs';
  const nodes = liveNodes(g);
  const used = new Set<number>();
  for (const n of nodes) for (const i of n.inputs) if (i) used.add(i.id);
  for (const o of g.outputs) used.add(o.tensor.id);

  const initializers: P.ITensorProto[] = [];
  const inputs: P.IValueInfoProto[] = g.inputs.map((t) => valueInfo(g.nameOf(t), t));
  const paramInputs: string[] = [];
  let ext: { fd: number; offset: number; file: string; threshold: number } | undefined;
  if (options.externalData)
    ext = {
      fd: openSync(options.externalData.path, 'w'),
      offset: 0,
      file: basename(options.externalData.path),
      threshold: options.externalData.threshold ?? 1024,
    };

  const addInitializer = (name: string, value: HostTensor) => {
    const bytes = rawBytes(value);
    if (ext && bytes.byteLength >= ext.threshold) {
      // 64-byte alignment lets runtimes mmap the data.
      const pad = (64 - (ext.offset % 64)) % 64;
      if (pad) writeSync(ext.fd, new Uint8Array(pad));
      ext.offset += pad;
      writeSync(ext.fd, bytes);
      initializers.push({
        name,
        dims: value.shape,
        dataType: ONNX_TYPE[value.dtype],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: ext.file },
          { key: 'offset', value: String(ext.offset) },
          { key: 'length', value: String(bytes.byteLength) },
        ],
      });
      ext.offset += bytes.byteLength;
    } else initializers.push(tensorProto(name, value));
  };

  try {
    for (const [name, t] of [...g.params].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (!used.has(t.id)) continue;
      if (paramsAsInputs) {
        inputs.push(valueInfo(name, t));
        paramInputs.push(name);
        continue;
      }
      if (!options.weights)
        throw new Error(`graph ${g.name} has parameters (e.g. ${name}) but no weights were given`);
      addInitializer(name, castWeight(name, readWeight(options.weights, name), t.dtype, t.shape as number[]));
    }
    for (const [id, src] of g.sources)
      if (src.kind === 'const' && used.has(id)) addInitializer(`t${id}`, src.value);
  } finally {
    if (ext) closeSync(ext.fd);
  }

  // A graph output produced by a node takes the output's name directly (an Identity would cost ONNX Runtime a copy
  // per run); outputs that are inputs, parameters, constants or a second name of one tensor go through Identity.
  const outputName = new Map<number, string>();
  for (const o of g.outputs)
    if (g.sources.get(o.tensor.id)?.kind === 'node' && !outputName.has(o.tensor.id))
      outputName.set(o.tensor.id, o.name);
  const nameOf = (t: Tensor) => outputName.get(t.id) ?? g.nameOf(t);
  const nodeProto = (n: Node, name: string): P.INodeProto => ({
    name,
    opType: n.op,
    domain: n.domain,
    // An If reads only its condition; its other IR inputs are the values its branches capture by name.
    input: (branchesOf(n) ? n.inputs.slice(0, 1) : n.inputs).map((i) => (i ? nameOf(i) : '')),
    output: n.outputs.map((o) => nameOf(o)),
    attribute: Object.keys(n.attrs)
      .sort()
      .map((k2) => {
        const v = n.attrs[k2];
        if (typeof v !== 'object' || !('branch' in v)) return attribute(k2, v);
        const b = v.branch;
        const graph: P.IGraphProto = {
          name: `${name}_${k2}`,
          node: b.nodes.map((x, j) => nodeProto(x, `${name}_${k2}_${x.op}_${j}`)),
          // Types only: a branch's dims are its own business (the If's outputs carry the shapes).
          output: b.outputs.map((t) => ({
            name: nameOf(t),
            type: { tensorType: { elemType: ONNX_TYPE[t.dtype] } },
          })),
        };
        return { name: k2, type: onnx.AttributeProto.AttributeType.GRAPH, g: graph };
      }),
  });
  const nodeProtos: P.INodeProto[] = nodes.map((n, k) => nodeProto(n, `${n.op}_${k}`));
  const outputs = g.outputs.map((o) => {
    if (nameOf(o.tensor) !== o.name)
      nodeProtos.push({
        name: `output_${o.name}`,
        opType: 'Identity',
        input: [nameOf(o.tensor)],
        output: [o.name],
      });
    return valueInfo(o.name, o.tensor);
  });

  const model: P.IModelProto = {
    irVersion: IR_VERSION,
    producerName: 'spatial-mllm',
    opsetImport: [
      { domain: '', version: OPSET },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: { name: g.name, node: nodeProtos, initializer: initializers, input: inputs, output: outputs },
  };
  return {
    bytes: onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish(),
    inputNames: inputs.map((i) => i.name!),
    outputNames: g.outputs.map((o) => o.name),
    paramInputs,
  };
}

/** Hash of a graph's structure and lowering options (weights excluded): the session-cache key. */
export function graphHash(graph: Graph, options: Pick<ToOnnxOptions, 'lowering' | 'params'> = {}): string {
  const structure = toOnnx(graph, { lowering: options.lowering, params: 'inputs' }).bytes;
  return createHash('sha256')
    .update(structure)
    .update(
      JSON.stringify({ lowering: options.lowering ?? 'fused', params: options.params ?? 'initializers' }),
    )
    .digest('hex');
}

/** Parameter bytes above which a graph is written with external data (protobuf caps a message at 2 GB). */
export const INLINE_LIMIT = 1.5e9;

export interface SessionModel {
  /** ONNX bytes, or the path of a model file whose weights sit in an external data file beside it. */
  model: Uint8Array | string;
  /** Removes the staged files (call once a session has read them). */
  cleanup(): void;
}

const paramBytes = (graph: Graph) =>
  [...graph.params.values()].reduce((n, p) => n + numel(p.shape as number[]) * BYTES[p.dtype], 0);

/** Serializes a graph for a session: inline when small, else staged as model.onnx + weights.bin in a temp folder. */
export function sessionModel(graph: Graph, options: ToOnnxOptions & { tempDir?: string } = {}): SessionModel {
  if (paramBytes(graph) <= INLINE_LIMIT) return { model: toOnnx(graph, options).bytes, cleanup: () => {} };
  const dir = mkdtempSync(join(options.tempDir ?? tmpdir(), 'spatial-mllm-'));
  const path = join(dir, 'model.onnx');
  writeFileSync(path, toOnnx(graph, { ...options, externalData: { path: join(dir, 'weights.bin') } }).bytes);
  return { model: path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A folder of serialized models kept across processes: a graph whose weights took long to prepare (quantized from
 * a bf16 checkpoint: a 36-layer int4 language model ~50 s on 2 cores) is written once as model.onnx + weights.bin
 * and later sessions load the files. `identity` must name everything the weights depend on beyond the graph's
 * structure (which holds every parameter's name, dtype and shape and the ops' attributes): the checkpoint files
 * and the program that transforms them.
 */
export interface ModelStore {
  dir: string;
  identity: string;
  /** Smaller graphs are not stored (default 64 MB of parameters). */
  minBytes?: number;
}

/** Bump when the bytes a graph serializes to change for the same structure and checkpoint (a quantizer change). */
const STORE_VERSION = 1;

/**
 * `sessionModel`, through a store: the stored files when this graph and identity were written before, else
 * written there first (in a temporary folder renamed into place, so an interrupted write leaves nothing that
 * looks complete). `hash`: the graph's `graphHash` with the same lowering, when the caller has it.
 */
export function storedModel(
  graph: Graph,
  store: ModelStore,
  options: ToOnnxOptions & { tempDir?: string; hash?: string } = {},
): SessionModel {
  if (paramBytes(graph) < (store.minBytes ?? 64e6)) return sessionModel(graph, options);
  const key = createHash('sha256')
    .update(JSON.stringify([STORE_VERSION, options.hash ?? graphHash(graph, options), store.identity]))
    .digest('hex')
    .slice(0, 32);
  const folder = join(store.dir, key);
  const model = join(folder, 'model.onnx');
  const keep = { model, cleanup: () => {} };
  if (existsSync(model)) return keep;
  let partial: string | undefined;
  try {
    mkdirSync(store.dir, { recursive: true });
    // What a killed writer left of this model (another writer's would be younger than an hour).
    for (const f of readdirSync(store.dir))
      if (f.startsWith(`${key}.partial-`) && Date.now() - statSync(join(store.dir, f)).mtimeMs > 3600e3)
        rmSync(join(store.dir, f), { recursive: true, force: true });
    partial = mkdtempSync(join(store.dir, `${key}.partial-`));
    const bytes = toOnnx(graph, { ...options, externalData: { path: join(partial, 'weights.bin') } }).bytes;
    writeFileSync(join(partial, 'model.onnx'), bytes);
    renameSync(partial, folder);
    return keep;
  } catch {
    if (partial) rmSync(partial, { recursive: true, force: true });
    // Another process stored the same model first; else the store is not writable (full, read-only): no store.
    return existsSync(model) ? keep : sessionModel(graph, options);
  }
}
