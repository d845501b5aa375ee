// Token ids and labels of one training conversation, as upstream's SFT data code builds them
// (THU-SI/Spatial-MLLM `src/qwenvl/data/data_qwen.py`, `preprocess_qwen_2_visual`):
// - a system turn "You are a helpful assistant." always comes first;
// - each message is rendered alone as `<|im_start|>{role}\n{content}<|im_end|>\n`, tokenized alone, and the pieces
//   are concatenated (so no BPE merge crosses a message boundary);
// - in user turns each `<video>` becomes `<|vision_start|>` + `<|video_pad|>` × merged tokens + `<|vision_end|>`;
// - labels are IGNORE_INDEX on system and user turns; assistant turns keep their ids except the FIRST 3 tokens,
//   masked by count (with Qwen's tokenizer exactly `<|im_start|>assistant\n`; with another vocabulary the count
//   still rules, as upstream); the closing `<|im_end|>` and the newline after it are labels.
// Upstream drops a leading turn that is not from the human; we do the same.
import { IGNORE_INDEX } from './losses.ts';

export const SYSTEM_MESSAGE = 'You are a helpful assistant.';
export const VIDEO_TAG = '<video>';
/** Tokens masked at the start of every assistant turn (upstream `target_mask[:3]`). */
export const ASSISTANT_HEADER_TOKENS = 3;

export interface Turn {
  from: 'human' | 'gpt';
  value: string;
}

export interface SftTokens {
  inputIds: number[];
  /** Same length; IGNORE_INDEX where not scored. Not shifted: position i is the label of token i. */
  labels: number[];
}

const ROLE = { human: 'user', gpt: 'assistant' } as const;

/** Renders and tokenizes a conversation; `videoTokens[k]` = <|video_pad|> count of the k-th `<video>` tag. */
export function buildSftTokens(
  turns: readonly Turn[],
  encode: (text: string) => number[],
  videoTokens: readonly number[],
): SftTokens {
  const inputIds: number[] = [];
  const labels: number[] = [];
  const add = (role: string, content: string, scored: boolean) => {
    const ids = encode(`<|im_start|>${role}\n${content}<|im_end|>\n`);
    inputIds.push(...ids);
    labels.push(...ids.map((id, i) => (scored && i >= ASSISTANT_HEADER_TOKENS ? id : IGNORE_INDEX)));
  };
  add('system', SYSTEM_MESSAGE, false);
  let video = 0;
  const body = turns[0]?.from === 'human' ? turns : turns.slice(1);
  for (const turn of body) {
    let content = turn.value;
    if (turn.from === 'human' && content.includes(VIDEO_TAG))
      content = content
        .split(VIDEO_TAG)
        .reduce(
          (out, part) =>
            `${out}<|vision_start|>${'<|video_pad|>'.repeat(videoTokens[video++] ?? 0)}<|vision_end|>${part}`,
        );
    add(ROLE[turn.from], content, turn.from === 'gpt');
  }
  return { inputIds, labels };
}

/** Labels aligned with the logits for next-token prediction: label[i] = labels[i + 1], the last one ignored. */
export function shiftLabels(labels: readonly number[]): number[] {
  return [...labels.slice(1), IGNORE_INDEX];
}
