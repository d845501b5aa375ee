// Timing in the benchmarks, on a shared machine.

/** The fastest of `runs` calls of `run` in ms: the one least disturbed by other processes. */
export async function bestOf(runs: number, run: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return Math.min(...times);
}
