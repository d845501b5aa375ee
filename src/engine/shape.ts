// Symbolic shapes. A dimension is a number or a named dynamic dimension ('batch', 'seq', 'seq+past').
// Products of dims stay symbolic as 'a*b' with numeric factors folded; anything else is an opaque name.
// Checks are strict between numbers and lenient where a symbol is involved (its value is only known at run time).

export type Dim = number | string;
export type Shape = readonly Dim[];

export class ShapeError extends Error {
  override name = 'ShapeError';
}

export const fmt = (s: Shape): string => `[${s.join(', ')}]`;

export const isStatic = (s: Shape): s is readonly number[] => s.every((d) => typeof d === 'number');

/** The same dimension for sure (equal numbers or identical symbols). */
export const sameDim = (a: Dim, b: Dim): boolean => a === b;

/** Could be equal at run time. */
export const compatibleDim = (a: Dim, b: Dim): boolean =>
  typeof a === 'string' || typeof b === 'string' || a === b;

/** Splits s at top-level occurrences of sep (not inside parentheses). */
function splitTop(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') depth--;
    else if (s[i] === sep && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/** A dim as numeric factor × symbolic factors; a sum ('seq+2') is one factor, kept in parentheses. */
function factors(d: Dim): { n: number; syms: string[] } {
  if (typeof d === 'number') return { n: d, syms: [] };
  if (splitTop(d, '+').length > 1) return { n: 1, syms: [`(${d})`] };
  const syms: string[] = [];
  let n = 1;
  for (const f of splitTop(d, '*')) {
    if (/^\d+$/.test(f)) n *= Number(f);
    else syms.push(f);
  }
  return { n, syms };
}

const unwrap = (s: string) =>
  s.startsWith('(') && s.endsWith(')') && splitTop(s.slice(1, -1), '+').length > 1 ? s.slice(1, -1) : s;

function fromFactors(n: number, syms: string[]): Dim {
  if (syms.length === 0) return n;
  if (n === 1 && syms.length === 1) return unwrap(syms[0]);
  const s = [...syms].sort();
  return n === 1 ? s.join('*') : `${n}*${s.join('*')}`;
}

/** Product of dims, symbolic where needed. */
export function mulDims(dims: readonly Dim[]): Dim {
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) {
    const f = factors(d);
    n *= f.n;
    syms.push(...f.syms);
  }
  return n === 0 ? 0 : fromFactors(n, syms);
}

/** a / b when it can be known at build time (b's symbols all appear in a and the numbers divide). */
export function divDims(a: Dim, b: Dim): Dim | undefined {
  const fa = factors(a);
  const fb = factors(b);
  const rest = [...fa.syms];
  for (const s of fb.syms) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  if (fb.n === 0 || fa.n % fb.n !== 0) return undefined;
  return fromFactors(fa.n / fb.n, rest);
}

export function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  return `${a}+${b}`;
}

/** Numpy broadcasting of several shapes; throws naming the op when two numeric dims differ and neither is 1. */
export function broadcast(op: string, ...shapes: Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const e = s[s.length - rank + i] ?? 1;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (typeof d === 'number' && typeof e === 'number' && d !== e)
        throw new ShapeError(
          `${op}: shapes ${shapes.map(fmt).join(' and ')} do not broadcast (axis ${i}: ${d} vs ${e})`,
        );
      else if (typeof d === 'string' && typeof e === 'number') d = e;
    }
    out.push(d);
  }
  return out;
}

/** Normalizes a possibly negative axis of a shape (or of a rank-`rank` result), naming the op and shape on failure. */
export function axisOf(op: string, axis: number, shape: Shape, rank = shape.length): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new ShapeError(
      `${op}: axis ${axis} out of range for ${fmt(shape)}${rank !== shape.length ? ` (result rank ${rank})` : ''}`,
    );
  return a;
}

export function expectRank(op: string, what: string, s: Shape, ...ranks: number[]): void {
  if (!ranks.includes(s.length))
    throw new ShapeError(`${op}: ${what} must have rank ${ranks.join(' or ')}, got ${fmt(s)}`);
}

export function expectDim(op: string, what: string, a: Dim, b: Dim): void {
  if (!compatibleDim(a, b)) throw new ShapeError(`${op}: ${what} (${a} vs ${b})`);
}
