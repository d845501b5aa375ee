import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixtureRoots, searchFixtures } from './fixtures.ts';

const kindFolder = (parent: string, name: string, kind: string) => {
  mkdirSync(join(parent, name), { recursive: true });
  writeFileSync(join(parent, name, 'fixture.json'), JSON.stringify({ kind }));
  return join(parent, name);
};

test('fixtures are found by kind in every SPATIAL_MLLM_FIXTURES folder (colon-separated), roots included', () => {
  const a = mkdtempSync(join(tmpdir(), 'fx-a-'));
  const b = mkdtempSync(join(tmpdir(), 'fx-b-'));
  kindFolder(a, 'any_name', 'test_only_kind');
  kindFolder(a, 'other', 'another_kind');
  const root = kindFolder(b, 'root_itself', 'test_only_kind');
  const roots = fixtureRoots(`${a}::${root}`);
  assert.deepEqual(roots.slice(-2), [a, root]);
  assert.deepEqual(
    searchFixtures('test_only_kind', roots).map((f) => f.name),
    ['any_name', 'root_itself'],
  );
  assert.ok(searchFixtures('vggt').length >= 1, 'shared vggt fixture present');
});

test('a SPATIAL_MLLM_FIXTURES entry that does not exist is an error naming it', () => {
  const a = mkdtempSync(join(tmpdir(), 'fx-'));
  assert.throws(
    () => fixtureRoots(`${a}:/nonexistent/fixtures`),
    /SPATIAL_MLLM_FIXTURES names \/nonexistent\/fixtures/,
  );
});

/** Runs a test file that asks for fixtures of `kind`, with the given SPATIAL_MLLM_FIXTURES. */
function runChild(kind: string, env: string | undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'fx-child-'));
  const file = join(dir, 'child.test.ts');
  const support = fileURLToPath(new URL('./fixtures.ts', import.meta.url));
  writeFileSync(
    file,
    `import { test } from 'node:test';\nimport { findFixtures } from ${JSON.stringify(support)};\n` +
      `for (const fx of findFixtures(${JSON.stringify(kind)})) test(fx.name, () => {});\n`,
  );
  return spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', file], {
    encoding: 'utf8',
    // NODE_TEST_CONTEXT would make the child report to this runner instead of exiting with its own status.
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, SPATIAL_MLLM_FIXTURES: env ?? '' },
  });
}

test('a kind with no fixture fails the run instead of registering nothing', () => {
  const r = runChild('no_such_kind', undefined);
  assert.notEqual(r.status, 0, r.stdout);
  assert.match(r.stdout, /no fixture of kind "no_such_kind"/);
  const ok = runChild('vggt', undefined);
  assert.equal(ok.status, 0, ok.stdout);
  const bad = runChild('vggt', '/nonexistent/fixtures');
  assert.notEqual(bad.status, 0, bad.stdout);
  assert.match(bad.stdout, /SPATIAL_MLLM_FIXTURES names \/nonexistent\/fixtures/);
});
