import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { GridThw } from '../../src/models/qwen2_5_vl/rope_index.ts';
import {
  type ChatMessage,
  expandVisionPlaceholders,
  QwenTokenizer,
} from '../../src/models/qwen2_5_vl/tokenizer.ts';
import { writeTokenizerFiles } from '../../src/models/qwen2_5_vl/tokenizer_files.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { findFixtures } from '../support/fixtures.ts';

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

// The one-user-turn video conversation of Spatial-MLLM's src/inference.py, as the fixtures rendered it.
const videoTurn = (text: string): ChatMessage[] => [
  {
    role: 'user',
    content: [
      { type: 'video', video: 'video.mp4', nframes: 16 },
      { type: 'text', text },
    ],
  },
];

// Real Qwen2 BPE tables (vocab.json + merges.txt, no tokenizer.json) against transformers' slow Qwen2Tokenizer.
for (const fx of findFixtures('qwen2_tokenizer')) {
  describe(fx.name, () => {
    const tok = QwenTokenizer.load(fx.dir);
    const { samples } = readJson(join(fx.dir, 'samples.json'));
    const plain = samples.filter((s: any) => s.decoded !== undefined);

    test(`${plain.length} sample strings: ids and decoded text`, () => {
      let matched = 0;
      for (const s of plain) {
        const ids = tok.encode(s.text);
        assert.deepEqual(ids, s.ids, JSON.stringify(s.text));
        assert.equal(tok.decode(ids), s.decoded);
        matched++;
      }
      assert.equal(matched, plain.length);
    });

    test('special token ids', () => {
      // The ids the fixture's tokenizer_config.json gives these added tokens.
      const added = readJson(join(fx.dir, 'tokenizer_config.json')).added_tokens_decoder as Record<
        string,
        { content: string }
      >;
      const id = (content: string) => {
        const hit = Object.entries(added).find(([, t]) => t.content === content);
        assert.ok(hit, `${content} is not an added token of the fixture`);
        return Number(hit[0]);
      };
      assert.deepEqual(tok.special, {
        endOfText: id('<|endoftext|>'),
        imStart: id('<|im_start|>'),
        imEnd: id('<|im_end|>'),
        visionStart: id('<|vision_start|>'),
        visionEnd: id('<|vision_end|>'),
        imagePad: id('<|image_pad|>'),
        videoPad: id('<|video_pad|>'),
      });
      const user = tok.encode('user');
      const ids = [tok.special.imStart, ...user, tok.special.imEnd];
      assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'user');
      // A model whose first token is the stop token answers nothing: "" (transformers' decode([])), not an error.
      assert.equal(tok.decode([]), '');
      assert.equal(tok.decode([tok.special.imEnd], { skipSpecialTokens: true }), '');
    });

    test('chat template rendering and <|video_pad|> expansion', () => {
      const rendering = samples.find((s: any) => s.note?.startsWith('chat_template rendering'));
      const expanded = samples.find((s: any) => s.text.startsWith('(previous rendering'));
      const prompt = tok.applyChatTemplate(videoTurn('How many chair(s) are in this room?'), {
        addGenerationPrompt: true,
      });
      assert.equal(prompt, rendering.text);
      assert.deepEqual(tok.encode(prompt), rendering.ids);
      // The sample says which grid and merge size the expansion used.
      const m = /video_grid_thw=\[(\d+),\s*(\d+),\s*(\d+)\] and merge_size (\d+)/.exec(expanded.text);
      assert.ok(m, `no grid in ${JSON.stringify(expanded.text)}`);
      const [t, h, w, mergeSize] = m.slice(1).map(Number);
      const text = expandVisionPlaceholders(prompt, { videoGridThw: [[t, h, w]], mergeSize });
      assert.deepEqual(tok.encode(text), expanded.ids);
    });

    const llamaFile = join(fx.dir, 'llama_cpp_qwen2_vocab_test.json');
    if (existsSync(llamaFile))
      test("llama.cpp's Qwen2 tokenizer vectors", () => {
        const { texts, ids } = readJson(llamaFile);
        const matched = texts.filter((t: string, i: number) => {
          const got = tok.encode(t);
          return got.length === ids[i].length && got.every((v, j) => v === ids[i][j]);
        }).length;
        assert.equal(matched, texts.length);
      });
  });
}

// The tiny tokenizers of the model fixtures: chat template → prompt string → expanded ids = the processor's input_ids.
for (const fx of [...findFixtures('qwen2_5_vl'), ...findFixtures('spatial_mllm')]) {
  describe(`${fx.name} tokenizer`, () => {
    const tok = QwenTokenizer.load(join(fx.dir, 'tokenizer'));
    const { prompts } = readJson(join(fx.dir, 'io_index.json'));
    const mergeSize = readJson(join(fx.dir, 'config.json')).vision_config.spatial_merge_size;
    const io = openSafetensors(join(fx.dir, 'io.safetensors'));
    const grid = (name: string): GridThw[] | undefined =>
      io.names().includes(name)
        ? [Array.from(io.read(name).data as BigInt64Array, Number) as any]
        : undefined;

    for (const [kind, expectedPrompt] of Object.entries(prompts) as [string, string][]) {
      test(`${kind}: prompt and input_ids`, () => {
        // The question is whatever follows <|vision_end|> (or the user header) up to the end of the turn.
        const head = kind === 'text' ? '<|im_start|>user\n' : '<|vision_end|>';
        const question = expectedPrompt.slice(
          expectedPrompt.indexOf(head) + head.length,
          expectedPrompt.lastIndexOf('<|im_end|>'),
        );
        const content: ChatMessage['content'] =
          kind === 'text'
            ? question
            : [{ type: kind as 'image' | 'video' }, { type: 'text', text: question }];
        const prompt = tok.applyChatTemplate([{ role: 'user', content }], { addGenerationPrompt: true });
        assert.equal(prompt, expectedPrompt);
        const text = expandVisionPlaceholders(prompt, {
          imageGridThw: grid(`${kind}.image_grid_thw`),
          videoGridThw: grid(`${kind}.video_grid_thw`),
          mergeSize,
        });
        const expected = Array.from(io.read(`${kind}.input_ids`).data as BigInt64Array, Number);
        assert.deepEqual(tok.encode(text), expected);
      });
    }
  });
}

describe('expandVisionPlaceholders', () => {
  test('each placeholder takes its own grid, in order', () => {
    const text = 'a<|image_pad|>b<|video_pad|>c<|image_pad|>';
    const out = expandVisionPlaceholders(text, {
      imageGridThw: [
        [1, 2, 2],
        [1, 4, 2],
      ],
      videoGridThw: [[2, 2, 4]],
      mergeSize: 2,
    });
    assert.equal(out, `a<|image_pad|>b${'<|video_pad|>'.repeat(4)}c${'<|image_pad|>'.repeat(2)}`);
  });

  test('a placeholder count that does not match the inputs is a user error', () => {
    assert.throws(
      () => expandVisionPlaceholders('<|video_pad|>', { mergeSize: 2 }),
      /1 <\|video_pad\|> placeholder\(s\) but 0 video/,
    );
  });
});

// The chat template written with generated vocabularies (tiny and small models) renders every conversation exactly
// as the template of each real-tokenizer fixture does: a model trained on the SFT layout sees the same layout at
// inference (`<|im_start|>{role}\n`, the generation prompt's newline included).
for (const fx of [...findFixtures('qwen2_tokenizer'), ...findFixtures('qwen2_5_vl')]) {
  test(`${fx.name}: the generated chat template renders as the fixture's`, () => {
    const tokDir = existsSync(join(fx.dir, 'tokenizer')) ? join(fx.dir, 'tokenizer') : fx.dir;
    const real = QwenTokenizer.load(tokDir);
    const dir = mkdtempSync(join(tmpdir(), 'chat-template-'));
    writeTokenizerFiles(dir, { merges: [] });
    const ours = QwenTokenizer.load(dir);
    const conversations: ChatMessage[][] = [
      videoTurn('How many chair(s) are in this room?'),
      [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is this?' }] }],
      [{ role: 'user', content: 'Hello' }],
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'A' },
            { type: 'text', text: 'B' },
          ],
        },
      ],
    ];
    for (const messages of conversations)
      for (const addGenerationPrompt of [true, false])
        assert.equal(
          ours.applyChatTemplate(messages, { addGenerationPrompt }),
          real.applyChatTemplate(messages, { addGenerationPrompt }),
          JSON.stringify(messages),
        );
  });
}
