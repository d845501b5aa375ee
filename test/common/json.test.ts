// Reading JSON the user points us at: every failure is an InputError naming the file, the problem and the fix.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors.ts';
import { isObject, readJsonFile, readJsonObject } from '../../src/json.ts';

const dir = mkdtempSync(join(tmpdir(), 'json-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const fails = (fn: () => unknown, ...parts: RegExp[]) =>
  assert.throws(fn, (e) => e instanceof InputError && parts.every((p) => p.test(e.message)));

test('reads JSON; a missing, broken or wrongly shaped file is an InputError with the fix', () => {
  assert.deepEqual(readJsonFile(file('ok.json', '{"a": [1, 2]}'), 'fix it'), { a: [1, 2] });
  fails(() => readJsonFile(join(dir, 'none.json'), 'fix it'), /cannot read .*none\.json/, /; fix it$/);
  fails(() => readJsonFile(file('bad.json', '{"a": '), 'fix it'), /bad\.json is not valid JSON/, /; fix it$/);
  fails(() => readJsonObject(file('list.json', '[1]'), 'fix it'), /list\.json is not a JSON object; fix it$/);
});

test('isObject: JSON objects only', () => {
  assert.deepEqual([{}, { a: 1 }, [], null, 'x', 1].map(isObject), [true, true, false, false, false, false]);
});
