// Reading and writing record files: JSON Lines or a JSON array (by extension), plus parquet for reading
// (VSI-Bench's release format). Writes are atomic (temporary file + rename), so an interrupted run never leaves a
// half-written output behind.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { InputError } from '../errors.ts';

/** Records of a .json (array), .jsonl/.ndjson or .parquet file. */
export async function readRecords(path: string): Promise<Record<string, unknown>[]> {
  if (path.endsWith('.parquet')) {
    const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
    try {
      return (await parquetReadObjects({ file: await asyncBufferFromFile(path) })) as Record<
        string,
        unknown
      >[];
    } catch (e) {
      throw new InputError(`cannot read parquet file ${path} (${(e as Error).message}): check the path`);
    }
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new InputError(`cannot read ${path}: check the path`);
  }
  if (path.endsWith('.json')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new InputError(`${path} is not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(value)) throw new InputError(`${path}: expected a JSON array of records`);
    return value as Record<string, unknown>[];
  }
  return text.split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch (e) {
      throw new InputError(
        `${path}:${i + 1} is not a JSON record (${(e as Error).message}); expected JSON Lines`,
      );
    }
  });
}

/** The text of a records file: a JSON array for .json, JSON Lines otherwise. */
export function formatRecords(path: string, records: readonly unknown[]): string {
  if (path.endsWith('.json')) return `${JSON.stringify(records, null, 2)}\n`;
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}

export function writeRecordsAtomic(path: string, records: readonly unknown[]): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, formatRecords(path, records));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR' || code === 'EISDIR')
      throw new InputError(`cannot write ${path} (${code}): give a path in an existing, writable folder`);
    throw e;
  }
  renameSync(tmp, path);
}
