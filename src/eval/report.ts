// Reports: scores of a set of per-question results as JSON (full precision, upstream-shaped numbers included),
// Markdown (tables to paste) and an SVG bar chart. Everything here is a pure function of the results sorted by
// question index, so an interrupted-and-resumed run, or merged shards, give byte-identical reports.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { npMean, pyFormatFixed } from '../python_compat.ts';
import { type QuestionType, TASKS, taskOf } from '../vsibench.ts';
import {
  QA3D_CONVENTIONS,
  type Qa3dConvention,
  type ScanQAScores,
  type Sqa3dScores,
  type Sqa3dType,
  scoreScanQA,
  scoreSqa3d,
} from './qa3d_metrics.ts';
import type { Benchmark } from './questions.ts';
import type { InvalidLine, ResultRecord } from './results.ts';
import {
  CONVENTIONS,
  type Convention,
  officialAggregate,
  type ScoredQuestion,
  scoreQuestion,
  spatialMllmAggregate,
  summarize,
} from './vsibench_metrics.ts';

export interface Problem {
  /** Line of the results file, or the question id for a question its convention cannot score. */
  where: string;
  reason: string;
}

export interface VsiReport {
  overall: { macro: number; micro: number };
  tasks: Record<string, { score: number; count: number }>;
  question_types: Record<string, { score: number; count: number }>;
  datasets: Record<string, { macro: number; micro: number; count: number }>;
  /** The convention's own output, as its upstream code returns it. */
  upstream: object;
}

export interface Report {
  benchmark: Benchmark;
  model: string;
  convention: string;
  questions: { scored: number; expected?: number; missing?: number; problems: number };
  vsibench?: VsiReport;
  scanqa?: ScanQAScores;
  sqa3d?: Sqa3dScores;
  /** The first 100 problems (malformed lines, unscorable questions). */
  problems: Problem[];
}

/** The scoring convention of a benchmark: the given one if it applies, else the benchmark's reference one. */
export function conventionFor(benchmark: Benchmark, given?: string): string {
  const allowed: readonly string[] =
    benchmark === 'vsibench' ? CONVENTIONS : benchmark === 'scanqa' ? QA3D_CONVENTIONS : ['leo'];
  if (given === undefined) return allowed[0];
  if (!allowed.includes(given))
    throw new InputError(
      `--convention ${given} does not apply to ${benchmark}: choose one of ${allowed.join(', ')}`,
    );
  return given;
}

export const CONVENTION_LABELS: Record<string, string> = {
  official: 'official (thinking-in-space lmms-eval vsibench/utils.py)',
  'spatial-mllm': 'Spatial-MLLM (src/evaluation/vsibench: <answer> extraction, strict MRA)',
  'video-3d-llm': 'Video-3D-LLM / Spatial-MLLM score_scanqa.py (raw strings, no PTB tokenizer)',
  leo: 'LEO clean_answer + answer_match (EM-1 and refined EM)',
};

function vsiReport(
  records: ResultRecord[],
  convention: Convention,
  problems: Problem[],
): VsiReport & { n: number } {
  const rows: (ScoredQuestion & { dataset: string })[] = [];
  for (const r of records) {
    const s = scoreQuestion(convention, r.question_type as QuestionType, r.prediction, r.ground_truth);
    if ('error' in s) problems.push({ where: `id ${r.id ?? '?'}`, reason: s.error });
    else
      rows.push({ type: r.question_type as QuestionType, score: s.score, dataset: r.dataset ?? 'unknown' });
  }
  const summary = summarize(convention, rows);
  const tasks: VsiReport['tasks'] = {};
  for (const task of TASKS) {
    const n = rows.filter((r) => taskOf(r.type) === task).length;
    if (summary.tasks[task] !== undefined) tasks[task] = { score: summary.tasks[task]!, count: n };
  }
  const questionTypes: VsiReport['question_types'] = {};
  for (const type of [...new Set(rows.map((r) => r.type))].sort()) {
    const scores = rows.filter((r) => r.type === type).map((r) => r.score);
    questionTypes[type] = { score: npMean(scores) * 100, count: scores.length };
  }
  const datasets: VsiReport['datasets'] = {};
  for (const ds of [...new Set(rows.map((r) => r.dataset))].sort()) {
    const s = summarize(
      convention,
      rows.filter((r) => r.dataset === ds),
    );
    datasets[ds] = { macro: s.macro, micro: s.micro, count: s.count };
  }
  return {
    n: rows.length,
    overall: { macro: summary.macro, micro: summary.micro },
    tasks,
    question_types: questionTypes,
    datasets,
    upstream: convention === 'official' ? officialAggregate(rows) : spatialMllmAggregate(rows),
  };
}

export interface ReportInput {
  benchmark: Benchmark;
  model: string;
  convention: string;
  records: ResultRecord[];
  invalid: InvalidLine[];
  /** Questions the run was asked to answer (absent when scoring a predictions file). */
  expected?: number;
}

export function buildReport(input: ReportInput): Report {
  const problems: Problem[] = input.invalid.map((p) => ({ where: `line ${p.line}`, reason: p.reason }));
  // canonical order: question index when known (resumed and merged runs append out of order)
  const records = [...input.records].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  const report: Omit<Report, 'problems'> = {
    benchmark: input.benchmark,
    model: input.model,
    convention: input.convention,
    questions: { scored: records.length, problems: 0 },
  };
  if (input.benchmark === 'vsibench') {
    const { n, ...vsi } = vsiReport(records, input.convention as Convention, problems);
    report.vsibench = vsi;
    report.questions.scored = n;
  } else if (input.benchmark === 'scanqa' && records.length) {
    report.scanqa = scoreScanQA(
      records.map((r, i) => ({
        id: r.id ?? String(i),
        prediction: r.prediction,
        answers: r.answers ?? [r.ground_truth],
      })),
      input.convention as Qa3dConvention,
    );
  } else if (input.benchmark === 'sqa3d' && records.length) {
    report.sqa3d = scoreSqa3d(
      records.map((r) => ({
        prediction: r.prediction,
        answers: r.answers ?? [r.ground_truth],
        type: r.question_type as Sqa3dType,
      })),
    );
  }
  if (input.expected !== undefined) {
    report.questions.expected = input.expected;
    report.questions.missing = Math.max(0, input.expected - records.length);
  }
  report.questions.problems = problems.length;
  return { ...report, problems: problems.slice(0, 100) }; // problems last in report.json
}

const fmt = (x: number) => pyFormatFixed(x, 2);
const TITLES: Record<Benchmark, string> = {
  vsibench: 'VSI-Bench',
  scanqa: 'ScanQA (val)',
  sqa3d: 'SQA3D (test)',
};

/** Labelled bars (values in percent, or raw for CIDEr) of a report: what the chart and the main table show. */
function headline(r: Report): [string, number][] {
  if (r.vsibench)
    return [
      ...Object.entries(r.vsibench.tasks).map(([t, v]) => [t, v.score] as [string, number]),
      ['Overall (macro, mean of tasks)', r.vsibench.overall.macro],
      ['Overall (micro, mean of questions)', r.vsibench.overall.micro],
    ];
  if (r.scanqa) {
    const s = r.scanqa;
    return [
      ...s.bleu.map((b, k) => [`BLEU-${k + 1}`, b] as [string, number]),
      ['ROUGE-L', s.rougeL],
      ['CIDEr', s.cider],
      ['EM', s.em],
      ...(s.emRefined === undefined ? [] : [['EM-R (refined)', s.emRefined] as [string, number]]),
    ];
  }
  if (r.sqa3d) {
    const s = r.sqa3d;
    return [
      ...Object.entries(s.byType).map(([t, v]) => [`EM-1: ${t}`, v!.em] as [string, number]),
      ['EM-1 (all)', s.em],
      ['EM-R (refined, all)', s.emRefined],
    ];
  }
  return [];
}

export function reportMarkdown(r: Report): string {
  const out = [`# ${TITLES[r.benchmark]}: ${r.model}`, ''];
  const q = r.questions;
  out.push(
    `Scoring: ${CONVENTION_LABELS[r.convention] ?? r.convention}. ${q.scored} questions scored` +
      (q.expected !== undefined
        ? ` of ${q.expected}${q.missing ? ` (**${q.missing} missing**: rerun the same command to finish)` : ''}`
        : '') +
      (q.problems ? `; ${q.problems} problem lines (listed below)` : '') +
      '.',
    '',
  );
  if (r.vsibench) {
    out.push('| Task | Score | Questions |', '|---|---:|---:|');
    for (const [t, v] of Object.entries(r.vsibench.tasks))
      out.push(`| ${t} | ${fmt(v.score)} | ${v.count} |`);
    out.push(
      `| **Overall, macro (mean of the ${Object.keys(r.vsibench.tasks).length} tasks)** | **${fmt(r.vsibench.overall.macro)}** | |`,
    );
    out.push(
      `| **Overall, micro (mean over questions)** | **${fmt(r.vsibench.overall.micro)}** | ${q.scored} |`,
      '',
    );
    out.push('| Question type | Score | Questions |', '|---|---:|---:|');
    for (const [t, v] of Object.entries(r.vsibench.question_types))
      out.push(`| ${t} | ${fmt(v.score)} | ${v.count} |`);
    out.push('', '| Dataset | Macro | Micro | Questions |', '|---|---:|---:|---:|');
    for (const [d, v] of Object.entries(r.vsibench.datasets))
      out.push(`| ${d} | ${fmt(v.macro)} | ${fmt(v.micro)} | ${v.count} |`);
    out.push('');
  } else {
    out.push('| Metric | Score |', '|---|---:|');
    for (const [k, v] of headline(r)) out.push(`| ${k} | ${fmt(v)} |`);
    if (r.scanqa) out.push('| METEOR | n/a (needs the METEOR 1.5 jar and its WordNet data) |');
    if (r.sqa3d)
      for (const [t, v] of Object.entries(r.sqa3d.byType))
        out.push(`| EM-R: ${t} (${v!.count} questions) | ${fmt(v!.emRefined)} |`);
    out.push('');
  }
  if (r.problems.length) {
    out.push('## Problems', '');
    for (const p of r.problems) out.push(`- ${p.where}: ${p.reason}`);
    if (q.problems > r.problems.length) out.push(`- … and ${q.problems - r.problems.length} more`);
    out.push('');
  }
  return out.join('\n');
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A horizontal bar chart of the headline numbers (SVG: text stays sharp and searchable). */
export function reportSvg(r: Report): string {
  const bars = headline(r);
  const rowH = 26;
  const labelW = 280;
  const barW = 360;
  const top = 44;
  const width = labelW + barW + 80;
  const height = top + bars.length * rowH + 16;
  const scale = Math.max(100, ...bars.map(([, v]) => v));
  const rows = bars.map(([label, v], i) => {
    const y = top + i * rowH;
    const w = Math.max(0, (v / scale) * barW);
    const strong = label.startsWith('Overall') || label.includes('(all)');
    return [
      `<text x="${labelW - 8}" y="${y + 17}" text-anchor="end">${escapeXml(label)}</text>`,
      `<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${strong ? '#1f4e8c' : '#5b9bd5'}"/>`,
      `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 17}">${fmt(v)}</text>`,
    ].join('');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="12" y="24" font-size="16" font-weight="bold">${escapeXml(`${TITLES[r.benchmark]}: ${r.model}`)}</text>`,
    `<line x1="${labelW}" y1="${top}" x2="${labelW}" y2="${height - 12}" stroke="#888"/>`,
    ...rows,
    '</svg>',
    '',
  ].join('\n');
}

function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** report.json, report.md and chart.svg in `dir`, each written atomically. */
export function writeReport(dir: string, r: Report): void {
  writeAtomic(join(dir, 'report.json'), `${JSON.stringify(r, null, 2)}\n`);
  writeAtomic(join(dir, 'report.md'), reportMarkdown(r));
  writeAtomic(join(dir, 'chart.svg'), reportSvg(r));
}
