// `spatial-mllm serve` as a command: starts on a free port with the small model (or, in a checkout without it, the
// demo's tiny model) when no --model is given,
// answers /health, stops on SIGINT with exit 0; bad options are one-line errors with exit 2.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { shippedModel } from '../../src/apps/model_name.ts';
import { json } from './serve_support.ts';

const cliArgs = (args: string[]) => ['--import', 'tsx', 'src/apps/cli.ts', 'serve', ...args];

const small = shippedModel('small') !== undefined;

test('serve starts with the default model, answers /health and stops on SIGINT', async () => {
  const data = mkdtempSync(join(tmpdir(), 'serve-cli-'));
  const child = spawn(process.execPath, cliArgs(['--port', '0', '--data', data]), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const base = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err += s;
      const m = / at (http:\/\/[\d.:]+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  assert.match(
    err,
    small ? /no --model given: serving the small Spatial-MLLM/ : /serving a tiny Spatial-MLLM/,
  );
  const h = await json(await fetch(`${base}/health`));
  assert.deepEqual(h.models, [{ id: small ? 'small' : 'tiny-random', running: 0, waiting: 0 }]);
  const page = await fetch(`${base}/`);
  assert.match(await page.text(), /<canvas id="view"/);
  const code = await new Promise<number | null>((resolve) => {
    child.on('exit', resolve);
    child.kill('SIGINT');
  });
  assert.equal(code, 0, err);
});

test('bad options: one line, exit 2', () => {
  const missing = spawnSync(process.execPath, cliArgs(['--model', '/nonexistent/model']), {
    encoding: 'utf8',
  });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^error: model folder not found: \/nonexistent\/model/);
  assert.ok(!missing.stderr.includes('    at '), missing.stderr);
  const port = spawnSync(process.execPath, cliArgs(['--port', 'eighty']), { encoding: 'utf8' });
  assert.notEqual(port.status, 0);
  assert.match(port.stderr, /--port must be an integer/);
});
