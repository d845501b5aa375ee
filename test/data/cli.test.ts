// The `data` command group end to end, through commander, on a temporary folder.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command, CommanderError } from 'commander';
import { register } from '../../src/apps/commands/data.ts';
import { InputError } from '../../src/errors.ts';

const META = '../shared/data/vsibench/meta_info/arkitscenes_meta_info_val.json';
const dir = mkdtempSync(join(tmpdir(), 'data-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<void> {
  const program = new Command().exitOverride().configureOutput({ outputError: () => {} });
  register(program);
  await program.parseAsync(['data', ...args], { from: 'user' });
}

describe('spatial-mllm data', { skip: !existsSync(META) && 'VSI-Bench meta_info not found' }, () => {
  const out = (name: string) => join(dir, name);

  it('qa: the same seed writes the same bytes; conversations carry the same answers', async () => {
    await run(
      'qa',
      '--meta',
      META,
      '--out',
      out('a.jsonl'),
      '--seed',
      '11',
      '--types',
      'object_counting,object_rel_direction_hard',
    );
    await run(
      'qa',
      '--meta',
      META,
      '--out',
      out('b.jsonl'),
      '--seed',
      '11',
      '--types',
      'object_counting,object_rel_direction_hard',
    );
    await run(
      'qa',
      '--meta',
      META,
      '--out',
      out('c.json'),
      '--seed',
      '11',
      '--types',
      'object_counting,object_rel_direction_hard',
      '--format',
      'conversation',
    );
    const a = readFileSync(out('a.jsonl'), 'utf8');
    assert.equal(readFileSync(out('b.jsonl'), 'utf8'), a);
    const vsi = a
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(vsi.length > 50);
    assert.deepEqual(
      new Set(vsi.map((q) => q.question_type)),
      new Set(['object_counting', 'object_rel_direction_hard']),
    );
    const conv = JSON.parse(readFileSync(out('c.json'), 'utf8'));
    assert.deepEqual(
      conv.map((c: { conversations: { value: string }[] }) => c.conversations[1].value),
      vsi.map((q) => q.ground_truth),
    );
  });

  it('answer: the oracle agrees with every generated question', async () => {
    await run('answer', '--meta', META, '--questions', out('a.jsonl'), '--out', out('answers.json'));
    const answers = JSON.parse(readFileSync(out('answers.json'), 'utf8'));
    assert.ok(answers.length > 50);
    assert.ok(answers.every((r: { agrees: boolean }) => r.agrees === true));
  });

  it('mix: excludes the scenes of a meta_info file', async () => {
    writeFileSync(
      out('recipe.json'),
      JSON.stringify({ buckets: [{ name: 'count', weight: 1, types: ['object_counting'] }] }),
    );
    const sceneList = out('scenes.txt');
    const first = JSON.parse(readFileSync(out('a.jsonl'), 'utf8').split('\n')[0]).scene_name;
    writeFileSync(sceneList, `${first}\n`);
    await run(
      'mix',
      '--in',
      out('a.jsonl'),
      '--recipe',
      out('recipe.json'),
      '--exclude-scenes',
      sceneList,
      '--out',
      out('mix.jsonl'),
    );
    const mixed = readFileSync(out('mix.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(mixed.length > 0);
    assert.ok(mixed.every((s) => s.question_type === 'object_counting' && s.scene_name !== first));
    // Excluding every scene of the file leaves the bucket empty.
    await run(
      'mix',
      '--in',
      out('a.jsonl'),
      '--recipe',
      out('recipe.json'),
      '--exclude-scenes',
      META,
      '--out',
      out('none.jsonl'),
    );
    assert.equal(readFileSync(out('none.jsonl'), 'utf8'), '');
  });

  it('reports bad input: option values through commander, files as InputError', async () => {
    await assert.rejects(run('qa', '--meta', out('missing.json'), '--out', out('x.json')), InputError);
    await assert.rejects(
      run('qa', '--meta', META, '--out', out('x.json'), '--types', 'object_count'),
      (e: Error) =>
        e instanceof CommanderError &&
        /--types/.test(e.message) &&
        /"object_count" is not one of/.test(e.message),
    );
    await assert.rejects(
      run('qa', '--meta', META, '--out', out('x.json'), '--seed', 'abc'),
      (e: Error) => e instanceof CommanderError && /--seed.*Give a whole number/.test(e.message),
    );
    writeFileSync(out('bad.jsonl'), '{"question": "How many?"}\n');
    await assert.rejects(run('answer', '--meta', META, '--questions', out('bad.jsonl')), /lacks scene_name/);
  });
});
