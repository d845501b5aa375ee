// Uploaded media under the server's data folder. A file's id is a hash of its bytes (the same video uploaded
// twice is one file, so its cached geometry is found again); its type is read from its first bytes (file-type),
// never from the name the client gave, and the stored path is built from the id and that type only: nothing a
// client sends becomes part of a path.
import { createHash, randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileTypeFromBuffer } from 'file-type';
import { ApiError } from './errors.ts';

/** Containers ffmpeg decodes, and the image formats a frame may be in. */
const VIDEO_TYPES: Record<string, string> = {
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
  'video/webm': 'webm',
  'video/x-matroska': 'mkv',
  'video/vnd.avi': 'avi',
  'video/x-msvideo': 'avi',
  'video/mpeg': 'mpg',
  'video/3gpp': '3gp',
  'video/x-m4v': 'm4v',
};
const IMAGE_TYPES: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg' };

export type MediaKind = 'video' | 'image';

export interface StoredFile {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  /** The client's name for it, shown back only. */
  filename: string;
  purpose: string;
  mime: string;
  kind: MediaKind;
}

const ID = /^file-[0-9a-f]{24}$/;

export class FileStore {
  readonly dir: string;
  private readonly tmp: string;

  constructor(
    dataDir: string,
    readonly maxBytes: number,
  ) {
    this.dir = join(dataDir, 'files');
    this.tmp = join(dataDir, 'tmp');
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  /** Stores a stream (an upload) after checking its size and type; the temp file is removed on any failure. */
  async saveStream(stream: Readable, filename: string, purpose: string): Promise<StoredFile> {
    const temp = join(this.tmp, randomBytes(12).toString('hex'));
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      await pipeline(
        stream,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            bytes += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(temp),
      );
      if ((stream as { truncated?: boolean }).truncated) throw tooLarge(this.maxBytes);
      const head = Buffer.alloc(4100);
      const fh = await open(temp, 'r');
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      await fh.close();
      return await this.commit(
        temp,
        head.subarray(0, bytesRead),
        hash.digest('hex'),
        bytes,
        filename,
        purpose,
      );
    } finally {
      rmSync(temp, { force: true });
    }
  }

  /** Stores bytes given inline (a data: URL). */
  async saveBytes(data: Buffer, filename: string, purpose: string): Promise<StoredFile> {
    if (data.length > this.maxBytes) throw tooLarge(this.maxBytes);
    const temp = join(this.tmp, randomBytes(12).toString('hex'));
    try {
      await writeFile(temp, data);
      const hash = createHash('sha256').update(data).digest('hex');
      return await this.commit(temp, data.subarray(0, 4100), hash, data.length, filename, purpose);
    } finally {
      rmSync(temp, { force: true });
    }
  }

  private async commit(
    temp: string,
    head: Buffer,
    hash: string,
    bytes: number,
    filename: string,
    purpose: string,
  ): Promise<StoredFile> {
    if (bytes === 0) throw new ApiError(400, 'the file is empty', 'file');
    const type = await fileTypeFromBuffer(head);
    const mime = type?.mime ?? 'unknown';
    const kind: MediaKind | undefined =
      mime in VIDEO_TYPES ? 'video' : mime in IMAGE_TYPES ? 'image' : undefined;
    if (!kind)
      throw new ApiError(
        415,
        `the file is not a video (mp4, mov, webm, mkv, avi) nor a PNG/JPEG image: its content reads as ${mime}`,
        'file',
        'unsupported_media_type',
      );
    const id = `file-${hash.slice(0, 24)}`;
    const folder = join(this.dir, id);
    const existing = this.get(id);
    if (existing) return existing;
    mkdirSync(folder, { recursive: true });
    renameSync(temp, join(folder, `content.${VIDEO_TYPES[mime] ?? IMAGE_TYPES[mime]}`));
    const meta: StoredFile = {
      id,
      object: 'file',
      bytes,
      created_at: Math.floor(Date.now() / 1000),
      filename: filename.replace(/[^\w.\- ]/g, '_').slice(0, 200) || 'upload',
      purpose,
      mime,
      kind,
    };
    await writeFile(join(folder, 'meta.json'), JSON.stringify(meta));
    return meta;
  }

  /** The file with this id, or undefined (also for anything that is not a well-formed id). */
  get(id: string): StoredFile | undefined {
    if (!ID.test(id)) return undefined;
    const meta = join(this.dir, id, 'meta.json');
    if (!existsSync(meta)) return undefined;
    return JSON.parse(readFileSync(meta, 'utf8')) as StoredFile;
  }

  /** Where the content of a stored file lies. */
  path(f: StoredFile): string {
    return join(this.dir, f.id, `content.${VIDEO_TYPES[f.mime] ?? IMAGE_TYPES[f.mime]}`);
  }

  list(): StoredFile[] {
    return readdirSync(this.dir)
      .map((id) => this.get(id))
      .filter((f): f is StoredFile => f !== undefined)
      .sort((a, b) => b.created_at - a.created_at);
  }

  delete(id: string): boolean {
    const f = this.get(id);
    if (!f) return false;
    rmSync(join(this.dir, f.id), { recursive: true, force: true });
    return true;
  }
}

export function tooLarge(maxBytes: number): ApiError {
  return new ApiError(
    413,
    `the file is larger than the server's limit of ${(maxBytes / 2 ** 20).toFixed(0)} MiB (serve --max-upload-mb)`,
    'file',
    'file_too_large',
  );
}
