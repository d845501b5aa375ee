// `spatial-mllm weights inspect` through the real CLI entry point (exit codes and printed text).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { WeightsSummary } from '../../src/apps/inspect.ts';
import { BYTES, type DType, tensor } from '../../src/tensor.ts';
import { writeSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'inspect-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/apps/cli.ts', 'weights', 'inspect', ...args],
    {
      encoding: 'utf8',
    },
  );
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('weights inspect', () => {
  test('a small checkpoint: table rows, per-prefix groups and totals', () => {
    const path = join(dir, 'small.safetensors');
    writeSafetensors(
      path,
      {
        'model.embed.weight': tensor('bfloat16', [10, 4]),
        'model.norm.weight': tensor('float32', [4]),
        'lm_head.weight': tensor('float16', [3, 4]),
        step: tensor('int64', []),
      },
      { format: 'pt' },
    );
    const { code, out, err } = cli(path);
    assert.equal(code, 0, err);
    const lines = out.split('\n');
    // 40 + 4 + 12 + 1 = 57 parameters; 80 + 16 + 24 + 8 = 128 bytes.
    assert.equal(lines[0], `${path}: 4 tensors, 57 parameters, 128 B`);
    assert.match(out, /^ {2}format: pt$/m);
    assert.match(out, /^model\.embed\.weight +bfloat16 +\[10, 4\] +40$/m);
    assert.match(out, /^lm_head\.weight +float16 +\[3, 4\] +12$/m);
    assert.match(out, /^step +int64 +\[\] +1$/m);
    assert.match(out, /^model +2 +44 +77\.2% +96 B$/m);
    assert.match(out, /^lm_head +1 +12 +21\.1% +24 B$/m);
    assert.match(out, /^total +4 +57 +100\.0% +128 B$/m);
  });

  for (const fx of findFixtures('vggt'))
    test(`${fx.name} (JSON): counts its config.json records, one group per module`, () => {
      const { code, out, err } = cli(fx.dir, '--json');
      assert.equal(code, 0, err);
      const s = JSON.parse(out) as WeightsSummary;
      // The fixture's config.json records the upstream state_dict size.
      const config = JSON.parse(readFileSync(join(fx.dir, 'config.json'), 'utf8'));
      assert.deepEqual([s.total.tensors, s.total.params], [config.state_dict_keys, config.num_parameters]);
      const heads = ['camera', 'depth', 'point', 'track'].filter((h) => config.VGGT[`enable_${h}`] !== false);
      assert.deepEqual(s.groups.map((g) => g.prefix).sort(), [
        'aggregator',
        ...heads.map((h) => `${h}_head`),
      ]);
      assert.equal(
        s.groups.reduce((a, g) => a + g.params, 0),
        config.num_parameters,
      );
      assert.equal(
        s.total.bytes,
        s.tensors.reduce((a, t) => a + t.params * BYTES[t.dtype as DType], 0),
      );
    });

  test('a sharded folder', () => {
    const d = mkdtempSync(join(dir, 'sharded-'));
    writeSafetensors(join(d, 'a.safetensors'), { x: tensor('float32', [2, 3]) });
    writeSafetensors(join(d, 'b.safetensors'), { y: tensor('float32', [5]) });
    writeFileSync(
      join(d, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { x: 'a.safetensors', y: 'b.safetensors' } }),
    );
    const { code, out } = cli(d);
    assert.equal(code, 0);
    assert.match(out.split('\n')[0], /2 tensors, 11 parameters, 44 B in 2 shards$/);
  });

  test('a corrupt file exits 2 with the reader message and no stack trace', () => {
    const path = join(dir, 'corrupt.safetensors');
    const header = Buffer.from('{"w": [1, 2');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(path, Buffer.concat([prefix, header]));
    const { code, out, err } = cli(path);
    assert.equal(code, 2);
    assert.equal(out, '');
    assert.match(err, /^error: .*corrupt\.safetensors: header is not valid JSON/);
    assert.match(err, /re-download/);
    assert.doesNotMatch(err, /\n\s+at /);
  });

  test('a missing path exits 2', () => {
    const { code, err } = cli(join(dir, 'nope'));
    assert.equal(code, 2);
    assert.match(err, /nope does not exist/);
  });
});
