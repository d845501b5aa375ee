// A small GGUF writer (the single-file format of ggml / llama.cpp), enough to hand llama.cpp the same weights our
// graphs run, for side-by-side benchmarks. Layout (ggml-org/ggml docs/gguf.md, src/gguf.cpp), little-endian:
//   "GGUF" · version u32 (3) · tensor count u64 · metadata count u64
//   metadata: key (u64 length + UTF-8) · value type u32 · value (arrays: item type u32 · count u64 · items)
//   tensor infos: name · n_dims u32 · ne[n_dims] u64 (innermost first: a row-major [out, in] weight is [in, out])
//                 · ggml type u32 · offset u64 (from the data section, a multiple of the alignment)
//   padding to `general.alignment` (32), then each tensor's bytes, each padded to the alignment.
// Block formats (ggml-quants.c, the *_ref quantizers): 32 values per block, quantized along the innermost dim;
//   Q8_0 = fp16 d · 32 × int8, d = max|x| / 127, q = round(x / d);
//   Q4_0 = fp16 d · 16 bytes, d = (the value of largest magnitude) / −8, q = min(15, trunc(x / d + 8.5)),
//          value j in the low nibble of byte j and value j + 16 in its high nibble; x ≈ (q − 8) · d.
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { f32ToF16 } from '../tensor.ts';

export type GgmlType = 'F32' | 'F16' | 'Q4_0' | 'Q8_0';

const GGML_TYPE: Record<GgmlType, { id: number; blockValues: number; blockBytes: number }> = {
  F32: { id: 0, blockValues: 1, blockBytes: 4 },
  F16: { id: 1, blockValues: 1, blockBytes: 2 },
  Q4_0: { id: 2, blockValues: 32, blockBytes: 18 },
  Q8_0: { id: 8, blockValues: 32, blockBytes: 34 },
};

/** Metadata values with their GGUF type spelled out (the format has no untyped numbers). */
export type GgufValue =
  | { type: 'uint32' | 'int32' | 'float32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; of: 'string'; values: readonly string[] }
  | { type: 'array'; of: 'int32' | 'float32'; values: ArrayLike<number> };

const VALUE_TYPE = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9 } as const;

export interface GgufTensor {
  name: string;
  type: GgmlType;
  /** Row-major shape as PyTorch writes it ([out, in] for a linear weight); the last dim is the quantized one. */
  shape: readonly number[];
  /** The float32 values, produced when the tensor is written (one tensor is held at a time). */
  values: () => Float32Array;
}

const ALIGNMENT = 32;
const pad = (n: number) => (ALIGNMENT - (n % ALIGNMENT)) % ALIGNMENT;

export function ggmlBytes(type: GgmlType, shape: readonly number[]): number {
  const { blockValues, blockBytes } = GGML_TYPE[type];
  const inner = shape[shape.length - 1];
  if (inner % blockValues !== 0)
    throw new Error(`${type} needs a last dimension that is a multiple of ${blockValues}, got [${shape}]`);
  return (shape.reduce((a, b) => a * b, 1) / blockValues) * blockBytes;
}

/** C's roundf: halves away from zero. */
const roundAway = (v: number) => Math.sign(v) * Math.round(Math.abs(v));

/**
 * Blocks of 32 values: per block a scale from `scaleOf` (stored fp16, codes computed with the fp32 one, as ggml
 * does) and `codeBytes` bytes of codes written by `encode`.
 */
function quantizeBlocks(
  x: Float32Array,
  codeBytes: number,
  scaleOf: (x: Float32Array, start: number) => number,
  encode: (x: Float32Array, start: number, inv: number, out: Uint8Array, at: number) => void,
): Uint8Array {
  const blocks = x.length / 32;
  const size = 2 + codeBytes;
  const out = new Uint8Array(blocks * size);
  const d = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    d[b] = scaleOf(x, b * 32);
    encode(x, b * 32, d[b] ? 1 / d[b] : 0, out, b * size + 2);
  }
  const half = f32ToF16(d);
  for (let b = 0; b < blocks; b++) {
    out[b * size] = half[b] & 0xff;
    out[b * size + 1] = half[b] >> 8;
  }
  return out;
}

/** Q8_0 blocks of `x` (length a multiple of 32). */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  return quantizeBlocks(
    x,
    32,
    (v, s) => {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(v[s + j]));
      return amax / 127;
    },
    (v, s, inv, out, at) => {
      for (let j = 0; j < 32; j++) out[at + j] = roundAway(v[s + j] * inv) & 0xff;
    },
  );
}

/** Q4_0 blocks of `x` (length a multiple of 32). */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  return quantizeBlocks(
    x,
    16,
    (v, s) => {
      let max = 0;
      for (let j = 0; j < 32; j++) if (Math.abs(v[s + j]) > Math.abs(max)) max = v[s + j];
      return max / -8;
    },
    (v, s, inv, out, at) => {
      const code = (y: number) => Math.min(15, Math.trunc(y * inv + 8.5));
      for (let j = 0; j < 16; j++) out[at + j] = code(v[s + j]) | (code(v[s + 16 + j]) << 4);
    },
  );
}

function encodeTensor(type: GgmlType, v: Float32Array): Uint8Array {
  if (type === 'F32') return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (type === 'F16') {
    const h = f32ToF16(v);
    return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
  }
  return type === 'Q8_0' ? quantizeQ8_0(v) : quantizeQ4_0(v);
}

/** Little-endian byte builder for the header. */
class Bytes {
  private parts: Uint8Array[] = [];
  length = 0;
  private push(b: Uint8Array) {
    this.parts.push(b);
    this.length += b.length;
  }
  private num(bytes: number, set: (v: DataView) => void) {
    const b = new Uint8Array(bytes);
    set(new DataView(b.buffer));
    this.push(b);
  }
  u32 = (v: number) => this.num(4, (d) => d.setUint32(0, v, true));
  i32 = (v: number) => this.num(4, (d) => d.setInt32(0, v, true));
  f32 = (v: number) => this.num(4, (d) => d.setFloat32(0, v, true));
  u64 = (v: number) => this.num(8, (d) => d.setBigUint64(0, BigInt(v), true));
  u8 = (v: number) => this.push(Uint8Array.of(v));
  str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  };
  zeros = (n: number) => this.push(new Uint8Array(n));
  concat = () => Buffer.concat(this.parts, this.length);
}

function writeValue(out: Bytes, v: GgufValue): void {
  out.u32(VALUE_TYPE[v.type]);
  if (v.type === 'array') {
    out.u32(VALUE_TYPE[v.of]);
    out.u64(v.values.length);
    if (v.of === 'string') for (const s of v.values as readonly string[]) out.str(s);
    else
      for (let i = 0; i < v.values.length; i++) (v.of === 'int32' ? out.i32 : out.f32)(Number(v.values[i]));
  } else if (v.type === 'string') out.str(v.value);
  else if (v.type === 'bool') out.u8(v.value ? 1 : 0);
  else (v.type === 'uint32' ? out.u32 : v.type === 'int32' ? out.i32 : out.f32)(v.value);
}

/** writeSync may write less than asked (large buffers): loop until all is written. */
function writeAll(fd: number, data: Uint8Array): number {
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done);
  return data.length;
}

/**
 * Writes a GGUF v3 file (atomically: a temp file renamed at the end), quantizing each tensor as it is written.
 * Returns the file's size in bytes.
 */
export function writeGguf(
  path: string,
  metadata: Record<string, GgufValue>,
  tensors: readonly GgufTensor[],
): number {
  const head = new Bytes();
  head.u32(0x46554747); // "GGUF"
  head.u32(3);
  head.u64(tensors.length);
  head.u64(Object.keys(metadata).length);
  for (const [key, value] of Object.entries(metadata)) {
    head.str(key);
    writeValue(head, value);
  }
  let offset = 0;
  for (const t of tensors) {
    head.str(t.name);
    head.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) head.u64(d);
    head.u32(GGML_TYPE[t.type].id);
    head.u64(offset);
    const bytes = ggmlBytes(t.type, t.shape);
    offset += bytes + pad(bytes);
  }
  head.zeros(pad(head.length));

  const tmp = `${path}.partial`;
  const fd = openSync(tmp, 'w');
  let size = 0;
  try {
    size += writeAll(fd, head.concat());
    for (const t of tensors) {
      const data = encodeTensor(t.type, t.values());
      if (data.length !== ggmlBytes(t.type, t.shape))
        throw new Error(`GGUF tensor ${t.name}: ${data.length} bytes for ${t.type} [${t.shape}]`);
      size += writeAll(fd, data);
      size += writeAll(fd, new Uint8Array(pad(data.length)));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return size;
}
