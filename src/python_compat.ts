// Python, numpy and torch semantics that upstream results depend on, in one place. Upstream scoring, data
// generation and preprocessing are Python: their outputs depend on which characters `str.strip()` removes, what
// `float()` accepts, in which order numpy adds numbers, how `round` breaks ties and how numpy and torch space a
// linspace, so these helpers reproduce CPython 3.11 / numpy 1.24 / torch 2.x behaviour to the last bit.

// ---- strings -----------------------------------------------------------------------------------------------

/** Regex class body of the characters for which CPython's `str.isspace()` is true, which is also what `\s` matches in
 * `re` str patterns (JS `\s` differs: it has U+FEFF and lacks U+001C–U+001F and U+0085). */
export const PY_SPACE =
  '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'g');
const LEADING_SPACE = new RegExp(`^[${PY_SPACE}]+`);
const TRAILING_SPACE = new RegExp(`[${PY_SPACE}]+$`);

/** `s.strip()` with no argument. */
export function pyStrip(s: string): string {
  return s.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '');
}

/** `s.rstrip(chars)` with an explicit character set. */
export function pyRstripChars(s: string, chars: string): string {
  let end = s.length;
  while (end > 0 && chars.includes(s[end - 1])) end--;
  return s.slice(0, end);
}

/** `s.split()` with no argument: runs of whitespace separate, no empty strings. */
export function pySplitWhitespace(s: string): string[] {
  const t = pyStrip(s);
  return t === '' ? [] : t.split(SPACE_RUN);
}

/** `re.sub(r"\s+", " ", s)` for a str pattern. */
export function pyCollapseSpace(s: string): string {
  return s.replace(SPACE_RUN, ' ');
}

const DECIMAL_DIGIT = /\p{Nd}/u;

/** Value of a Unicode decimal digit: Nd characters come in aligned runs of ten starting at zero. */
function unicodeDigitValue(cp: number): number {
  let start = cp;
  while (DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

const FLOAT_BODY = /^[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)$/i;

/**
 * Python's `float(s)` for a str: `null` where Python raises ValueError. Unicode decimal digits count as digits
 * and Unicode whitespace is stripped (CPython's `_PyUnicode_TransformDecimalAndSpaceToASCII`), single
 * underscores may sit between digits, `inf`/`infinity`/`nan` in any case; decimal → double is correctly
 * rounded in both languages, so `Number` finishes the job.
 */
export function pyFloat(s: string): number | null {
  let ascii = '';
  for (const ch of pyStrip(s)) {
    const cp = ch.codePointAt(0)!;
    if (cp < 128) ascii += ch;
    else if (DECIMAL_DIGIT.test(ch)) ascii += String(unicodeDigitValue(cp));
    else return null;
  }
  if (/_/.test(ascii)) {
    if (/(^|[^0-9])_|_($|[^0-9])/.test(ascii)) return null;
    ascii = ascii.replaceAll('_', '');
  }
  if (!FLOAT_BODY.test(ascii)) return null;
  const lower = ascii.toLowerCase();
  const sign = lower.startsWith('-') ? -1 : 1;
  const body = lower.replace(/^[+-]/, '');
  if (body === 'nan') return Number.NaN;
  if (body === 'inf' || body === 'infinity') return sign * Number.POSITIVE_INFINITY;
  return Number(ascii);
}

// ---- sums ----------------------------------------------------------------------------------------------------

/**
 * `np.add.reduce` over float64 values in order (numpy's pairwise summation: blocks of up to 128 summed with 8
 * interleaved accumulators, larger runs split in halves at multiples of 8). pandas' `Series.mean` and
 * `np.mean` both end here, so matching their last digits needs the same association order.
 */
export function npSum(values: ArrayLike<number>, start = 0, n = values.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += values[start + i];
    return res;
  }
  if (n <= 128) {
    const r = [0, 0, 0, 0, 0, 0, 0, 0].map((_, j) => values[start + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += values[start + i + j];
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) res += values[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return npSum(values, start, n2) + npSum(values, start + n2, n - n2);
}

/** `np.mean` / pandas `Series.mean` of float64 values (NaN for an empty input). */
export function npMean(values: ArrayLike<number>): number {
  return npSum(values) / values.length;
}

/** Python's `sum(xs)`: left to right from the integer 0. */
export function pySum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

// ---- rounding and formatting --------------------------------------------------------------------------------

/**
 * Python 3 `round(x)` (also numpy's `rint` and torch's `round`): nearest integer, exact ties to even
 * (round(10.5) = 10, where Math.round gives 11). `x − floor(x)` is exact for doubles, so ties are seen exactly.
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const frac = x - f;
  if (frac !== 0.5) return frac < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Python `round(x, digits)` for 0 ≤ digits ≤ 20: the exact binary value is rounded to the nearest decimal and
 * only exact ties go to the even digit. JS `toFixed` also works on the exact value but breaks ties upwards, so
 * ties are detected from the exact expansion and fixed.
 */
export function pyRound(x: number, digits = 0): number {
  if (!Number.isFinite(x)) return x;
  const fixed = Math.abs(x).toFixed(digits);
  // toFixed(100) prints the exact expansion for |x| ≥ 2^-47 (the values we round are far larger).
  const exact = Math.abs(x).toFixed(100);
  const dot = exact.indexOf('.');
  const tail = exact.slice(dot + 1 + digits);
  let out = Number(fixed);
  if (/^50*$/.test(tail)) {
    // An exact tie: toFixed went up; Python keeps the even last digit.
    const lastDigit = Number(fixed[fixed.length - 1]);
    if (lastDigit % 2 === 1) out = Number((out - 10 ** -digits).toFixed(digits));
  }
  return x < 0 ? -out : out;
}

/** How Python's `str()` prints a float already rounded to `digits` decimals (at least one decimal: `2.0`). */
export function formatDecimal(x: number, digits: number): string {
  return x.toFixed(Math.max(1, digits));
}

/** A finite double as an exact rational mant·2^exp with integer mant. */
function exactParts(x: number): { mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const sign = bits >> 63n ? -1n : 1n;
  return biased === 0
    ? { mant: sign * frac, exp: -1074 }
    : { mant: sign * (frac | (1n << 52n)), exp: biased - 1075 };
}

/**
 * Python's `f'{x:.{digits}f}'`: rounds the exact binary value, ties to even. JS `toFixed` breaks exact ties
 * upwards (`(0.0625).toFixed(3)` is '0.063', Python gives '0.062'), so ties are settled here.
 */
export function pyFormatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const js = x.toFixed(digits);
  const { mant, exp } = exactParts(Math.abs(x));
  // twice x·10^digits as num/den; a tie is when that is an odd integer.
  const num = mant * 2n * 10n ** BigInt(digits) * (exp > 0 ? 1n << BigInt(exp) : 1n);
  const den = exp < 0 ? 1n << BigInt(-exp) : 1n;
  if (num % den !== 0n || (num / den) % 2n === 0n) return js;
  const floor = num / den / 2n; // the lower neighbour, as an integer count of 10^-digits
  const even = floor % 2n === 0n ? floor : floor + 1n;
  const text = even.toString().padStart(digits + 1, '0');
  const body = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
  return (x < 0 ? '-' : '') + body;
}

// ---- linspace ------------------------------------------------------------------------------------------------

/** `np.linspace(start, stop, num)` in float64 as numpy 1.24 evaluates it: i·step + start, the last value exactly `stop`. */
export function npLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : i * step + start));
}

/** `np.linspace(0, last, num, dtype=int)`: the float64 values truncated toward zero. */
export function npLinspaceInt(last: number, num: number): number[] {
  return npLinspace(0, last, num).map(Math.trunc);
}

const f32 = Math.fround;

/**
 * `torch.linspace(start, end, steps)` in float32: start + i·step for the first half, end − (steps−1−i)·step
 * for the rest (ATen's linspace kernel), step = (end − start)/(steps − 1); one step gives `start`.
 */
export function torchLinspace32(start: number, end: number, steps: number): number[] {
  if (steps === 1) return [f32(start)];
  const [s, e] = [f32(start), f32(end)];
  const step = f32(f32(e - s) / (steps - 1));
  return Array.from({ length: steps }, (_, i) =>
    i < steps >> 1 ? f32(s + f32(step * i)) : f32(e - f32(step * (steps - 1 - i))),
  );
}
