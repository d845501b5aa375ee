// Writing Qwen2-style tokenizer files (tokenizer.json + tokenizer_config.json with a chat template) for the
// checkpoints this project makes itself: the tiny random demo model (256 bytes, no merges) and the small
// trained model (bytes + merges learned from its training text, src/train/small/bpe.ts). Byte-level BPE with
// GPT-2's byte↔unicode table and the Qwen2 split regex (transformers `models/qwen2/tokenization_qwen2.py`), the
// Qwen2.5-VL special tokens after the regular vocabulary in Qwen's order.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qwen2TokenizerJson } from './tokenizer.ts';

/** Qwen2.5-VL's special tokens, in their id order. */
export const QWEN_VL_SPECIAL_TOKENS = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<|object_ref_start|>',
  '<|object_ref_end|>',
  '<|box_start|>',
  '<|box_end|>',
  '<|quad_start|>',
  '<|quad_end|>',
  '<|vision_start|>',
  '<|vision_end|>',
  '<|vision_pad|>',
  '<|image_pad|>',
  '<|video_pad|>',
] as const;
export type QwenSpecialToken = (typeof QWEN_VL_SPECIAL_TOKENS)[number];

/** GPT-2's byte → printable character table (bytes.rs `bytes_char`): printable bytes map to themselves. */
export function byteToUnicode(): string[] {
  const printable = new Set([
    ...Array.from({ length: 94 }, (_, i) => 33 + i),
    ...Array.from({ length: 12 }, (_, i) => 161 + i),
    ...Array.from({ length: 82 }, (_, i) => 174 + i),
  ]);
  let extra = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable.has(b) ? b : 256 + extra++));
}

/** Pre-tokenizer pieces of a text as the Qwen2 split regex cuts it (case-sensitive contractions suffice for
 * the lowercase text this is used on), each in the byte-level alphabet. */
export function byteLevelPieces(text: string): string[] {
  const table = byteToUnicode();
  const split =
    /'s|'t|'re|'ve|'m|'ll|'d|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;
  const enc = new TextEncoder();
  return (text.match(split) ?? []).map((piece) => Array.from(enc.encode(piece), (b) => table[b]).join(''));
}

/** A byte-level BPE vocabulary: 256 byte tokens, then one token per merge, then the special tokens. */
export interface ByteBpeVocab {
  merges: readonly (readonly [string, string])[];
}

export const vocabSize = (v: ByteBpeVocab) => 256 + v.merges.length + QWEN_VL_SPECIAL_TOKENS.length;
export const specialTokenId = (v: ByteBpeVocab, token: QwenSpecialToken) =>
  256 + v.merges.length + QWEN_VL_SPECIAL_TOKENS.indexOf(token);

/**
 * Renders conversations as Qwen2.5-VL's own template does (default system turn, vision placeholders in user
 * content, `<|im_start|>{role}\n`). No whitespace control: the only newlines in the source are the ones rendered
 * (a `{%-` after `{role}\n` would eat that newline and put the model's prompt out of its training layout).
 */
export const QWEN_VL_CHAT_TEMPLATE = [
  "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}",
  '{% for m in messages %}<|im_start|>{{ m.role }}\n',
  '{% if m.content is string %}{{ m.content }}{% else %}{% for c in m.content %}',
  "{% if c.type == 'image' %}<|vision_start|><|image_pad|><|vision_end|>",
  "{% elif c.type == 'video' %}<|vision_start|><|video_pad|><|vision_end|>",
  '{% else %}{{ c.text }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}',
  '{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}',
].join('');

function tokenizerJson(v: ByteBpeVocab): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  byteToUnicode().forEach((ch, b) => {
    vocab[ch] = b;
  });
  v.merges.forEach(([a, b], i) => {
    vocab[a + b] = 256 + i;
  });
  const added = QWEN_VL_SPECIAL_TOKENS.map((content) => ({
    id: specialTokenId(v, content),
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return qwen2TokenizerJson(
    vocab,
    v.merges.map(([a, b]) => `${a} ${b}`),
    added,
  );
}

/** Writes tokenizer.json and tokenizer_config.json (with the chat template) into a checkpoint folder. */
export function writeTokenizerFiles(dir: string, v: ByteBpeVocab): void {
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson(v)));
  const addedDecoder = Object.fromEntries(
    QWEN_VL_SPECIAL_TOKENS.map((content) => [
      String(specialTokenId(v, content)),
      { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true },
    ]),
  );
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    `${JSON.stringify(
      {
        added_tokens_decoder: addedDecoder,
        eos_token: '<|im_end|>',
        pad_token: '<|endoftext|>',
        chat_template: QWEN_VL_CHAT_TEMPLATE,
        tokenizer_class: 'Qwen2Tokenizer',
      },
      null,
      2,
    )}\n`,
  );
}
