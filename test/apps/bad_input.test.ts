// The CLI's one rule for bad input, path by path: a one-line "error: …" naming the option or file (and the fix),
// exit 2, no stack trace. Runs the CLI in-process (src/apps/cli.ts main) on a generated tiny checkpoint whose files
// are broken one at a time.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/apps/cli.ts';
import { writeTinySpatialMllm } from '../../src/apps/demo/tiny_model.ts';
import { shippedModel } from '../../src/apps/model_name.ts';

const dir = mkdtempSync(join(tmpdir(), 'bad-input-'));
const model = join(dir, 'model');
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI and returns its exit status and what it wrote to stderr. */
async function cli(args: string[]): Promise<{ status: number; stderr: string }> {
  let stderr = '';
  const write = process.stderr.write;
  // (stdout stays: the test runner reports through it.)
  process.stderr.write = ((s: string) => {
    stderr += s;
    return true;
  }) as typeof process.stderr.write;
  try {
    return { status: await main(args), stderr };
  } finally {
    process.stderr.write = write;
  }
}

function assertBadInput(r: { status: number; stderr: string }, names: RegExp, what: string): void {
  assert.equal(r.status, 2, `${what}: ${r.stderr}`);
  assert.match(r.stderr, /^error: /, what);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: one line, got\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
  assert.match(r.stderr, names, what);
}

/** A copy of the tiny checkpoint with one file replaced. */
function brokenModel(file: string, content: (old: string) => string): string {
  const copy = join(dir, `broken-${file}`);
  rmSync(copy, { recursive: true, force: true });
  cpSync(model, copy, { recursive: true });
  const old = existsSync(join(model, file)) ? readFileSync(join(model, file), 'utf8') : '';
  writeFileSync(join(copy, file), content(old));
  return copy;
}

const ask = (m: string, ...extra: string[]) => [
  'ask',
  'How big is the room?',
  '--model',
  m,
  '--video',
  join(dir, 'clip.mp4'),
  ...extra,
];

describe('bad input: exit 2, one line, no stack', () => {
  before(() => writeTinySpatialMllm(model));

  const files: [string, string, (old: string) => string, RegExp][] = [
    [
      'preprocessor_config.json',
      'invalid JSON',
      (s) => s.slice(0, 20),
      /preprocessor_config\.json is not valid JSON/,
    ],
    [
      'preprocessor_config.json',
      'a non-numeric patch_size',
      (s) => JSON.stringify({ ...JSON.parse(s), patch_size: 'abc' }),
      /preprocessor_config\.json: patch_size must be a positive integer/,
    ],
    [
      'preprocessor_config.json',
      "a patch_size other than the encoder's",
      (s) => JSON.stringify({ ...JSON.parse(s), patch_size: 13 }),
      /preprocessor_config\.json: patch_size 13 differs from config\.json/,
    ],
    [
      'preprocessor_config.json',
      'min_pixels above max_pixels',
      (s) => JSON.stringify({ ...JSON.parse(s), min_pixels: 1e9, max_pixels: 10 }),
      /min_pixels .* exceeds max_pixels/,
    ],
    [
      'tokenizer.json',
      'no model',
      (s) => {
        const { model: _model, ...rest } = JSON.parse(s);
        return JSON.stringify(rest);
      },
      /tokenizer\.json: .*"model"/,
    ],
    ['tokenizer.json', 'an array', () => '[]', /tokenizer\.json is not a JSON object/],
    ['tokenizer_config.json', 'null', () => 'null', /tokenizer_config\.json is not a JSON object/],
    ['config.json', 'invalid JSON', (s) => s.slice(0, 30), /config\.json is not valid JSON \(.*\); \w/],
    ['chat_template.jinja', 'a broken template', () => '{% for %}', /chat_template\.jinja: /],
  ];
  for (const [file, what, content, names] of files)
    it(`${file} with ${what}`, async () => {
      assertBadInput(await cli(ask(brokenModel(file, content))), names, `${file}: ${what}`);
    });

  it('data and eval files: invalid JSON, wrong shapes, an output folder that does not exist', async () => {
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      return path;
    };
    file('run/settings.json', '{bad');
    const sqa = dirname(file('sqa/v1_balanced_questions_test_scannetv2.json', '{"questions": 3}'));
    file('sqa/v1_balanced_sqa_annotations_test_scannetv2.json', '{"annotations": []}');
    const cases: [string[], RegExp][] = [
      [
        ['data', 'mix', '--out', join(dir, 'o.jsonl'), '--exclude-scenes', file('ex.json', '{bad')],
        /ex\.json is not valid JSON/,
      ],
      [
        ['data', 'mix', '--out', join(dir, 'o.jsonl'), '--scanqa', file('s.json', '{}')],
        /s\.json is not a JSON list/,
      ],
      [
        ['data', 'mix', '--out', join(dir, 'nodir', 'o.jsonl'), '--in', file('in.jsonl', '')],
        /cannot write .*nodir/,
      ],
      [['eval', 'merge', join(dir, 'run'), '--out', join(dir, 'm')], /settings\.json is not valid JSON/],
      [
        ['eval', 'score', '--predictions', file('p.jsonl', '{bad\n')],
        /p\.jsonl: no line is a vsibench prediction/,
      ],
      [
        ['eval', 'sqa3d', '--model', 'baseline:chance', '--data', sqa, '--out', join(dir, 'o7')],
        /has no "questions" list/,
      ],
    ];
    for (const [args, names] of cases) assertBadInput(await cli(args), names, args.join(' '));
  });

  const options: [string[], RegExp][] = [
    [['demo', '--sampling', 'bogus'], /--sampling/],
    [ask(model, '--sampling', 'random'), /--sampling.*random.*uniform, space-aware/],
    [ask(model, '--frames', 'abc'), /--frames.*abc/],
    [ask(model, '--frames', '1'), /--frames.*≥ 2/],
    [ask(model, '--top-p', '2'), /--top-p/],
    [ask(model, '--device', 'tpu'), /--device/],
    [ask(model, '--bogus'), /unknown option '--bogus'/],
    // Without --model, ask uses the small model: the next problem is the video, or the missing small model.
    [['ask', 'q', '--video', 'v.mp4'], shippedModel('small') ? /v\.mp4/ : /--model small.*train:small/],
    [
      ['eval', 'scanqa', '--model', 'baseline:chance', '--data', dir, '--subset', 'debiased'],
      /--subset.*ScanQA/,
    ],
    [['eval', 'sqa3d', '--model', 'baseline:chance', '--data', dir, '--subset', 'full'], /--subset.*SQA3D/],
    [['eval', 'vsibench', '--model', 'baseline:chance', '--data', dir, '--shard', '5/4'], /--shard/],
    [['eval', 'vsibench', '--model', 'baseline:chance', '--data', dir, '--limit', '0'], /--limit/],
    [['eval', 'score', '--predictions', 'p.jsonl', '--benchmark', 'nope'], /--benchmark/],
    [['data', 'qa', '--meta', 'm.json', '--out', 'o.json', '--seed', 'x'], /--seed/],
    [['data', 'synth', '--scenes', '0', '--out', dir], /--scenes/],
    [['weights', 'inspect', join(dir, 'missing.safetensors')], /missing\.safetensors/],
    [['weights', 'convert', model, join(dir, 'out'), '--dtype', 'int4'], /--dtype.*int4.*bfloat16/],
    [['weights', 'convert', model, join(dir, 'out')], /--dtype/],
    [
      ['weights', 'convert', join(dir, 'nope'), join(dir, 'out'), '--dtype', 'float16'],
      /nope is not a folder/,
    ],
    [['weights', 'convert', model, model, '--dtype', 'float16'], /output folder is the input folder/],
    [['nonsense'], /unknown command 'nonsense'/],
  ];
  for (const [args, names] of options)
    it(args.join(' '), async () => {
      assertBadInput(await cli(args), names, args.join(' '));
    });
});
