// ScanQA and SQA3D scoring. Two cleaning conventions exist in the codebases that report these numbers, and
// both are offered by name:
// - 'video-3d-llm' (ScanQA default): Video-3D-LLM's `llava/eval/eval_scanqa.py`, copied unchanged into
//   Spatial-MLLM as `src/evaluation/scanqa/score_scanqa.py`. Raw strings, no PTB tokenizer, no lower-casing; the
//   prediction loses trailing dots for BLEU/ROUGE/CIDEr only; EM compares the unstripped prediction with the
//   references and divides by the number of prediction lines.
// - 'leo' (SQA3D default): LEO's `clean_answer` (embodied-generalist `data/data_utils.py`) on prediction and
//   references, EM = exact equality, refined EM = LEO's `answer_match` (one contains the other once
//   whitespace is removed). Video-3D-LLM's `eval_sqa3d.py` computes the same EM on the same cleaning.

import { npMean, PY_SPACE, pySplitWhitespace } from '../python_compat.ts';
import { bleu, type CaptionPair, cider, rougeL } from './caption_metrics.ts';

export const QA3D_CONVENTIONS = ['video-3d-llm', 'leo'] as const;
export type Qa3dConvention = (typeof QA3D_CONVENTIONS)[number];

// After clean_answer's character filter only ASCII word characters remain, so JS's ASCII \b equals Python's.
const wordRule = (word: string, to: string): [RegExp, string] => [new RegExp(`\\b${word}\\b`, 'g'), to];
const NUMBER_WORDS = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
  'twenty',
];

/** LEO's substitutions after the character filter, in upstream order. */
const CLEAN_RULES: [RegExp, string][] = [
  [/ç/g, 'c'],
  [/’/g, "'"],
  wordRule('letf', 'left'),
  wordRule('let', 'left'),
  wordRule('tehre', 'there'),
  wordRule('rigth', 'right'),
  wordRule('rght', 'right'),
  wordRule('behine', 'behind'),
  wordRule('tv', 'TV'),
  wordRule('chai', 'chair'),
  wordRule('wasing', 'washing'),
  wordRule('waslked', 'walked'),
  wordRule('oclock', "o'clock"),
  [/\bo'[ ]+clock\b/g, "o'clock"],
  wordRule('0', 'zero'),
  wordRule('none', 'zero'),
  ...NUMBER_WORDS.slice(1).map((w, i) => wordRule(String(i + 1), w)),
  wordRule('23', 'twenty-three'),
  [/\b([a-zA-Z]+)([0-9])\b/g, '$1'],
  [/\ba\b ([a-zA-Z]+)/g, '$1'],
  [/\ban\b ([a-zA-Z]+)/g, '$1'],
  [/\bthe\b ([a-zA-Z]+)/g, '$1'],
  wordRule('backwards', 'backward'),
];

/**
 * LEO's `clean_answer`: lower-case, trim spaces (Python's `$` also matches before a final newline), collapse
 * double spaces, drop every character but ASCII letters, digits, `,'-:` and whitespace, then fix typos, spell
 * out numbers 0–20 and 23, and drop articles.
 */
export function leoCleanAnswer(text: string): string {
  let s = text.toLowerCase();
  s = s.replace(/[ ]+(?=\n?$)/, '');
  s = s.replace(/^[ ]+/, '');
  s = s.replace(/ {2,}/g, ' ');
  s = s.replace(/\.[ ]{2,}/g, '. ');
  s = s.replace(new RegExp(`[^a-zA-Z0-9,'${PY_SPACE}\\-:]+`, 'g'), '');
  for (const [pattern, to] of CLEAN_RULES) s = s.replace(pattern, to);
  return s;
}

/** LEO's `answer_match`: (EM, refined EM). References are tried in order and the first that matches either
 * way decides, so a substring match on an earlier reference hides an exact match on a later one. */
export function leoAnswerMatch(pred: string, refs: readonly string[]): [number, number] {
  const squash = (s: string) => pySplitWhitespace(s).join('');
  for (const ref of refs) {
    if (pred === ref) return [1, 1];
    if (squash(ref).includes(squash(pred)) || squash(pred).includes(squash(ref))) return [0, 1];
  }
  return [0, 0];
}

// ---- ScanQA ---------------------------------------------------------------------------------------------

export interface ScanQAPrediction {
  /** The key predictions are grouped by (a repeated key overwrites the earlier prediction, keeping its place). */
  id: string;
  prediction: string;
  answers: readonly string[];
}

/** Metrics in percent, as papers print them. METEOR is always null (see caption_metrics.ts). */
export interface ScanQAScores {
  convention: Qa3dConvention;
  count: number;
  predictions: number;
  bleu: number[];
  rougeL: number;
  cider: number;
  meteor: null;
  em: number;
  /** Refined EM, 'leo' convention only. */
  emRefined?: number;
}

/** The Spatial-MLLM / Video-3D-LLM sample id rewrite: the last `_` field (the answer index) becomes 0. */
export function scanqaQuestionKey(sampleId: string): string {
  return [...sampleId.split('_').slice(0, -1), '0'].join('_');
}

export function scoreScanQA(items: readonly ScanQAPrediction[], convention: Qa3dConvention): ScanQAScores {
  const leo = convention === 'leo';
  const byId = new Map<string, CaptionPair>();
  let em = 0;
  let emRefined = 0;
  for (const item of items) {
    if (leo) {
      const pred = leoCleanAnswer(item.prediction);
      const refs = item.answers.map(leoCleanAnswer);
      const [e, r] = leoAnswerMatch(pred, refs);
      em += e;
      emRefined += r;
      byId.set(item.id, { hypothesis: pred, references: refs });
    } else {
      if (item.answers.includes(item.prediction)) em++;
      byId.set(item.id, { hypothesis: item.prediction.replace(/\.+$/, ''), references: item.answers });
    }
  }
  const pairs = [...byId.values()];
  const b = bleu(pairs);
  return {
    convention,
    count: pairs.length,
    predictions: items.length,
    bleu: b.corpus.map((x) => x * 100),
    rougeL: npMean(pairs.map((p) => rougeL(p.hypothesis, p.references))) * 100,
    cider: npMean(cider(pairs)) * 100,
    meteor: null,
    em: (em / items.length) * 100,
    ...(leo ? { emRefined: (emRefined / items.length) * 100 } : {}),
  };
}

// ---- SQA3D ----------------------------------------------------------------------------------------------

export const SQA3D_TYPES = ['what', 'is', 'how', 'can', 'which', 'others'] as const;
export type Sqa3dType = (typeof SQA3D_TYPES)[number];

/** SQA3D question type from the question's first word (LEO / Video-3D-LLM `get_sqa_question_type`). */
export function sqa3dQuestionType(question: string): Sqa3dType {
  const q = question.replace(new RegExp(`^[${PY_SPACE}]+`), '').toLowerCase();
  for (const t of ['what', 'is', 'how', 'can', 'which'] as const) if (q.startsWith(t)) return t;
  return 'others';
}

export interface Sqa3dPrediction {
  prediction: string;
  answers: readonly string[];
  type: Sqa3dType;
}

export interface Sqa3dScores {
  convention: 'leo';
  count: number;
  /** EM@1 and refined EM in percent, overall and per question type (types with no question are absent). */
  em: number;
  emRefined: number;
  byType: Partial<Record<Sqa3dType, { em: number; emRefined: number; count: number }>>;
}

export function scoreSqa3d(items: readonly Sqa3dPrediction[]): Sqa3dScores {
  const matches = items.map((it) =>
    leoAnswerMatch(leoCleanAnswer(it.prediction), it.answers.map(leoCleanAnswer)),
  );
  const pct = (xs: number[]) => npMean(xs) * 100;
  const byType: Sqa3dScores['byType'] = {};
  for (const type of SQA3D_TYPES) {
    const m = matches.filter((_, i) => items[i].type === type);
    if (m.length)
      byType[type] = { em: pct(m.map((x) => x[0])), emRefined: pct(m.map((x) => x[1])), count: m.length };
  }
  return {
    convention: 'leo',
    count: items.length,
    em: pct(matches.map((x) => x[0])),
    emRefined: pct(matches.map((x) => x[1])),
    byType,
  };
}
