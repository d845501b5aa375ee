// Qwen2 / Qwen2.5-VL tokenizer and chat template, loaded from a checkpoint folder.
// Upstream: transformers 4.51 `models/qwen2/tokenization_qwen2.py` (byte-level BPE, NFC, the Qwen2 split regex),
// `models/qwen2_5_vl/processing_qwen2_5_vl.py` (chat template, vision placeholder expansion) and
// `tokenization_utils_base.apply_chat_template` (the variables a template sees).
// The BPE itself runs in @huggingface/tokenizers; the template in @huggingface/jinja, which like transformers
// compiles with trim_blocks and lstrip_blocks.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../../errors.ts';
import { readJsonObject } from '../../json.ts';
import type { GridThw } from './rope_index.ts';

/** Pre-tokenizer split of Qwen2 (tokenization_qwen2.py PRETOKENIZE_REGEX, as the hub tokenizer.json spells it). */
const QWEN2_SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export const IMAGE_PAD = '<|image_pad|>';
export const VIDEO_PAD = '<|video_pad|>';

/** One item of a multimodal message, in the shape qwen_vl_utils and the Qwen2.5-VL template read. */
export type ContentItem =
  | { type: 'text'; text: string }
  | ({ type: 'image' } & Record<string, unknown>)
  | ({ type: 'video' } & Record<string, unknown>);

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string | ContentItem[];
}

export interface ChatTemplateOptions {
  /** Append the assistant turn header ("<|im_start|>assistant\n"). */
  addGenerationPrompt?: boolean;
  /** Prefix vision items with "Picture N: " / "Video N: " (a Qwen2.5-VL template option). */
  addVisionId?: boolean;
}

/** Ids of the special tokens the model code needs. */
export interface SpecialTokenIds {
  endOfText: number;
  imStart: number;
  imEnd: number;
  visionStart: number;
  visionEnd: number;
  imagePad: number;
  videoPad: number;
}

type TokenizerConfig = Record<string, unknown> & {
  added_tokens_decoder?: Record<string, Record<string, unknown>>;
  chat_template?: string | { name: string; template: string }[];
  eos_token?: unknown;
  pad_token?: unknown;
  bos_token?: unknown;
};

const FIX = 'copy the tokenizer files of the checkpoint there';
const readJson = (path: string): any => readJsonObject(path, FIX);

/** Runs a library constructor on a file's content; what it rejects is the file's fault. */
function fromFile<T>(file: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    throw new InputError(`${file}: ${(e as Error).message.split('\n')[0]}; ${FIX}`);
  }
}

/** A special token written in tokenizer_config.json: a plain string or an AddedToken object. */
const tokenText = (v: unknown): string | null =>
  typeof v === 'string' ? v : v && typeof v === 'object' && 'content' in v ? String(v.content) : null;

/**
 * tokenizer.json content of a Qwen2 byte-level BPE: NFC, the Qwen2 split regex, GPT-2's byte-level mapping
 * (as the hub's Qwen2.5-VL tokenizer.json). `merges` as "a b" strings.
 */
export function qwen2TokenizerJson(
  vocab: Record<string, number>,
  merges: string[],
  addedTokens: object[],
): Record<string, unknown> {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN2_SPLIT_REGEX }, behavior: 'Isolated', invert: false },
        byteLevel,
      ],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** tokenizer.json content for a checkpoint that ships only vocab.json + merges.txt (Qwen2Tokenizer slow files). */
function tokenizerJsonFromBpeFiles(dir: string, config: TokenizerConfig): Record<string, unknown> {
  const merges = readFileSync(join(dir, 'merges.txt'), 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('#version'));
  const added = Object.entries(config.added_tokens_decoder ?? {}).map(([id, t]) => ({
    id: Number(id),
    ...t,
  }));
  return qwen2TokenizerJson(readJson(join(dir, 'vocab.json')), merges, added);
}

/** The processor's template (chat_template.jinja / chat_template.json) wins over the tokenizer's, as in transformers. */
function findChatTemplate(dir: string, config: TokenizerConfig): { source: string; file: string } | null {
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return { source: readFileSync(jinja, 'utf8'), file: jinja };
  const json = join(dir, 'chat_template.json');
  if (existsSync(json)) {
    const t = readJson(json).chat_template;
    if (typeof t !== 'string') throw new InputError(`${json}: chat_template must be a string; ${FIX}`);
    return { source: t, file: json };
  }
  const file = join(dir, 'tokenizer_config.json');
  const t = config.chat_template;
  const source = Array.isArray(t) ? t.find((x) => x.name === 'default')?.template : t;
  return typeof source === 'string' ? { source, file } : null;
}

export class QwenTokenizer {
  readonly special: SpecialTokenIds;
  private readonly template: Template | null;

  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly config: TokenizerConfig,
    template: { source: string; file: string } | null,
  ) {
    this.template = template && fromFile(template.file, () => new Template(template.source));
    this.special = {
      endOfText: this.tokenId('<|endoftext|>'),
      imStart: this.tokenId('<|im_start|>'),
      imEnd: this.tokenId('<|im_end|>'),
      visionStart: this.tokenId('<|vision_start|>'),
      visionEnd: this.tokenId('<|vision_end|>'),
      imagePad: this.tokenId(IMAGE_PAD),
      videoPad: this.tokenId(VIDEO_PAD),
    };
  }

  /** Loads tokenizer.json (or vocab.json + merges.txt), tokenizer_config.json and the chat template of a folder. */
  static load(dir: string): QwenTokenizer {
    const configPath = join(dir, 'tokenizer_config.json');
    if (!existsSync(configPath))
      throw new InputError(`no tokenizer_config.json in ${dir}; point at a Qwen2.5-VL checkpoint folder`);
    const config: TokenizerConfig = readJson(configPath);
    let json: Record<string, unknown>;
    if (existsSync(join(dir, 'tokenizer.json'))) json = readJson(join(dir, 'tokenizer.json'));
    else if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt')))
      json = tokenizerJsonFromBpeFiles(dir, config);
    else
      throw new InputError(
        `${dir} has neither tokenizer.json nor vocab.json + merges.txt; copy the tokenizer files of the checkpoint there`,
      );
    const file = existsSync(join(dir, 'tokenizer.json'))
      ? join(dir, 'tokenizer.json')
      : join(dir, 'vocab.json');
    const tokenizer = fromFile(file, () => new Tokenizer(json, config));
    return new QwenTokenizer(tokenizer, config, findChatTemplate(dir, config));
  }

  /** Token ids of a text; special-token strings in it are matched as added tokens (no BOS/EOS is added). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Text of token ids; invalid UTF-8 byte runs become U+FFFD (errors="replace"); no ids: "" (as transformers;
   * the library throws, and a model whose first token is the stop token answers nothing). */
  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  /** Id of a token string (vocabulary or added token); throws if the tokenizer does not have it. */
  tokenId(token: string): number {
    const id = this.tokenizer.token_to_id(token);
    if (id === undefined)
      throw new InputError(
        `the tokenizer has no token ${token}; use the tokenizer files of a Qwen2.5-VL checkpoint`,
      );
    return id;
  }

  /** The prompt text of a conversation, rendered with the checkpoint's chat template. */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (!this.template)
      throw new InputError(
        'the checkpoint has no chat template; add chat_template.json from the original model',
      );
    return this.template.render({
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      add_vision_id: options.addVisionId ?? false,
      bos_token: tokenText(this.config.bos_token) ?? '',
      eos_token: tokenText(this.config.eos_token) ?? '',
      pad_token: tokenText(this.config.pad_token) ?? '',
    });
  }
}

export interface VisionGrids {
  imageGridThw?: readonly GridThw[];
  videoGridThw?: readonly GridThw[];
  /** Spatial merge size of the vision tower (2 for Qwen2.5-VL). */
  mergeSize: number;
}

/** Replaces the k-th pad token of a kind by grid_t·grid_h·grid_w / merge² copies of it (Qwen2_5_VLProcessor.__call__). */
function expandToken(
  text: string,
  token: string,
  grids: readonly GridThw[] | undefined,
  mergeSize: number,
): string {
  const parts = text.split(token);
  const found = parts.length - 1;
  const given = grids?.length ?? 0;
  if (found !== given)
    throw new InputError(
      `the prompt has ${found} ${token} placeholder(s) but ${given} ${token === IMAGE_PAD ? 'image' : 'video'}(s) were given; pass one per placeholder`,
    );
  return parts.reduce((out, part, i) => {
    if (i === 0) return part;
    const [t, h, w] = grids![i - 1];
    return out + token.repeat((t * h * w) / (mergeSize * mergeSize)) + part;
  });
}

/** The prompt with every <|image_pad|> / <|video_pad|> expanded to one token per merged vision token. */
export function expandVisionPlaceholders(text: string, grids: VisionGrids): string {
  const withImages = expandToken(text, IMAGE_PAD, grids.imageGridThw, grids.mergeSize);
  return expandToken(withImages, VIDEO_PAD, grids.videoGridThw, grids.mergeSize);
}
