// The space behind each answer, kept under the data folder so the web app (or any client) can show it: the frames
// the model saw (PNG, named as `ask --save` names them), their indices and timestamps, the coverage of space-aware
// sampling, and, built on first request, VGGT's point cloud of those frames and their cameras. The newest
// `keep` answers are kept.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '../../media/image.ts';
import type { ServedAnswer, ServedCamera } from './served_model.ts';

export interface AnswerRecord {
  id: string;
  model: string;
  created: number;
  question: string;
  video: string;
  answer: string;
  sampling: ServedAnswer['sampling'];
  frames: ServedAnswer['frames'];
  coverage?: ServedAnswer['coverage'];
}

const ID = /^chatcmpl-[0-9a-f]{24}$/;

export const frameFileName = (i: number, index: number) => `frame_${String(i).padStart(2, '0')}_${index}.png`;

export class AnswerStore {
  readonly dir: string;

  constructor(
    dataDir: string,
    readonly keep = 200,
  ) {
    this.dir = join(dataDir, 'answers');
    mkdirSync(this.dir, { recursive: true });
  }

  /** The folder of an answer id, or undefined for anything that is not a well-formed id. */
  folder(id: string): string | undefined {
    return ID.test(id) ? join(this.dir, id) : undefined;
  }

  save(record: AnswerRecord, images: ServedAnswer['images']): void {
    const dir = this.folder(record.id)!;
    mkdirSync(dir, { recursive: true });
    images.forEach((img, i) => {
      writeFileSync(join(dir, frameFileName(i, record.frames[i].index)), encodePng(img));
    });
    writeFileSync(join(dir, 'answer.json'), JSON.stringify(record));
    this.prune();
  }

  get(id: string): AnswerRecord | undefined {
    const dir = this.folder(id);
    if (!dir || !existsSync(join(dir, 'answer.json'))) return undefined;
    return JSON.parse(readFileSync(join(dir, 'answer.json'), 'utf8')) as AnswerRecord;
  }

  /** PNG bytes of the i-th frame the model saw. */
  frame(record: AnswerRecord, i: number): Buffer | undefined {
    const f = record.frames[i];
    if (!f) return undefined;
    const path = join(this.folder(record.id)!, frameFileName(i, f.index));
    return existsSync(path) ? readFileSync(path) : undefined;
  }

  /** The geometry written by an earlier request, if any. */
  geometry(record: AnswerRecord): { ply: Buffer; cameras: ServedCamera[] } | undefined {
    const dir = this.folder(record.id)!;
    const ply = join(dir, 'points.ply');
    const cams = join(dir, 'cameras.json');
    if (!existsSync(ply) || !existsSync(cams)) return undefined;
    return { ply: readFileSync(ply), cameras: JSON.parse(readFileSync(cams, 'utf8')).cameras };
  }

  private prune(): void {
    const all = readdirSync(this.dir)
      .filter((n) => ID.test(n))
      .map((n) => ({ n, t: statSync(join(this.dir, n)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { n } of all.slice(this.keep)) rmSync(join(this.dir, n), { recursive: true, force: true });
  }
}

/**
 * Every k-th point of a binary PLY as `encodePly` writes it (15 bytes a point), so that at most `max` remain: the
 * web view does not need hundreds of thousands of points.
 */
export function decimatePly(ply: Buffer, max: number): Buffer {
  const end = ply.indexOf('end_header\n');
  const header = ply.subarray(0, end).toString('latin1');
  const count = Number(/element vertex (\d+)/.exec(header)?.[1]);
  if (!(end > 0 && Number.isInteger(count)) || count <= max) return ply;
  const stride = Math.ceil(count / max);
  const kept = Math.ceil(count / stride);
  const head = Buffer.from(
    `${header.replace(/element vertex \d+/, `element vertex ${kept}`)}end_header\n`,
    'latin1',
  );
  const body = ply.subarray(end + 'end_header\n'.length);
  const out = Buffer.alloc(head.length + kept * 15);
  head.copy(out);
  for (let i = 0; i < kept; i++) body.copy(out, head.length + i * 15, i * stride * 15, i * stride * 15 + 15);
  return out;
}
