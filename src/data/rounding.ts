// Python's rounding, which VSI-Bench's generators use (`round(x, 1)`, `round(x * 100)`): the exact binary value is
// rounded to the nearest decimal, and only exact ties go to the even digit. JavaScript's toFixed also works on the
// exact value but breaks ties upwards, so ties are detected from the exact expansion and fixed.

/** Python `round(x, digits)` for 0 ≤ digits ≤ 20. */
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

/** How Python's `str()` prints a float rounded to `digits` decimals (at least one decimal: `2.0`). */
export function formatDecimal(x: number, digits: number): string {
  return x.toFixed(Math.max(1, digits));
}
