// Streaming text pieces: their concatenation is the whole decoded text, and no piece carries half a character.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { textStream } from '../../src/pipeline/stream_text.ts';

// A byte-level "tokenizer": each token is one UTF-8 byte, decoded like a byte-level BPE decoder (invalid → U+FFFD).
const decode = (ids: readonly number[]) => new TextDecoder().decode(new Uint8Array(ids));

test('multi-byte characters come out whole, and the pieces add up to the decoded text', () => {
  const text = 'Le lit — 2,5 m 🛏️ 床';
  const bytes = [...new TextEncoder().encode(text)];
  const s = textStream(decode);
  const pieces = bytes.map((b) => s.push(b));
  pieces.push(s.flush());
  assert.equal(pieces.join(''), text);
  for (const p of pieces) assert.ok(!p.includes('\uFFFD'), JSON.stringify(p));
  // '—' is 3 bytes: the first two push nothing.
  const dash = text.indexOf('—');
  const at = new TextEncoder().encode(text.slice(0, dash)).length;
  assert.deepEqual(pieces.slice(at, at + 3), ['', '', '—']);
});

test('bytes that never form a character are flushed at the end as the decoder renders them', () => {
  const s = textStream(decode);
  const pieces = [0x41, 0xff, 0xfe].map((b) => s.push(b));
  pieces.push(s.flush());
  assert.equal(pieces.join(''), decode([0x41, 0xff, 0xfe]));
  assert.deepEqual(pieces.slice(0, 3), ['A', '', '']);
});
