// GGUF writer: the file read back field by field (header, typed metadata, tensor infos with innermost-first dims
// and aligned offsets, tensor bytes), and the Q8_0 / Q4_0 blocks dequantized within half a step of the input.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { f16ToF32 } from '../../src/tensor.ts';
import { quantizeQ4_0, quantizeQ8_0, writeGguf } from '../../src/weights/gguf.ts';
import { randn, rng } from '../support/random.ts';

/** A minimal GGUF reader for what the writer emits. */
function readGguf(bytes: Buffer) {
  let at = 0;
  /** Reads `n` bytes at the cursor with `read` and moves past them. */
  const take = <T>(n: number, read: (offset: number) => T): T => {
    const v = read(at);
    at += n;
    return v;
  };
  const u32 = () => take(4, (o) => bytes.readUInt32LE(o));
  const u64 = () => take(8, (o) => Number(bytes.readBigUInt64LE(o)));
  const str = () => {
    const n = u64();
    return take(n, (o) => bytes.toString('utf8', o, o + n));
  };
  const scalar = (type: number): unknown => {
    if (type === 4) return u32();
    if (type === 5) return take(4, (o) => bytes.readInt32LE(o));
    if (type === 6) return take(4, (o) => bytes.readFloatLE(o));
    if (type === 7) return take(1, (o) => bytes[o] === 1);
    if (type === 8) return str();
    throw new Error(`type ${type}`);
  };
  assert.equal(bytes.toString('latin1', 0, 4), 'GGUF');
  at = 4;
  assert.equal(u32(), 3, 'version');
  const [nTensors, nKv] = [u64(), u64()];
  const metadata: Record<string, unknown> = {};
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = u32();
    if (type === 9) {
      const of = u32();
      metadata[key] = Array.from({ length: u64() }, () => scalar(of));
    } else metadata[key] = scalar(type);
  }
  const tensors = Array.from({ length: nTensors }, () => {
    const name = str();
    const dims = Array.from({ length: u32() }, u64);
    return { name, dims, type: u32(), offset: u64() };
  });
  const data = at + ((32 - (at % 32)) % 32);
  return { metadata, tensors, data };
}

test('GGUF v3 layout: typed metadata, innermost-first dims, aligned data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-test-'));
  try {
    const r = rng(1);
    const w = randn(r, 3 * 64);
    const b = Float32Array.from([1, 2, 3]);
    const path = join(dir, 'm.gguf');
    const size = writeGguf(
      path,
      {
        'general.architecture': { type: 'string', value: 'qwen2' },
        'x.count': { type: 'uint32', value: 7 },
        'x.eps': { type: 'float32', value: 0.5 },
        'x.flag': { type: 'bool', value: true },
        'x.tokens': { type: 'array', of: 'string', values: ['a', 'ĠB', '<|x|>'] },
        'x.types': { type: 'array', of: 'int32', values: [1, -3, 3] },
      },
      [
        { name: 'w.f32', type: 'F32', shape: [3, 64], values: () => w },
        { name: 'bias', type: 'F32', shape: [3], values: () => b },
        { name: 'w.q8', type: 'Q8_0', shape: [3, 64], values: () => w },
        { name: 'w.q4', type: 'Q4_0', shape: [3, 64], values: () => w },
      ],
    );
    const bytes = readFileSync(path);
    assert.equal(bytes.length, size);
    const f = readGguf(bytes);
    assert.deepEqual(f.metadata, {
      'general.architecture': 'qwen2',
      'x.count': 7,
      'x.eps': 0.5,
      'x.flag': true,
      'x.tokens': ['a', 'ĠB', '<|x|>'],
      'x.types': [1, -3, 3],
    });
    // Byte sizes 768, 12 (padded to 32), 6 blocks × 34, 6 blocks × 18; ggml type ids F32 0, Q8_0 8, Q4_0 2.
    assert.deepEqual(
      f.tensors.map((t) => [t.name, t.dims, t.type, t.offset]),
      [
        ['w.f32', [64, 3], 0, 0],
        ['bias', [3], 0, 768],
        ['w.q8', [64, 3], 8, 800],
        ['w.q4', [64, 3], 2, 1024],
      ],
    );
    const at = (i: number, n: number) =>
      bytes.subarray(f.data + f.tensors[i].offset, f.data + f.tensors[i].offset + n);
    assert.deepEqual(new Float32Array(Uint8Array.from(at(0, 768)).buffer), w);
    assert.deepEqual(new Float32Array(Uint8Array.from(at(1, 12)).buffer), b);
    assert.deepEqual([...at(2, 204)], [...quantizeQ8_0(w)]);
    assert.deepEqual([...at(3, 108)], [...quantizeQ4_0(w)]);
    assert.equal(bytes.length, f.data + 1024 + 108 + 20);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** (code − zero) · d per block of 32, d the block's leading fp16. */
function dequantize(q: Uint8Array, kind: 'Q8_0' | 'Q4_0'): Float32Array {
  const size = kind === 'Q8_0' ? 34 : 18;
  const out = new Float32Array((q.length / size) * 32);
  for (let b = 0; b * size < q.length; b++) {
    const o = b * size;
    const d = f16ToF32(Uint16Array.of(q[o] | (q[o + 1] << 8)))[0];
    for (let j = 0; j < 32; j++)
      out[b * 32 + j] =
        kind === 'Q8_0'
          ? ((q[o + 2 + j] << 24) >> 24) * d
          : (((j < 16 ? q[o + 2 + j] : q[o + 2 + j - 16] >> 4) & 15) - 8) * d;
  }
  return out;
}

test('Q8_0 and Q4_0 blocks dequantize within half a step (plus the fp16 rounding of the scale)', () => {
  const x = randn(rng(2), 32 * 40);
  x.fill(0, 64, 96); // an all-zero block stays zero
  for (const [kind, quantize, steps] of [
    ['Q8_0', quantizeQ8_0, 127],
    ['Q4_0', quantizeQ4_0, 8],
  ] as const) {
    const y = dequantize(quantize(x), kind);
    for (let b = 0; b < 40; b++) {
      const block = x.subarray(b * 32, b * 32 + 32);
      const amax = Math.max(...block.map(Math.abs));
      // Q4_0's codes reach −8·d on the extreme's side but only +7·d on the other: the clamp at 15 costs one step.
      const bound = (amax / steps) * (kind === 'Q4_0' ? 1 : 0.5) * (1 + 2 ** -10) + amax * 2 ** -10;
      for (let j = 0; j < 32; j++)
        assert.ok(Math.abs(y[b * 32 + j] - block[j]) <= bound, `${kind} block ${b} value ${j}`);
    }
    assert.ok(y.subarray(64, 96).every((v) => v === 0));
  }
});
