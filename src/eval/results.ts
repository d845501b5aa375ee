// Per-question results: one JSON object per line, appended as each answer arrives and flushed to the OS at once,
// so that a killed run loses at most the line being written. Reading tolerates what a kill or a hand edit
// leaves: a torn last line, malformed lines and repeated ids are reported, never fatal.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { isQuestionType } from '../vsibench.ts';
import type { Benchmark, EvalQuestion } from './questions.ts';

/** One line of results.jsonl; also the input format of `eval score`. */
export interface ResultRecord {
  index?: number;
  id?: string;
  dataset?: string;
  scene?: string;
  question_type: string;
  prediction: string;
  ground_truth: string;
  /** ScanQA / SQA3D: every accepted answer (ground_truth is the first). */
  answers?: string[];
  options?: string[];
}

export interface InvalidLine {
  line: number;
  reason: string;
}

export interface ReadResults {
  records: ResultRecord[];
  invalid: InvalidLine[];
  /** How much of the file to keep before appending (a torn last line is cut), and whether a newline is due. */
  keepBytes: number;
  needsNewline: boolean;
}

export function recordOf(q: EvalQuestion, prediction: string): ResultRecord {
  return {
    index: q.index,
    id: q.id,
    dataset: q.dataset,
    scene: q.scene,
    question_type: q.questionType,
    prediction,
    ground_truth: q.answers[0],
    ...(q.benchmark === 'vsibench' ? {} : { answers: q.answers }),
    ...(q.options ? { options: q.options } : {}),
  };
}

const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Why a parsed line cannot be scored for a benchmark, or null if it can. */
function problem(r: Record<string, unknown>, benchmark: Benchmark): string | null {
  if (typeof r.prediction !== 'string') return "'prediction' is missing or not a string";
  if (r.answers !== undefined && (!isStringArray(r.answers) || r.answers.length === 0))
    return "'answers' must be a non-empty list of strings";
  if (typeof r.ground_truth !== 'string' && r.answers === undefined)
    return "'ground_truth' is missing or not a string";
  if (r.options !== undefined && r.options !== null && !isStringArray(r.options))
    return "'options' must be a list of strings";
  if (benchmark === 'vsibench' && !isQuestionType(r.question_type))
    return `unknown question_type ${JSON.stringify(r.question_type)}`;
  return null;
}

/** Parse a results/predictions JSONL file. A last line without its newline is kept if it parses (a file written
 * by hand) and otherwise reported as a torn write. */
export function readResults(path: string, benchmark: Benchmark): ReadResults {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const lines = text.split('\n');
  const records: ResultRecord[] = [];
  const invalid: InvalidLine[] = [];
  const seen = new Set<string>();
  let keepBytes = Buffer.byteLength(text);
  let needsNewline = !text.endsWith('\n') && text !== '';
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const parsed = parseLine(line, benchmark);
    if ('reason' in parsed) {
      if (i === lines.length - 1) {
        invalid.push({
          line: i + 1,
          reason: `incomplete last line (an interrupted write?): ${parsed.reason}; ignored`,
        });
        keepBytes = Buffer.byteLength(text) - Buffer.byteLength(line);
        needsNewline = false;
      } else invalid.push({ line: i + 1, reason: parsed.reason });
      return;
    }
    const key = parsed.record.id;
    if (key !== undefined && seen.has(key)) {
      invalid.push({ line: i + 1, reason: `repeats id ${key}; the first occurrence is kept` });
      return;
    }
    if (key !== undefined) seen.add(key);
    records.push(parsed.record);
  });
  return { records, invalid, keepBytes, needsNewline };
}

function parseLine(line: string, benchmark: Benchmark): { record: ResultRecord } | { reason: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { reason: 'not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { reason: 'not a JSON object' };
  const r = parsed as Record<string, unknown>;
  const why = problem(r, benchmark);
  if (why) return { reason: why };
  const answers = r.answers as string[] | undefined;
  const { options, ...rest } = r as unknown as ResultRecord;
  return {
    record: {
      ...rest,
      ...(r.id !== undefined ? { id: String(r.id) } : {}),
      ground_truth: typeof r.ground_truth === 'string' ? r.ground_truth : answers![0],
      ...(options ? { options } : {}),
    },
  };
}

/** Appends records to a results file, each line written through to the OS immediately. */
export class ResultWriter {
  private fd: number;
  private lastSync = Date.now();

  /** Opens `path` for appending after what `readResults` kept (cutting a torn last line left by a kill). */
  constructor(path: string, kept: Pick<ReadResults, 'keepBytes' | 'needsNewline'>) {
    if (existsSync(path)) truncateSync(path, kept.keepBytes);
    this.fd = openSync(path, 'a');
    if (kept.needsNewline) writeSync(this.fd, '\n');
  }

  append(record: ResultRecord): void {
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    // survive a kill at once (the line is in the OS); survive a power cut within a few seconds
    if (Date.now() - this.lastSync > 5000) {
      fsyncSync(this.fd);
      this.lastSync = Date.now();
    }
  }

  close(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}
