// fp32 ⇄ fp16 ⇄ bf16 against bit patterns derived by hand from the IEEE 754 binary16 / bfloat16 layouts
// (sign 1 | exponent 5 | mantissa 10, bias 15; bfloat16 = the top 16 bits of a float32), rounding to nearest even.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tensor } from '../../src/tensor.ts';
import { castTensor } from '../../src/weights/convert.ts';

/** float32 from its bit pattern. */
const fromBits = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];

const toF16 = (values: number[]) => [
  ...castTensor(tensor('float32', [values.length], values), 'float16').data,
];
const toBf16 = (values: number[]) => [
  ...castTensor(tensor('float32', [values.length], values), 'bfloat16').data,
];
const hex = (v: number[]) => v.map((x) => `0x${x.toString(16).padStart(4, '0')}`);

describe('float32 → float16', () => {
  const cases: [string, number, number][] = [
    ['1.0', 1, 0x3c00],
    ['-2.5 = -1.25·2¹', -2.5, 0xc100],
    ['65504, the largest half', 65504, 0x7bff],
    ['65519 rounds down to 65504', 65519, 0x7bff],
    ['65520 is the tie 65504|65536 → even → overflow to +Inf', 65520, 0x7c00],
    ['1e6 overflows', 1e6, 0x7c00],
    ['-0', -0, 0x8000],
    ['+Inf', Number.POSITIVE_INFINITY, 0x7c00],
    ['-Inf', Number.NEGATIVE_INFINITY, 0xfc00],
    ['2⁻¹⁴, the smallest normal', 2 ** -14, 0x0400],
    ['2⁻²⁴, the smallest subnormal', 2 ** -24, 0x0001],
    ['1023·2⁻²⁴, the largest subnormal', 1023 * 2 ** -24, 0x03ff],
    ['2⁻²⁵ is the tie 0|2⁻²⁴ → even → 0', 2 ** -25, 0x0000],
    ['3·2⁻²⁵ is the tie 1|2 (·2⁻²⁴) → even → 2', 3 * 2 ** -25, 0x0002],
    ['5·2⁻²⁵ is the tie 2|3 → even → 2', 5 * 2 ** -25, 0x0002],
    ['2⁻²⁵ + 2⁻³⁵ is above the tie → 1', 2 ** -25 + 2 ** -35, 0x0001],
    ['1 + 2⁻¹¹ is the tie 0x3c00|0x3c01 → even', 1 + 2 ** -11, 0x3c00],
    ['1 + 3·2⁻¹¹ is the tie 0x3c01|0x3c02 → even', 1 + 3 * 2 ** -11, 0x3c02],
    ['1 + 2⁻¹¹ + 2⁻²⁰ is above the tie', 1 + 2 ** -11 + 2 ** -20, 0x3c01],
    ['0.1 ≈ 0x2e66', 0.1, 0x2e66],
    ['4095 is the tie 4094|4096 → even → 4096, carrying into the exponent', 4095, 0x6c00],
  ];
  for (const [name, value, bits] of cases)
    test(name, () => assert.deepEqual(hex(toF16([value])), hex([bits])));

  test('NaN stays NaN (quiet) and the sign survives', () => {
    const [h] = toF16([Number.NaN]);
    assert.equal(h & 0x7c00, 0x7c00);
    assert.notEqual(h & 0x03ff, 0);
    assert.ok(Number.isNaN(castTensor(tensor('float16', [1], [h]), 'float32').data[0]));
  });
});

describe('float32 → bfloat16', () => {
  const cases: [string, number, number][] = [
    ['1.0', 1, 0x3f80],
    ['-2.5', -2.5, 0xc020],
    ['65504 = 0x477fe000 rounds up to 65536', 65504, 0x4780],
    ['0x3f808000 is the tie 0x3f80|0x3f81 → even', fromBits(0x3f808000), 0x3f80],
    ['0x3f818000 is the tie 0x3f81|0x3f82 → even', fromBits(0x3f818000), 0x3f82],
    ['0x3f808001 is above the tie', fromBits(0x3f808001), 0x3f81],
    ['float32 max 0x7f7fffff rounds to +Inf', fromBits(0x7f7fffff), 0x7f80],
    ['subnormal 0x00010000 is exact', fromBits(0x00010000), 0x0001],
    ['subnormal 0x00008000 is the tie 0|1 → 0', fromBits(0x00008000), 0x0000],
    ['subnormal 0x00018000 is the tie 1|2 → 2', fromBits(0x00018000), 0x0002],
    ['-0', -0, 0x8000],
    ['-Inf', Number.NEGATIVE_INFINITY, 0xff80],
  ];
  for (const [name, value, bits] of cases)
    test(name, () => assert.deepEqual(hex(toBf16([value])), hex([bits])));

  test('NaN stays NaN, even when rounding would carry into the exponent', () => {
    for (const nan of [Number.NaN, fromBits(0x7fffffff), fromBits(0x7f80ffff)]) {
      const [b] = toBf16([nan]);
      assert.equal(b & 0x7f80, 0x7f80);
      assert.notEqual(b & 0x007f, 0, `0x${b.toString(16)}`);
    }
  });
});

describe('decoding and whole-tensor casts', () => {
  test('float16 and bfloat16 decode to the values they encode', () => {
    const h = castTensor(tensor('float16', [6], [0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0xfc00]), 'float32');
    assert.deepEqual([...h.data], [1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, Number.NEGATIVE_INFINITY]);
    const b = castTensor(tensor('bfloat16', [3], [0x3f80, 0xc020, 0x0001]), 'float32');
    assert.deepEqual([...b.data], [1, -2.5, 2 ** -133]);
  });

  test('every float16 survives float16 → float32 → float16 and → float64 → float16', () => {
    const all = tensor(
      'float16',
      [1 << 16],
      Uint16Array.from({ length: 1 << 16 }, (_, i) => i),
    );
    for (const via of ['float32', 'float64'] as const) {
      const back = castTensor(castTensor(all, via), 'float16').data;
      for (let i = 0; i < 1 << 16; i++) {
        const nan = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
        if (!nan) assert.equal(back[i], i, `0x${i.toString(16)} via ${via}`);
      }
    }
  });

  test('float16 → bfloat16 rounds (bfloat16 has 3 fewer mantissa bits)', () => {
    // bfloat16 steps by 2⁻⁷ near 1: 1 + 2⁻¹⁰ (float16 0x3c01) rounds to 1.0; 1 + 3·2⁻⁸ (0x3c0c) is the tie
    // 0x3f81|0x3f82 → even.
    const t = castTensor(tensor('float16', [2], [0x3c01, 0x3c0c]), 'bfloat16');
    assert.deepEqual(hex([...t.data]), hex([0x3f80, 0x3f82]));
  });

  test('shape is kept, the input is returned untouched when the dtype already matches', () => {
    const t = tensor('float32', [2, 3], [1, 2, 3, 4, 5, 6]);
    assert.equal(castTensor(t, 'float32'), t);
    const d = castTensor(t, 'float64');
    assert.deepEqual(d.shape, [2, 3]);
    assert.ok(d.data instanceof Float64Array);
    assert.deepEqual([...castTensor(d, 'float32').data], [1, 2, 3, 4, 5, 6]);
    assert.throws(() => castTensor(tensor('int32', [1], [1]), 'float32'), /float tensors/);
  });
});
