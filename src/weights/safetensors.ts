// safetensors read/write (format: huggingface/safetensors README; behaviour checked against the Rust crate
// `safetensors/src/tensor.rs`). A file is: u64 little-endian header length N, N bytes of UTF-8 JSON
// {name: {dtype, shape, data_offsets: [start, end]}, "__metadata__"?: {string: string}}, then the data section
// (offsets are relative to its start). Reading is lazy: opening parses and validates only the header, and each
// `read(name)` reads that tensor's bytes with one positioned read.
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import { isObject, readJsonFile } from '../json.ts';
import { allocate, BYTES, type DType, type HostTensor, numel } from '../tensor.ts';

/** safetensors dtype codes this project reads and writes, in the Rust crate's `Dtype` enum order (the writer
 * sorts tensors by that order, descending, so every tensor starts aligned to its element size). */
const CODES = ['BOOL', 'U8', 'I8', 'I16', 'F16', 'BF16', 'I32', 'F32', 'F64', 'I64'] as const;
type Code = (typeof CODES)[number];

const TO_DTYPE: Record<Code, DType> = {
  BOOL: 'bool',
  U8: 'uint8',
  I8: 'int8',
  I16: 'int16',
  F16: 'float16',
  BF16: 'bfloat16',
  I32: 'int32',
  F32: 'float32',
  F64: 'float64',
  I64: 'int64',
};
const TO_CODE = Object.fromEntries(Object.entries(TO_DTYPE).map(([c, d]) => [d, c])) as Record<DType, Code>;

/** Valid safetensors dtypes that have no HostTensor counterpart here. */
const UNSUPPORTED_CODES = [
  'U16',
  'U32',
  'U64',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'C64',
];

/** The Rust crate refuses headers above 100 MB; so do we (a bigger length means a corrupt or foreign file). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  dtype: DType;
  shape: number[];
  byteLength: number;
}

/** What a checkpoint offers, whether one file or many shards. */
export interface TensorSource {
  readonly path: string;
  names(): string[];
  info(name: string): TensorInfo;
  read(name: string): HostTensor;
  close(): void;
}

export interface SafetensorsFile extends TensorSource {
  readonly metadata: Record<string, string>;
}

interface Entry extends TensorInfo {
  /** Absolute byte position of the tensor in the file. */
  position: number;
}

const CORRUPT_FIX = 're-download the file or save it again with safetensors';

export function openSafetensors(path: string): SafetensorsFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new InputError(`cannot open ${path}: ${(e as Error).message}; check the path`);
  }
  try {
    const { entries, metadata } = readHeader(fd, path);
    return new SafetensorsReader(path, fd, entries, metadata);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Every tensor of a file, read eagerly. */
export function readSafetensors(path: string): Map<string, HostTensor> {
  const file = openSafetensors(path);
  try {
    return new Map(file.names().map((name) => [name, file.read(name)]));
  } finally {
    file.close();
  }
}

class SafetensorsReader implements SafetensorsFile {
  #fd: number | undefined;
  constructor(
    readonly path: string,
    fd: number,
    private readonly entries: Map<string, Entry>,
    readonly metadata: Record<string, string>,
  ) {
    this.#fd = fd;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  info(name: string): TensorInfo {
    const { dtype, shape, byteLength } = this.entry(name);
    return { dtype, shape: [...shape], byteLength };
  }

  read(name: string): HostTensor {
    const entry = this.entry(name);
    if (this.#fd === undefined) throw new Error(`${this.path} is closed`);
    const data = allocate(entry.dtype, numel(entry.shape));
    readFully(
      this.#fd,
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      entry.position,
      this.path,
    );
    return { dtype: entry.dtype, shape: [...entry.shape], data };
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name);
    if (!entry) throw unknownTensor(this.path, name, this.names());
    return entry;
  }
}

/** Positioned read of exactly `out.byteLength` bytes (readSync may return fewer for very large reads). */
function readFully(fd: number, out: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < out.byteLength) {
    const n = readSync(fd, out, done, Math.min(out.byteLength - done, 1 << 30), position + done);
    if (n === 0) throw new InputError(`${path}: file ended while reading tensor data; ${CORRUPT_FIX}`);
    done += n;
  }
}

function readHeader(
  fd: number,
  path: string,
): { entries: Map<string, Entry>; metadata: Record<string, string> } {
  const size = fstatSync(fd).size;
  const fail = (what: string) => new InputError(`${path}: ${what}; ${CORRUPT_FIX}`);
  if (size < 8)
    throw fail(`file is ${size} bytes, too short for a safetensors file (truncated or not safetensors)`);
  const prefix = new Uint8Array(8);
  readFully(fd, prefix, 0, path);
  const n = new DataView(prefix.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw fail(`header length ${n} is absurd (limit ${MAX_HEADER_BYTES} bytes): not a safetensors file`);
  const headerBytes = Number(n);
  if (8 + headerBytes > size)
    throw fail(
      `header length ${headerBytes} runs past the end of the ${size}-byte file (truncated or not safetensors)`,
    );

  const raw = new Uint8Array(headerBytes);
  readFully(fd, raw, 8, path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw fail('header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw fail('header is not a JSON object');

  const dataStart = 8 + headerBytes;
  const dataSize = size - dataStart;
  let metadata: Record<string, string> = {};
  const entries = new Map<string, Entry>();
  const spans: [start: number, end: number, name: string][] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, fail);
      continue;
    }
    const bad = (what: string) => fail(`tensor "${name}": ${what}`);
    if (!isObject(value)) throw bad('entry is not an object');
    const { dtype: code, shape, data_offsets: offsets } = value;
    if (code === undefined || shape === undefined || offsets === undefined)
      throw bad('entry needs "dtype", "shape" and "data_offsets"');
    if (typeof code !== 'string') throw bad('"dtype" is not a string');
    if (!Object.hasOwn(TO_DTYPE, code)) {
      const why = UNSUPPORTED_CODES.includes(code)
        ? 'is not supported by this reader'
        : 'is not a safetensors dtype';
      throw new InputError(
        `${path}: tensor "${name}": dtype "${code}" ${why} (supported: ${CODES.join(', ')}); ` +
          'convert the checkpoint to one of those dtypes',
      );
    }
    if (!Array.isArray(shape) || !shape.every(isCount))
      throw bad('"shape" is not a list of non-negative integers');
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount))
      throw bad('"data_offsets" is not a pair of non-negative integers');
    const dtype = TO_DTYPE[code as Code];
    const [start, end] = offsets as [number, number];
    if (end < start) throw bad(`data_offsets [${start}, ${end}] end before they start`);
    if (end > dataSize)
      throw bad(
        `data_offsets [${start}, ${end}] run past the data section (${dataSize} bytes): truncated file`,
      );
    const byteLength = end - start;
    const expected = numel(shape) * BYTES[dtype];
    if (byteLength !== expected)
      throw bad(`shape [${shape}] of ${code} needs ${expected} bytes but data_offsets span ${byteLength}`);
    entries.set(name, { dtype, shape: [...shape], byteLength, position: dataStart + start });
    spans.push([start, end, name]);
  }

  // Empty tensors occupy no bytes and cannot overlap anything.
  const filled = spans.filter(([start, end]) => end > start).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < filled.length; i++) {
    const [prevStart, prevEnd, prevName] = filled[i - 1];
    const [start, end, name] = filled[i];
    if (start < prevEnd)
      throw fail(`tensors "${prevName}" [${prevStart}, ${prevEnd}] and "${name}" [${start}, ${end}] overlap`);
  }
  return { entries, metadata };
}

function parseMetadata(value: unknown, fail: (what: string) => InputError): Record<string, string> {
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string'))
    throw fail('"__metadata__" must map strings to strings');
  return { ...(value as Record<string, string>) };
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** "no tensor named X" with the few closest names, by edit distance. */
export function unknownTensor(path: string, name: string, names: string[]): InputError {
  const close = names
    .map((n) => [editDistance(name, n), n] as const)
    .sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]))
    .slice(0, 3)
    .map(([, n]) => `"${n}"`);
  const hint = close.length ? `closest names: ${close.join(', ')}` : 'it holds no tensors';
  return new InputError(
    `${path}: no tensor named "${name}" (${names.length} tensors; ${hint}); ` +
      `list them with \`spatial-mllm weights inspect ${path}\``,
  );
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** What the header of a file to write says about one tensor. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: readonly number[];
}

/**
 * The head of a safetensors file holding `specs` in the reference layout (Rust crate `prepare`): `order` = sorted
 * by dtype, widest first, then by name, with contiguous offsets; `head` = the 8-byte length prefix and the compact
 * JSON (`__metadata__` first) padded with spaces to a multiple of 8; `dataBytes` = the data section that follows.
 */
export function safetensorsHeader(
  specs: readonly TensorSpec[],
  metadata?: Record<string, string>,
): { head: Uint8Array; order: TensorSpec[]; dataBytes: number } {
  const rank = (t: TensorSpec) => CODES.indexOf(TO_CODE[t.dtype]);
  const order = [...specs].sort(
    (a, b) => rank(b) - rank(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of order) {
    if (t.name === '__metadata__') throw new Error('"__metadata__" is reserved and cannot name a tensor');
    const byteLength = numel(t.shape) * BYTES[t.dtype];
    header[t.name] = { dtype: TO_CODE[t.dtype], shape: t.shape, data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(8 + Math.ceil(json.length / 8) * 8, ' ');
  head.writeBigUInt64LE(BigInt(head.length - 8));
  json.copy(head, 8);
  return { head, order, dataBytes: offset };
}

/**
 * Writes tensors in the reference layout (Rust crate `prepare`): sorted by dtype, widest first, then by name,
 * contiguous offsets, compact JSON with `__metadata__` first, header padded with spaces to a multiple of 8.
 * Atomic: written to a temp file next to `path`, then renamed over it.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
): void {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const specs = [...map].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  writeSafetensorsFrom(path, specs, (name) => map.get(name)!, metadata);
}

/** `writeSafetensors` holding one tensor at a time: the header comes from `specs`, the data from `read`, called
 * once per tensor in file order (so a multi-GB shard converts in the memory of its largest tensor). */
export function writeSafetensorsFrom(
  path: string,
  specs: readonly TensorSpec[],
  read: (name: string) => HostTensor,
  metadata?: Record<string, string>,
): void {
  const { head, order } = safetensorsHeader(specs, metadata);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    try {
      writeAll(fd, head);
      for (const spec of order) {
        const t = read(spec.name);
        const byteLength = numel(spec.shape) * BYTES[spec.dtype];
        if (t.dtype !== spec.dtype || t.data.byteLength !== byteLength)
          throw new Error(
            `tensor "${spec.name}": declared [${spec.shape}] of ${spec.dtype} (${byteLength} bytes), got [${t.shape}] of ${t.dtype} (${t.data.byteLength} bytes)`,
          );
        writeAll(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      }
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.byteLength; )
    done += writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, 1 << 30));
}

/** A model checkpoint: one safetensors file or a sharded set behind a `*.safetensors.index.json`. */
export interface Checkpoint extends TensorSource {
  /** The safetensors files it reads. */
  readonly files: string[];
  /** `__metadata__` of the file (of all shards, merged). */
  readonly metadata: Record<string, string>;
}

const PICKLE_EXTENSIONS = ['.bin', '.pt', '.pth', '.ckpt', '.pkl'];
const isPickle = (file: string) => PICKLE_EXTENSIONS.some((ext) => file.endsWith(ext));

function pickleError(what: string): InputError {
  return new InputError(
    `${what} is a PyTorch pickle checkpoint, which is not read (loading pickles can run arbitrary code); ` +
      'download the .safetensors variant of the model, or convert it once in Python with ' +
      '`safetensors.torch.save_file(torch.load(path), "model.safetensors")`',
  );
}

/**
 * Opens a `.safetensors` file, a `*.safetensors.index.json`, or a folder holding `model.safetensors` or
 * `model.safetensors.index.json` (the Hugging Face layout; the single file wins when both exist, as in
 * transformers). Every shard header is read and validated up front.
 */
export function openCheckpoint(pathOrDir: string): Checkpoint {
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(pathOrDir);
  } catch {
    throw new InputError(
      `${pathOrDir} does not exist; give a .safetensors file or a folder holding model.safetensors`,
    );
  }
  if (stats.isDirectory()) {
    const single = join(pathOrDir, 'model.safetensors');
    const index = join(pathOrDir, 'model.safetensors.index.json');
    if (existsSync(single)) return singleFile(single);
    if (existsSync(index)) return openIndex(index);
    const files = readdirSync(pathOrDir);
    const pickles = files.filter(isPickle);
    if (pickles.length && !files.some((f) => f.endsWith('.safetensors')))
      throw pickleError(`${pathOrDir}/${pickles[0]}`);
    const others = files.filter((f) => f.endsWith('.safetensors') || f.endsWith('.safetensors.index.json'));
    throw new InputError(
      `${pathOrDir} holds neither model.safetensors nor model.safetensors.index.json` +
        (others.length
          ? `; pass one of its files directly: ${others.join(', ')}`
          : '; point to the model folder'),
    );
  }
  if (pathOrDir.endsWith('.index.json')) return openIndex(pathOrDir);
  if (isPickle(pathOrDir)) throw pickleError(pathOrDir);
  return singleFile(pathOrDir);
}

function singleFile(path: string): Checkpoint {
  const file = openSafetensors(path);
  return {
    path,
    files: [path],
    metadata: file.metadata,
    names: () => file.names(),
    info: (name) => file.info(name),
    read: (name) => file.read(name),
    close: () => file.close(),
  };
}

function openIndex(indexPath: string): Checkpoint {
  const dir = dirname(indexPath);
  const fail = (what: string) =>
    new InputError(`${indexPath}: ${what}; re-download the index with its shards`);
  const json = readJsonFile(indexPath, 're-download the index with its shards');
  const weightMap = isObject(json) ? json.weight_map : undefined;
  if (!isObject(weightMap)) throw fail('no "weight_map" object');
  const shardOf = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard === '' || shard.includes('..') || shard.startsWith('/'))
      throw fail(
        `tensor "${name}" maps to ${JSON.stringify(shard)}, not a shard file name in the same folder`,
      );
    shardOf.set(name, shard);
  }
  const shardNames = [...new Set(shardOf.values())];
  const missing = shardNames.filter((s) => !existsSync(join(dir, s)));
  if (missing.length)
    throw new InputError(
      `${indexPath}: ${missing.length} of ${shardNames.length} shard files are missing from ${dir}: ` +
        `${missing.join(', ')}; download them (all shards listed in weight_map are needed)`,
    );

  const shards = new Map<string, SafetensorsFile>();
  try {
    for (const s of shardNames) shards.set(s, openSafetensors(join(dir, s)));
    for (const [name, s] of shardOf)
      if (!shards.get(s)!.names().includes(name))
        throw fail(`tensor "${name}" is listed in shard ${s}, but that file has no such tensor`);
  } catch (e) {
    for (const f of shards.values()) f.close();
    throw e;
  }
  const names = [...shardOf.keys()];
  const fileOf = (name: string) => {
    const s = shardOf.get(name);
    if (s === undefined) throw unknownTensor(indexPath, name, names);
    return shards.get(s)!;
  };
  return {
    path: indexPath,
    files: shardNames.map((s) => join(dir, s)),
    metadata: Object.assign({}, ...[...shards.values()].map((f) => f.metadata)),
    names: () => [...names],
    info: (name) => fileOf(name).info(name),
    read: (name) => fileOf(name).read(name),
    close: () => {
      for (const f of shards.values()) f.close();
    },
  };
}
