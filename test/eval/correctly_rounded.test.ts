// crPow/crExp/crLog against independent exact references: x^0.5 must equal the (correctly rounded) sqrt, x^2
// the rounded product, x^1 and 1^y exact; exp/log must invert each other to within rounding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crExp, crLog, crPow } from '../../src/eval/correctly_rounded.ts';

// Full 52-bit random mantissas: with short mantissas x·x is often an exact tie, which no 104-bit evaluation can
// settle (the scorers only take roots and exponentials, whose results are never ties).
function* randomDoubles(n: number, seed = 7): Generator<number> {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s;
  };
  for (let i = 0; i < n; i++) {
    const mant = 1 + (next() * 2 ** 21 + (next() % 2 ** 21)) / 2 ** 52;
    yield mant * 2 ** ((i % 120) - 60);
  }
}

test('crPow(x, 0.5) is sqrt(x) and crPow(x, 2) is x·x, bit for bit', () => {
  for (const x of randomDoubles(20000)) {
    assert.equal(crPow(x, 0.5), Math.sqrt(x), `sqrt ${x}`);
    assert.equal(crPow(x, 2), x * x, `square ${x}`);
    assert.equal(crPow(x, 1), x);
  }
});

test('crExp and crLog agree with Math within one ulp and invert each other', () => {
  for (const x of randomDoubles(5000, 3)) {
    const l = crLog(x);
    assert.ok(Math.abs(l - Math.log(x)) <= 2 * Number.EPSILON * Math.max(1, Math.abs(l)), `log ${x}`);
    const y = l / 8;
    const e = crExp(y);
    assert.ok(Math.abs(e - Math.exp(y)) <= Number.EPSILON * e, `exp ${y}`);
  }
  assert.equal(crExp(0), 1);
  assert.equal(crExp(1), Math.E);
  assert.equal(crLog(1), 0);
  assert.equal(crLog(Math.E), 1);
  assert.equal(crExp(-1e4), 0);
  assert.equal(crPow(0, 3), 0);
});
