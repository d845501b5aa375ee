// One frame count rule and one list of sampling modes for every entry point: the functions themselves, `ask`
// and `eval` on the command line (exit 2, one line, no stack trace) all refuse the same values the same way.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { InputError } from '../../src/errors.ts';
import {
  checkFrameCount,
  checkFrameSampling,
  DEFAULT_FRAME_COUNT,
  FRAME_SAMPLINGS,
  MIN_FRAME_COUNT,
} from '../../src/pipeline/frame_sampling.ts';

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/apps/cli.ts', ...args], { encoding: 'utf8' });

describe('frame count and sampling mode', () => {
  test('whole numbers from the minimum up pass, as numbers or command-line text', () => {
    for (const n of [MIN_FRAME_COUNT, DEFAULT_FRAME_COUNT, 33]) {
      assert.equal(checkFrameCount(n), n);
      assert.equal(checkFrameCount(String(n)), n);
    }
    for (const bad of [MIN_FRAME_COUNT - 1, 0, -4, 2.5, Number.NaN, 'abc', '', ' '])
      assert.throws(() => checkFrameCount(bad), InputError, String(bad));
    for (const s of FRAME_SAMPLINGS) assert.equal(checkFrameSampling(s), s);
    assert.throws(
      () => checkFrameSampling('random'),
      (e) => e instanceof InputError && e.message.includes(FRAME_SAMPLINGS.join(', ')),
    );
  });

  test('ask and eval refuse the same frame counts with the same message and exit 2', () => {
    const bad = String(MIN_FRAME_COUNT - 1);
    const want = (() => {
      try {
        checkFrameCount(bad);
      } catch (e) {
        return (e as Error).message;
      }
    })()!;
    for (const args of [
      ['ask', 'q', '--model', 'nowhere', '--video', 'nowhere.mp4', '--frames', bad],
      ['eval', 'vsibench', '--model', 'baseline:chance', '--data', 'nowhere', '--frames', bad],
    ]) {
      const r = cli(args);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.trim(), `error: ${want}`);
    }
  });
});
