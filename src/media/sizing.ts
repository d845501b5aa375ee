// Integer rounding as Python does it, for the target-size formulas copied from Python preprocessing code.

/** Python 3 `round(x)`: nearest integer, exact ties to even (round(10.5) = 10, where Math.round gives 11). */
export function pythonRound(x: number): number {
  const f = Math.floor(x);
  const frac = x - f; // exact for doubles
  if (frac !== 0.5) return frac < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}
