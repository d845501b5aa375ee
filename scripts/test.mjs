#!/usr/bin/env node
// `npm test`: the typecheck, the linter, then every test/**/*.test.ts with Node's test runner (Node 20 has no .ts
// globbing of its own). With filters, only the matching test files run (no typecheck or lint).
// Usage: node scripts/test.mjs [filter-substring ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const run = (command, args) => spawnSync(command, args, { stdio: 'inherit' }).status ?? 1;
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
const filters = process.argv.slice(2);
const files = walk('test')
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
if (filters.length === 0) {
  const bin = (name) => join('node_modules', '.bin', name);
  for (const [what, command, args] of [
    ['typecheck', bin('tsc'), ['--noEmit']],
    ['lint', bin('biome'), ['check', 'src', 'test', 'bench', 'scripts', 'web']],
  ]) {
    console.error(`npm test: ${what}`);
    const status = run(command, args);
    if (status !== 0) {
      console.error(`npm test: ${what} failed`);
      process.exit(status);
    }
  }
}
process.exit(run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files]));
