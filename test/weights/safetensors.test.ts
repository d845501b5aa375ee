import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { InputError } from '../../src/errors.ts';
import { allocate, type DType, type HostTensor, tensor } from '../../src/tensor.ts';
import {
  MAX_HEADER_BYTES,
  openCheckpoint,
  openSafetensors,
  readSafetensors,
  writeSafetensors,
} from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';

const dir = fs.mkdtempSync(join(tmpdir(), 'safetensors-test-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const tmp = (name = 'x.safetensors') => join(dir, `${counter++}-${name}`);

/** A file from a raw header (object or string), data bytes and an optional forced header length. */
function rawFile(header: unknown, data = new Uint8Array(0), length?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(length ?? BigInt(json.length));
  const path = tmp();
  fs.writeFileSync(path, Buffer.concat([prefix, json, data]));
  return path;
}

function bytesOf(t: HostTensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Random bytes for every dtype (bool gets 0/1), so float dtypes carry NaN payloads, infinities, subnormals. */
function randomTensor(dtype: DType, shape: number[]): HostTensor {
  const data = allocate(
    dtype,
    shape.reduce((a, b) => a * b, 1),
  );
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  if (dtype === 'bool') for (let i = 0; i < bytes.length; i++) bytes[i] &= 1;
  return { dtype, shape, data } as HostTensor;
}

const ALL: DType[] = [
  'float32',
  'float16',
  'bfloat16',
  'float64',
  'int64',
  'int32',
  'int16',
  'int8',
  'uint8',
  'bool',
];

function assertInputError(fn: () => unknown, path: string, ...parts: (string | RegExp)[]) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${e}`);
    assert.ok(e.message.includes(path), `message should name the file: ${e.message}`);
    for (const p of parts) assert.match(e.message, typeof p === 'string' ? new RegExp(escapeRegExp(p)) : p);
    return true;
  });
}
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('round trip', () => {
  test('every dtype, odd shapes, scalars and empty tensors keep bytes, dtype and shape', () => {
    const tensors = new Map<string, HostTensor>();
    for (const [i, dtype] of ALL.entries()) {
      tensors.set(`${dtype}.matrix`, randomTensor(dtype, [3, i + 1]));
      tensors.set(`${dtype}.scalar`, randomTensor(dtype, []));
      tensors.set(`${dtype}.empty`, randomTensor(dtype, [0, 4]));
    }
    const path = tmp();
    writeSafetensors(path, tensors, { format: 'pt', note: 'ünïcode ✓' });
    const file = openSafetensors(path);
    assert.deepEqual(file.metadata, { format: 'pt', note: 'ünïcode ✓' });
    assert.deepEqual([...file.names()].sort(), [...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const info = file.info(name);
      assert.deepEqual(info, { dtype: t.dtype, shape: t.shape, byteLength: t.data.byteLength });
      const back = file.read(name);
      assert.equal(back.dtype, t.dtype, name);
      assert.deepEqual(back.shape, t.shape, name);
      assert.ok(bytesOf(back).equals(bytesOf(t)), name);
      assert.equal(back.data.constructor, t.data.constructor, name);
    }
    file.close();
    assert.equal(readSafetensors(path).size, tensors.size);
  });

  test('a Record works like a Map; a typed-array view at an odd offset is written from its own bytes', () => {
    const backing = new Float32Array([9, 1, 2, 3]);
    const path = tmp();
    writeSafetensors(path, { a: tensor('float32', [3], backing.subarray(1)) });
    assert.deepEqual([...readSafetensors(path).get('a')!.data], [1, 2, 3]);
  });

  test('header padding and layout are byte-identical to the Rust crate (its test vectors)', () => {
    // huggingface/safetensors safetensors/src/tensor.rs tests: test_serialization, ..._forced_alignement, test_empty.
    const f32 = tensor('float32', [1, 2, 3], [0, 1, 2, 3, 4, 5]);
    const data = bytesOf(f32);
    const expect = (header: string, pad: number, body: Buffer) => {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(header.length + pad));
      return Buffer.concat([len, Buffer.from(header + ' '.repeat(pad)), body]);
    };
    let path = tmp();
    writeSafetensors(path, { 'attn.0': f32 });
    const h1 = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    assert.equal(h1.length, 64);
    assert.ok(fs.readFileSync(path).equals(expect(h1, 0, data)));

    path = tmp();
    writeSafetensors(path, { attn0: tensor('float32', [1, 1, 2, 3], f32.data) });
    const h2 = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    assert.ok(fs.readFileSync(path).equals(expect(h2, 7, data)));

    path = tmp();
    writeSafetensors(path, {});
    assert.deepEqual([...fs.readFileSync(path)], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    path = tmp();
    writeSafetensors(path, {}, { framework: 'pt' });
    assert.ok(
      fs.readFileSync(path).equals(expect('{"__metadata__":{"framework":"pt"}}', 5, Buffer.alloc(0))),
    );
  });

  test('tensors are ordered widest dtype first, then by name, so each starts aligned to its element size', () => {
    const path = tmp();
    writeSafetensors(path, {
      b: tensor('uint8', [3], [1, 2, 3]),
      a: tensor('uint8', [1], [7]),
      h: tensor('float16', [1], [0x3c00]),
      d: tensor('float64', [1], [1]),
      i: tensor('int64', [1], [5]),
      f: tensor('float32', [1], [1]),
    });
    const buf = fs.readFileSync(path);
    const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString());
    const order = Object.keys(header).sort((x, y) => header[x].data_offsets[0] - header[y].data_offsets[0]);
    assert.deepEqual(order, ['i', 'd', 'f', 'h', 'a', 'b']);
    for (const k of order)
      assert.equal(
        header[k].data_offsets[0] % { I64: 8, F64: 8, F32: 4, F16: 2, U8: 1 }[header[k].dtype as 'U8']!,
        0,
      );
  });

  test('writing replaces the target atomically and leaves no temp file', () => {
    const path = tmp();
    writeSafetensors(path, { a: tensor('int32', [1], [1]) });
    writeSafetensors(path, { a: tensor('int32', [1], [2]) });
    assert.deepEqual([...readSafetensors(path).get('a')!.data], [2]);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });
});

describe('corrupt files are InputErrors naming the file', () => {
  const good = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = new Uint8Array(8);

  test('shorter than 8 bytes', () => {
    const path = tmp();
    fs.writeFileSync(path, Buffer.from([1, 2, 3]));
    assertInputError(() => openSafetensors(path), path, 'too short');
    const empty = tmp();
    fs.writeFileSync(empty, '');
    assertInputError(() => openSafetensors(empty), empty, '0 bytes');
  });
  test('absurd header length', () => {
    const path = rawFile(good, eight, BigInt(MAX_HEADER_BYTES) + 1n);
    assertInputError(() => openSafetensors(path), path, 'absurd');
    const huge = rawFile(good, eight, 0xffffffffffffffffn);
    assertInputError(() => openSafetensors(huge), huge, 'absurd');
  });
  test('header length beyond the file (truncated)', () => {
    const path = rawFile(good, eight, 5000n);
    assertInputError(() => openSafetensors(path), path, 'runs past the end');
  });
  test('header not UTF-8, not JSON, not an object', () => {
    const bad = tmp();
    fs.writeFileSync(bad, Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc3, 0x28])]));
    assertInputError(() => openSafetensors(bad), bad, 'UTF-8');
    const notJson = rawFile('{"w": {dtype');
    assertInputError(() => openSafetensors(notJson), notJson, 'not valid JSON');
    for (const h of ['[1,2]', 'null', '"str"', '7']) {
      const p = rawFile(h);
      assertInputError(() => openSafetensors(p), p, 'not a JSON object');
    }
  });
  test('entry missing a field or with wrong types', () => {
    const cases: [unknown, string][] = [
      [{ w: 5 }, 'not an object'],
      [{ w: { shape: [2], data_offsets: [0, 8] } }, 'needs "dtype"'],
      [{ w: { dtype: 'F32', data_offsets: [0, 8] } }, 'needs "dtype", "shape"'],
      [{ w: { dtype: 'F32', shape: [2] } }, 'data_offsets'],
      [{ w: { dtype: 32, shape: [2], data_offsets: [0, 8] } }, '"dtype" is not a string'],
      [{ w: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, '"shape"'],
      [{ w: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, '"shape"'],
      [{ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, '"shape"'],
      [{ w: { dtype: 'F32', shape: [2], data_offsets: [0] } }, '"data_offsets"'],
      [{ w: { dtype: 'F32', shape: [2], data_offsets: ['0', 8] } }, '"data_offsets"'],
      [{ w: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, '"data_offsets"'],
    ];
    for (const [header, part] of cases) {
      const p = rawFile(header, eight);
      assertInputError(() => openSafetensors(p), p, 'tensor "w"', part);
    }
  });
  test('unknown or unsupported dtype', () => {
    const p = rawFile({ w: { dtype: 'F31', shape: [2], data_offsets: [0, 8] } }, eight);
    assertInputError(() => openSafetensors(p), p, 'tensor "w"', 'not a safetensors dtype', 'F32');
    const q = rawFile({ w: { dtype: 'U32', shape: [2], data_offsets: [0, 8] } }, eight);
    assertInputError(() => openSafetensors(q), q, 'not supported');
    const r = rawFile({ w: { dtype: 'constructor', shape: [2], data_offsets: [0, 8] } }, eight);
    assertInputError(() => openSafetensors(r), r, 'not a safetensors dtype');
  });
  test('offsets out of range, reversed, overlapping', () => {
    const out = rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, eight);
    assertInputError(() => openSafetensors(out), out, 'tensor "w"', 'past the data section');
    const reversed = rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, eight);
    assertInputError(() => openSafetensors(reversed), reversed, 'tensor "w"', 'end before');
    const overlap = rawFile(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        e: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
        b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
      },
      eight,
    );
    assertInputError(() => openSafetensors(overlap), overlap, 'overlap', '"a"', '"b"');
  });
  test('shape × dtype size differs from the byte span', () => {
    const p = rawFile({ w: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 8] } }, eight);
    assertInputError(() => openSafetensors(p), p, 'tensor "w"', 'needs 12 bytes', 'span 8');
  });
  test('__metadata__ must map strings to strings', () => {
    const ok = rawFile({ __metadata__: { format: 'pt' }, ...good }, eight);
    assert.deepEqual(openSafetensors(ok).metadata, { format: 'pt' });
    for (const m of [{ n: 1 }, 'pt', ['a']]) {
      const p = rawFile({ __metadata__: m, ...good }, eight);
      assertInputError(() => openSafetensors(p), p, '__metadata__');
    }
  });
  test('a file truncated inside the data section', () => {
    const path = tmp();
    writeSafetensors(path, {
      a: tensor('float32', [4], [1, 2, 3, 4]),
      b: tensor('uint8', [4], [1, 2, 3, 4]),
    });
    fs.truncateSync(path, fs.statSync(path).size - 2);
    assertInputError(() => openSafetensors(path), path, 'tensor "b"', 'truncated');
  });
  test('an unknown tensor name lists close names', () => {
    const path = tmp();
    writeSafetensors(path, {
      'layer.0.weight': tensor('uint8', [1]),
      'layer.1.weight': tensor('uint8', [1]),
    });
    const file = openSafetensors(path);
    assertInputError(
      () => file.read('layer.0.wieght'),
      path,
      'no tensor named "layer.0.wieght"',
      '"layer.0.weight"',
    );
    assertInputError(() => file.info('nope'), path, 'nope');
    file.close();
  });
  test('a missing file', () => {
    const path = join(dir, 'absent.safetensors');
    assertInputError(() => openSafetensors(path), path, 'cannot open');
  });
});

test('read is lazy: opening and reading one small tensor never touches the big one', (t) => {
  const path = tmp();
  const big = new Uint8Array(16 << 20);
  writeSafetensors(path, {
    big: tensor('uint8', [big.length], big),
    small: tensor('float32', [4], [1, 2, 3, 4]),
  });
  const size = fs.statSync(path).size;
  let bytesRead = 0;
  const real = fs.readSync;
  // Mock the CommonJS fs object, then push the change into the ESM named exports the reader imports.
  const spy = t.mock.method(fs, 'readSync', (...args: Parameters<typeof fs.readSync>) => {
    const n = (real as (...a: unknown[]) => number)(...args);
    bytesRead += n;
    return n;
  });
  syncBuiltinESMExports();
  try {
    const file = openSafetensors(path);
    assert.deepEqual([...file.read('small').data], [1, 2, 3, 4]);
    file.close();
  } finally {
    spy.mock.restore();
    syncBuiltinESMExports();
  }
  assert.ok(spy.mock.callCount() > 0, 'the spy saw the reads');
  assert.ok(bytesRead < 1024, `read ${bytesRead} of ${size} bytes`);
});

describe('checkpoints', () => {
  function shardedDir(withIndex: (index: any) => unknown = () => undefined) {
    const d = fs.mkdtempSync(join(dir, 'sharded-'));
    writeSafetensors(join(d, 'model-00001-of-00002.safetensors'), {
      'a.weight': tensor('float32', [2, 2], [1, 2, 3, 4]),
      'b.bias': tensor('bfloat16', [1], [0x3f80]),
    });
    writeSafetensors(join(d, 'model-00002-of-00002.safetensors'), {
      'c.weight': tensor('int64', [2], [7, -7]),
    });
    const index = {
      metadata: { total_size: 26 },
      weight_map: {
        'a.weight': 'model-00001-of-00002.safetensors',
        'b.bias': 'model-00001-of-00002.safetensors',
        'c.weight': 'model-00002-of-00002.safetensors',
      },
    };
    fs.writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify(withIndex(index) ?? index));
    return d;
  }

  test('a sharded folder reads every tensor from its shard', () => {
    const d = shardedDir();
    const ckpt = openCheckpoint(d);
    assert.deepEqual(ckpt.names(), ['a.weight', 'b.bias', 'c.weight']);
    assert.equal(ckpt.files.length, 2);
    assert.deepEqual(ckpt.info('c.weight'), { dtype: 'int64', shape: [2], byteLength: 16 });
    assert.deepEqual([...ckpt.read('a.weight').data], [1, 2, 3, 4]);
    assert.deepEqual([...ckpt.read('b.bias').data], [0x3f80]);
    assert.deepEqual([...ckpt.read('c.weight').data], [7n, -7n]);
    assertInputError(() => ckpt.read('c.weights'), 'model.safetensors.index.json', '"c.weight"');
    ckpt.close();
    // The index file itself can be given.
    assert.equal(openCheckpoint(join(d, 'model.safetensors.index.json')).names().length, 3);
  });

  test('a missing shard is named', () => {
    const d = shardedDir();
    fs.rmSync(join(d, 'model-00002-of-00002.safetensors'));
    assertInputError(
      () => openCheckpoint(d),
      'model.safetensors.index.json',
      'missing',
      'model-00002-of-00002.safetensors',
    );
  });

  test('an index naming a tensor its shard lacks, or escaping the folder, or without weight_map', () => {
    const d1 = shardedDir((ix: any) => {
      ix.weight_map['d.weight'] = 'model-00002-of-00002.safetensors';
    });
    assertInputError(
      () => openCheckpoint(d1),
      'index.json',
      'tensor "d.weight"',
      'model-00002-of-00002.safetensors',
    );
    const d2 = shardedDir((ix: any) => {
      ix.weight_map['a.weight'] = '../elsewhere.safetensors';
    });
    assertInputError(() => openCheckpoint(d2), 'index.json', 'a.weight');
    const d3 = shardedDir(() => ({ metadata: {} }));
    assertInputError(() => openCheckpoint(d3), 'index.json', 'weight_map');
    const d4 = shardedDir();
    fs.writeFileSync(join(d4, 'model.safetensors.index.json'), '{"weight_map": ');
    assertInputError(() => openCheckpoint(d4), 'index.json', 'not valid JSON');
  });

  test('a single model.safetensors wins over the index, and a plain file opens', () => {
    const d = shardedDir();
    writeSafetensors(join(d, 'model.safetensors'), { only: tensor('uint8', [1], [1]) });
    assert.deepEqual(openCheckpoint(d).names(), ['only']);
    assert.deepEqual(openCheckpoint(join(d, 'model.safetensors')).names(), ['only']);
  });

  test('pickle checkpoints are refused with a way out', () => {
    const d = fs.mkdtempSync(join(dir, 'pickle-'));
    fs.writeFileSync(join(d, 'pytorch_model.bin'), Buffer.from([0x80, 2]));
    assertInputError(() => openCheckpoint(d), 'pytorch_model.bin', 'pickle', 'safetensors');
    const pt = join(d, 'weights.pt');
    fs.writeFileSync(pt, 'PK');
    assertInputError(() => openCheckpoint(pt), pt, 'pickle', 'save_file');
  });

  test('a folder without a checkpoint, and a missing path', () => {
    const d = fs.mkdtempSync(join(dir, 'empty-'));
    assertInputError(() => openCheckpoint(d), d, 'model.safetensors');
    writeSafetensors(join(d, 'other.safetensors'), {});
    assertInputError(() => openCheckpoint(d), d, 'other.safetensors');
    assertInputError(() => openCheckpoint(join(d, 'nope')), 'nope', 'does not exist');
  });
});

describe('fixture checkpoints', () => {
  const models = ['vggt', 'qwen2_5_vl', 'spatial_mllm'].flatMap((kind) => findFixtures(kind));
  for (const fx of models) {
    test(fx.name, () => {
      const path = join(fx.dir, 'model.safetensors');
      const ckpt = openCheckpoint(fx.dir);
      let bytes = 0;
      let params = 0;
      for (const name of ckpt.names()) {
        const info = ckpt.info(name);
        const t = ckpt.read(name);
        assert.equal(t.data.byteLength, info.byteLength, name);
        assert.equal(
          t.data.length,
          info.shape.reduce((a, b) => a * b, 1),
          name,
        );
        bytes += info.byteLength;
        params += t.data.length;
      }
      ckpt.close();
      const buf = fs.readFileSync(path);
      assert.equal(8 + Number(buf.readBigUInt64LE(0)) + bytes, buf.length, 'tensors cover the data section');
      // A VGGT fixture's config.json records the upstream state_dict size.
      const config = JSON.parse(fs.readFileSync(join(fx.dir, 'config.json'), 'utf8'));
      if (config.state_dict_keys !== undefined)
        assert.deepEqual([ckpt.names().length, params], [config.state_dict_keys, config.num_parameters]);
      // Re-writing gives the same data section as the upstream writer (same dtype/name order).
      const out = tmp();
      writeSafetensors(out, readSafetensors(path));
      const again = fs.readFileSync(out);
      const data = (b: Buffer) => b.subarray(8 + Number(b.readBigUInt64LE(0)));
      assert.ok(data(again).equals(data(buf)));
    });
  }
});
