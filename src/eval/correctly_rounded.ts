// Correctly rounded log, exp and pow. The Python scorers call glibc's `log`/`exp`/`pow` (through `math.exp`,
// `float ** float`, `np.log`), which return the correctly rounded result in practice; V8's fdlibm-derived
// Math.pow is off by one ulp now and then (e.g. BLEU-3's cube root of 1e-12·…), which shows in the last digit
// of per-sample BLEU. Here each function is evaluated in double-double arithmetic (~104 bits) and rounded once.

type DD = readonly [number, number];

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}
function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return [s, b - (s - a)];
}
function split(a: number): DD {
  const t = 134217729 * a; // 2^27 + 1
  const hi = t - (t - a);
  return [hi, a - hi];
}
function twoProd(a: number, b: number): DD {
  const p = a * b;
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}
function add(x: DD, y: DD): DD {
  const [s, e] = twoSum(x[0], y[0]);
  const [t, f] = twoSum(x[1], y[1]);
  const [s2, e2] = quickTwoSum(s, e + t);
  return quickTwoSum(s2, e2 + f);
}
function mul(x: DD, y: DD): DD {
  const [p, e] = twoProd(x[0], y[0]);
  return quickTwoSum(p, e + (x[0] * y[1] + x[1] * y[0]));
}
function mulNumber(x: DD, d: number): DD {
  const [p, e] = twoProd(x[0], d);
  return quickTwoSum(p, e + x[1] * d);
}
function div(x: DD, y: DD): DD {
  const q1 = x[0] / y[0];
  let r = add(x, mulNumber(y, -q1));
  const q2 = r[0] / y[0];
  r = add(r, mulNumber(y, -q2));
  const q3 = r[0] / y[0];
  return add(quickTwoSum(q1, q2), [q3, 0]);
}

const LN2: DD = [Math.LN2, 2.3190468138462996e-17];
const ONE: DD = [1, 0];
/** 1/(2k+1) for the atanh series and 1/n! for the exp series, as double-doubles. */
const ODD_RECIPROCALS = Array.from({ length: 23 }, (_, k) => div(ONE, [2 * k + 1, 0]));
const INV_FACTORIALS = (() => {
  const out: DD[] = [ONE];
  for (let n = 1; n <= 12; n++) out.push(div(out[n - 1], [n, 0]));
  return out;
})();

/** ln(x) for finite x > 0: x = m·2^e with m in [√½, √2), ln m = 2·atanh((m−1)/(m+1)) by its series. */
function logDD(x: number): DD {
  let e = 0;
  let m = x;
  if (m < 2 ** -1000) {
    m *= 2 ** 100;
    e -= 100;
  }
  const ex = Math.floor(Math.log2(m));
  m /= 2 ** ex;
  e += ex;
  if (m >= 2) {
    m /= 2;
    e += 1;
  } else if (m < 1) {
    m *= 2;
    e -= 1;
  }
  if (m > Math.SQRT2) {
    m /= 2;
    e += 1;
  }
  const s = div([m - 1, 0], twoSum(m, 1));
  const z = mul(s, s);
  let acc = ODD_RECIPROCALS[ODD_RECIPROCALS.length - 1];
  for (let k = ODD_RECIPROCALS.length - 2; k >= 0; k--) acc = add(mul(acc, z), ODD_RECIPROCALS[k]);
  return add(mulNumber(LN2, e), mulNumber(mul(s, acc), 2));
}

/** e^x for a double-double x: x = k·ln2 + r, expm1(r/1024) by Taylor, squared back 10 times. */
function expDD(x: DD): number {
  if (x[0] > 709.8) return Number.POSITIVE_INFINITY;
  if (x[0] < -745.2) return 0;
  const k = Math.round(x[0] / LN2[0]);
  const r = add(x, mulNumber(LN2, -k));
  const t: DD = [r[0] / 1024, r[1] / 1024];
  let em1 = INV_FACTORIALS[INV_FACTORIALS.length - 1];
  for (let n = INV_FACTORIALS.length - 2; n >= 1; n--) em1 = add(mul(em1, t), INV_FACTORIALS[n]);
  em1 = mul(em1, t);
  for (let i = 0; i < 10; i++) em1 = mul(em1, add([2, 0], em1)); // (1+e)² − 1 = e(2+e)
  const result = add(ONE, em1);
  // scale in two steps so that 2^k itself never overflows
  const half = Math.trunc(k / 2);
  return (result[0] + result[1]) * 2 ** half * 2 ** (k - half);
}

/** Correctly rounded natural logarithm. */
export function crLog(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return Math.log(x);
  const r = logDD(x);
  return r[0] + r[1];
}

/** Correctly rounded e^x. */
export function crExp(x: number): number {
  return Number.isFinite(x) ? expDD([x, 0]) : Math.exp(x);
}

/** Correctly rounded x^y for x ≥ 0 (what glibc's pow gives). */
export function crPow(x: number, y: number): number {
  if (y === 0 || x === 1) return 1;
  if (!(x > 0) || !Number.isFinite(x) || !Number.isFinite(y)) return x ** y;
  return expDD(mulNumber(logDD(x), y));
}
