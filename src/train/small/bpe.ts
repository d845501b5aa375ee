// Byte-level BPE merges learned from the small model's training text (Sennrich et al. 2016; the GPT-2 / Qwen2
// byte alphabet and split regex of src/models/qwen2_5_vl/tokenizer_files.ts): count adjacent symbol pairs over the
// pre-tokenized words, merge the most frequent, repeat. Digits are split one by one by the regex, so numbers are
// always spelled digit by digit and any number stays writable. Ties break on the pair text, so the same corpus
// always gives the same merges.
import { byteLevelPieces } from '../../models/qwen2_5_vl/tokenizer_files.ts';

export function learnMerges(texts: Iterable<string>, maxMerges: number, minCount = 2): [string, string][] {
  const wordCounts = new Map<string, number>();
  for (const text of texts)
    for (const piece of byteLevelPieces(text)) wordCounts.set(piece, (wordCounts.get(piece) ?? 0) + 1);
  const words = [...wordCounts].map(([w, count]) => ({ symbols: Array.from(w), count }));
  const merges: [string, string][] = [];
  while (merges.length < maxMerges) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words)
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]}\u0000${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    let best: string | undefined;
    let bestCount = minCount - 1;
    for (const [key, n] of pairs)
      if (n > bestCount || (n === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = n;
      }
    if (best === undefined) break;
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === a && w.symbols[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(w.symbols[i]);
      }
      w.symbols = out;
    }
  }
  return merges;
}
