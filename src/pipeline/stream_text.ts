// Streaming an answer token by token without breaking characters: a byte-level BPE token can end inside a UTF-8
// character (Chinese, emoji), so decoding tokens one at a time yields U+FFFD pieces that the whole answer does
// not contain. Each step decodes everything so far and emits only the new text, holding back a trailing U+FFFD
// until the character completes (or the stream ends).

export interface TextStream {
  /** Adds a token; returns the text it completes ('' while a character is incomplete). */
  push(token: number): string;
  /** The text still held back at the end of generation. */
  flush(): string;
}

export function textStream(decode: (ids: readonly number[]) => string): TextStream {
  const ids: number[] = [];
  let emitted = '';
  const next = (final: boolean) => {
    const text = decode(ids);
    const ready = final ? text : text.replace(/\uFFFD+$/, '');
    // Decoding more tokens can rewrite earlier text only through clean-up rules; never emit a rewrite.
    if (!ready.startsWith(emitted) || ready.length === emitted.length) return '';
    const out = ready.slice(emitted.length);
    emitted = ready;
    return out;
  };
  return {
    push(token) {
      ids.push(token);
      return next(false);
    },
    flush: () => next(true),
  };
}
