// What a training run leaves next to its checkpoints: `train.jsonl` (one JSON object per optimizer step, appended
// as steps finish and cut back to the checkpoint's step on resume, so the log always matches the weights), an SVG
// with one small chart per logged series, and a one-line progress display with ETA on stderr.
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';

export type LogRecord = { step: number } & Record<string, unknown>;

/** Log lines of steps ≤ `step` (the rest were taken after the last checkpoint and will be redone). */
export function truncateLog(path: string, step: number): LogRecord[] {
  if (!existsSync(path)) return [];
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LogRecord)
    .filter((r) => r.step <= step);
  writeAtomic(path, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  return kept;
}

export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Numeric fields (dotted for nested objects) of a record: {loss: 1, lr: {a: 2}} → loss, lr.a. */
function numericFields(r: Record<string, unknown>, prefix = ''): [string, number][] {
  return Object.entries(r).flatMap(([k, v]) => {
    if (typeof v === 'number' && Number.isFinite(v)) return [[prefix + k, v] as [string, number]];
    if (v && typeof v === 'object' && !Array.isArray(v))
      return numericFields(v as Record<string, unknown>, `${prefix}${k}.`);
    return [];
  });
}

/** One line chart per series (x = step), stacked: the curves of `train.jsonl`. */
export function curvesSvg(records: readonly LogRecord[], series: readonly string[]): string {
  const [W, H, pad] = [560, 140, 40];
  const charts = series.flatMap((name) => {
    const pts = records.flatMap((r) => {
      const v = numericFields(r).find(([k]) => k === name)?.[1];
      return v === undefined ? [] : [[r.step, v] as const];
    });
    return pts.length ? [{ name, pts }] : [];
  });
  const parts = charts.map(({ name, pts }, i) => {
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    const sx = (x: number) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
    const sy = (y: number) => H - 20 - ((y - y0) / (y1 - y0 || 1)) * (H - 40);
    const path = pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    return [
      `<g transform="translate(0,${i * H})">`,
      `<text x="${pad}" y="14">${escapeXml(name)}: ${ys[ys.length - 1].toPrecision(4)} (min ${y0.toPrecision(4)}, max ${y1.toPrecision(4)}), steps ${x0}–${x1}</text>`,
      `<rect x="${pad}" y="20" width="${W - 2 * pad}" height="${H - 40}" fill="none" stroke="#ccc"/>`,
      `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${path}"/>`,
      '</g>',
    ].join('');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Math.max(1, charts.length) * H}" font-family="sans-serif" font-size="12">`,
    ...parts,
    '</svg>\n',
  ].join('\n');
}

const clock = (s: number) => {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
};

/** A progress line: bar, step, the given figures, seconds per step and ETA (redrawn in place on a terminal). */
export class Progress {
  private readonly started = Date.now();
  private done = 0;

  constructor(
    private readonly total: number,
    private readonly from: number,
    private readonly write: (s: string) => void = (s) => process.stderr.write(s),
    private readonly tty = !!process.stderr.isTTY,
  ) {}

  update(step: number, figures: Record<string, string>): void {
    this.done = step - this.from;
    const perStep = (Date.now() - this.started) / 1000 / Math.max(1, this.done);
    const width = 20;
    const filled = Math.round((width * step) / Math.max(1, this.total));
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const text = Object.entries(figures)
      .map(([k, v]) => `${k} ${v}`)
      .join(' ');
    const line = `${bar} ${step}/${this.total} ${text} | ${perStep.toFixed(2)} s/step ETA ${clock(perStep * (this.total - step))}`;
    this.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`);
  }

  end(): void {
    if (this.tty) this.write('\n');
  }
}

/**
 * Claims a run folder for this process (`run.lock` holds its pid): two processes resuming one folder would both
 * append to its log and overwrite each other's state. A lock whose process is gone is taken over; the lock goes
 * with the process.
 */
export function lockRun(dir: string): void {
  const path = join(dir, 'run.lock');
  const owner = existsSync(path) ? Number(readFileSync(path, 'utf8')) : undefined;
  if (owner !== undefined && owner !== process.pid && alive(owner))
    throw new InputError(
      `${dir} is in use by process ${owner} (${path}); wait for it or stop it before resuming, or use another --out`,
    );
  writeFileSync(path, String(process.pid));
  if (heldLocks.size === 0) process.once('exit', releaseLocks);
  heldLocks.add(path);
}

/** The locks this process holds, removed by one exit handler (a recipe opens several run folders). */
const heldLocks = new Set<string>();
function releaseLocks(): void {
  for (const path of heldLocks)
    try {
      if (Number(readFileSync(path, 'utf8')) === process.pid) unlinkSync(path);
    } catch {}
  heldLocks.clear();
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a resumable run folder needs from the trainer. */
export interface Resumable {
  stepsDone: number;
  save(path: string, extra?: Record<string, unknown>): void;
  load(path: string): Record<string, unknown>;
}

/**
 * A run folder: refuses other settings than the ones it was started with, restores the state, cuts the log back
 * to it, and appends / saves / redraws as steps finish. Create it only once the inputs were all checked.
 */
export class RunFolder {
  readonly history: LogRecord[];
  readonly resumedFrom: number;
  private readonly statePath: string;
  private readonly logPath: string;

  constructor(
    readonly dir: string,
    settings: Record<string, unknown>,
    private readonly trainer: Resumable,
    private readonly curves: string[],
  ) {
    const settingsPath = join(dir, 'settings.json');
    const text = `${JSON.stringify(settings, null, 2)}\n`;
    if (existsSync(settingsPath) && readFileSync(settingsPath, 'utf8') !== text)
      throw new InputError(
        `${dir} holds a run with other settings (${settingsPath}); rerun with the same options to resume, or use a new --out`,
      );
    mkdirSync(dir, { recursive: true });
    lockRun(dir);
    writeAtomic(settingsPath, text);
    this.statePath = join(dir, 'state.safetensors');
    this.logPath = join(dir, 'train.jsonl');
    if (existsSync(this.statePath)) trainer.load(this.statePath);
    this.resumedFrom = trainer.stepsDone;
    this.history = truncateLog(this.logPath, this.resumedFrom);
  }

  /** Logs a finished step; saves the state every `saveEvery` steps and at `last`. */
  record(entry: LogRecord, saveEvery: number, last: number): void {
    appendFileSync(this.logPath, `${JSON.stringify(entry)}\n`);
    this.history.push(entry);
    if (entry.step % saveEvery === 0 || entry.step === last) {
      this.trainer.save(this.statePath);
      this.drawCurves();
    }
  }

  drawCurves(): void {
    writeAtomic(join(this.dir, 'train.svg'), curvesSvg(this.history, this.curves));
  }
}

/** Marks a log entry whose update the trainer skipped for non-finite gradients, and says so. */
export function noteSkipped(
  entry: LogRecord,
  skipped: boolean | undefined,
  skippedSoFar: number,
  log: (s: string) => void,
): void {
  if (!skipped) return;
  entry.skipped = true;
  log(`step ${entry.step}: a gradient is NaN or infinite; the update was skipped (${skippedSoFar} so far)\n`);
}
