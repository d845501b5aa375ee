// BLEU-1..4, ROUGE-L and CIDEr-D exactly as the coco-caption scorers vendored by Video-3D-LLM and Spatial-MLLM
// (`src/evaluation/scanqa/caption_eval/{bleu,rouge,cider}`) compute them, including their quirks. Inputs are
// raw strings: these scorers do no tokenisation of their own beyond `str.split()` (BLEU, CIDEr) and
// `str.split(" ")` (ROUGE-L). METEOR is absent on purpose: it needs the METEOR 1.5 jar with its WordNet
// synonym and paraphrase tables, which we neither ship nor download.

import { npMean, pySplitWhitespace } from '../python_compat.ts';
import { crExp, crLog, crPow } from './correctly_rounded.ts';

/** One scored item: a single hypothesis and its references. */
export interface CaptionPair {
  hypothesis: string;
  references: readonly string[];
}

/** n-gram counts (n = 1..4) of whitespace tokens, in first-occurrence order; keys join tokens with spaces,
 * which tokens from `str.split()` cannot contain. */
function ngramCounts(tokens: readonly string[], maxN = 4): Map<string, number> {
  const counts = new Map<string, number>();
  for (let k = 1; k <= maxN; k++)
    for (let i = 0; i + k <= tokens.length; i++) {
      const key = tokens.slice(i, i + k).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  return counts;
}
const orderOf = (key: string) => key.split(' ').length;

// ---- BLEU (bleu_scorer.py, option 'closest') ------------------------------------------------------------

export interface BleuResult {
  /** Corpus BLEU-1..4 from summed clipped counts. */
  corpus: number[];
  /** Per-item BLEU-1..4 with the same smoothing constants (the scorer's `bleu_list`). */
  perItem: number[][];
  totals: { testlen: number; reflen: number; guess: number[]; correct: number[] };
}

const TINY = 1e-15;
const SMALL = 1e-9;

/** Geometric means of (correct + 1e-15)/(guess + 1e-9) for n = 1..4, times the brevity penalty. */
function bleuScores(correct: number[], guess: number[], testlen: number, reflen: number): number[] {
  const out: number[] = [];
  let product = 1;
  for (let k = 0; k < 4; k++) {
    product *= (correct[k] + TINY) / (guess[k] + SMALL);
    out.push(crPow(product, 1 / (k + 1)));
  }
  const ratio = (testlen + TINY) / (reflen + SMALL);
  return ratio < 1 ? out.map((b) => b * crExp(1 - 1 / ratio)) : out;
}

export function bleu(pairs: readonly CaptionPair[]): BleuResult {
  const totals = { testlen: 0, reflen: 0, guess: [0, 0, 0, 0], correct: [0, 0, 0, 0] };
  const perItem: number[][] = [];
  for (const { hypothesis, references } of pairs) {
    const maxRef = new Map<string, number>();
    const refLens: number[] = [];
    for (const ref of references) {
      const tokens = pySplitWhitespace(ref);
      refLens.push(tokens.length);
      for (const [g, c] of ngramCounts(tokens)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c));
    }
    const tokens = pySplitWhitespace(hypothesis);
    const testlen = tokens.length;
    // closest reference length; on equal distance the shorter one (Python's min over (distance, length) tuples)
    const reflen = refLens.reduce((best, l) => {
      const d = Math.abs(l - testlen);
      const bd = Math.abs(best - testlen);
      return d < bd || (d === bd && l < best) ? l : best;
    });
    const guess = [1, 2, 3, 4].map((k) => Math.max(0, testlen - k + 1));
    const correct = [0, 0, 0, 0];
    for (const [g, c] of ngramCounts(tokens)) correct[orderOf(g) - 1] += Math.min(maxRef.get(g) ?? 0, c);
    totals.testlen += testlen;
    totals.reflen += reflen;
    for (let k = 0; k < 4; k++) {
      totals.guess[k] += guess[k];
      totals.correct[k] += correct[k];
    }
    perItem.push(bleuScores(correct, guess, testlen, reflen));
  }
  return { corpus: bleuScores(totals.correct, totals.guess, totals.testlen, totals.reflen), perItem, totals };
}

// ---- ROUGE-L (rouge.py) ---------------------------------------------------------------------------------

function lcsLength(a: readonly string[], b: readonly string[]): number {
  const prev = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    let diag = 0;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = a[i - 1] === b[j - 1] ? diag + 1 : Math.max(prev[j], prev[j - 1]);
      diag = up;
    }
  }
  return prev[b.length];
}

const ROUGE_BETA = 1.2;

/** ROUGE-L F (β = 1.2) from the best precision and the best recall over references, each taken separately.
 * Tokens come from `split(" ")`: newlines stay inside tokens and double spaces make empty tokens. */
export function rougeL(hypothesis: string, references: readonly string[]): number {
  const cand = hypothesis.split(' ');
  let precMax = 0;
  let recMax = 0;
  for (const ref of references) {
    const tokens = ref.split(' ');
    const lcs = lcsLength(tokens, cand);
    precMax = Math.max(precMax, lcs / cand.length);
    recMax = Math.max(recMax, lcs / tokens.length);
  }
  if (precMax === 0 || recMax === 0) return 0;
  return ((1 + ROUGE_BETA * ROUGE_BETA) * precMax * recMax) / (recMax + ROUGE_BETA * ROUGE_BETA * precMax);
}

// ---- CIDEr-D (cider_scorer.py) --------------------------------------------------------------------------

const CIDER_SIGMA = 6;

interface TfIdf {
  vec: Map<string, number>[];
  norm: number[];
  /** coco-caption's quirk: counts bigrams (`if n == 1` on the 0-based order index), i.e. words − 1. */
  length: number;
}

/**
 * CIDEr-D per item (×10, averaged over n = 1..4 and over references) with document frequencies taken over the
 * references of the evaluated set only and `ref_len = log(number of items)`.
 */
export function cider(pairs: readonly CaptionPair[]): number[] {
  const refCounts = pairs.map((p) => p.references.map((r) => ngramCounts(pySplitWhitespace(r))));
  const df = new Map<string, number>();
  for (const refs of refCounts) {
    const seen = new Set<string>();
    for (const counts of refs) for (const g of counts.keys()) seen.add(g);
    for (const g of seen) df.set(g, (df.get(g) ?? 0) + 1);
  }
  const refLen = crLog(pairs.length);
  const tfidf = (counts: Map<string, number>): TfIdf => {
    const vec = [0, 1, 2, 3].map(() => new Map<string, number>());
    const norm = [0, 0, 0, 0];
    let length = 0;
    for (const [g, tf] of counts) {
      const n = orderOf(g) - 1;
      const w = tf * (refLen - crLog(Math.max(1, df.get(g) ?? 0)));
      vec[n].set(g, w);
      norm[n] += w * w;
      if (n === 1) length += tf;
    }
    return { vec, norm: norm.map(Math.sqrt), length };
  };
  const similarity = (h: TfIdf, r: TfIdf): number[] => {
    const delta = h.length - r.length;
    return [0, 1, 2, 3].map((n) => {
      let val = 0;
      for (const [g, w] of h.vec[n]) {
        const rw = r.vec[n].get(g) ?? 0;
        val += Math.min(w, rw) * rw;
      }
      if (h.norm[n] !== 0 && r.norm[n] !== 0) val /= h.norm[n] * r.norm[n];
      return val * crPow(Math.E, -(delta * delta) / (2 * CIDER_SIGMA * CIDER_SIGMA));
    });
  };
  return pairs.map((p, i) => {
    const h = tfidf(ngramCounts(pySplitWhitespace(p.hypothesis)));
    const score = [0, 0, 0, 0];
    for (const counts of refCounts[i]) {
      const s = similarity(h, tfidf(counts));
      for (let n = 0; n < 4; n++) score[n] += s[n];
    }
    return (npMean(score) / p.references.length) * 10;
  });
}
