import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findFixtures } from './fixtures.ts';

test('fixtures are found by kind, including SPATIAL_MLLM_FIXTURES folders', () => {
  const extra = mkdtempSync(join(tmpdir(), 'fx-'));
  mkdirSync(join(extra, 'any_name'));
  writeFileSync(join(extra, 'any_name', 'fixture.json'), JSON.stringify({ kind: 'test_only_kind' }));
  const saved = process.env.SPATIAL_MLLM_FIXTURES;
  process.env.SPATIAL_MLLM_FIXTURES = `/nonexistent:${extra}`;
  try {
    const found = findFixtures('test_only_kind');
    assert.deepEqual(
      found.map((f) => f.name),
      ['any_name'],
    );
  } finally {
    process.env.SPATIAL_MLLM_FIXTURES = saved;
  }
  assert.ok(findFixtures('vggt').length >= 1, 'shared vggt fixture present');
});
