// node:fs for the in-tab model: a read-only in-memory file system that the page fills with the checkpoint's files
// (fetched from the server) before the same loaders as in Node read them. Writing is not available in a tab.
const files = new Map<string, Uint8Array>();
const open = new Map<number, string>();
let nextFd = 3;

const norm = (p: string) =>
  `/${p
    .split('/')
    .filter((s) => s && s !== '.')
    .join('/')}`;
const missing = (p: string) =>
  Object.assign(new Error(`ENOENT: no such file or directory, '${p}'`), { code: 'ENOENT' });
const isDir = (p: string) => {
  const prefix = `${norm(p)}/`.replace('//', '/');
  for (const k of files.keys()) if (k.startsWith(prefix)) return true;
  return false;
};

/** Puts a file into the in-memory file system. */
export function mount(path: string, bytes: Uint8Array): void {
  files.set(norm(path), bytes);
}

export function existsSync(p: string): boolean {
  return files.has(norm(p)) || isDir(p);
}

export function statSync(p: string) {
  const f = files.get(norm(p));
  if (!f && !isDir(p)) throw missing(p);
  return { size: f?.byteLength ?? 0, mtimeMs: 0, isDirectory: () => !f, isFile: () => !!f };
}

/** No links in memory: a file's real path is its normalised path. */
export function realpathSync(p: string): string {
  if (!existsSync(p)) throw missing(p);
  return norm(p);
}

export function readdirSync(p: string): string[] {
  const prefix = `${norm(p)}/`.replace('//', '/');
  const names = new Set<string>();
  for (const k of files.keys()) if (k.startsWith(prefix)) names.add(k.slice(prefix.length).split('/')[0]);
  return [...names].sort();
}

export function readFileSync(p: string, encoding?: string | { encoding?: string }): Uint8Array | string {
  const f = files.get(norm(p));
  if (!f) throw missing(p);
  const enc = typeof encoding === 'string' ? encoding : encoding?.encoding;
  return enc ? new TextDecoder().decode(f) : f;
}

export function openSync(p: string): number {
  if (!files.has(norm(p))) throw missing(p);
  open.set(nextFd, norm(p));
  return nextFd++;
}

export function fstatSync(fd: number) {
  return statSync(open.get(fd) ?? '');
}

export function readSync(
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
): number {
  const f = files.get(open.get(fd) ?? '');
  if (!f) throw missing(String(fd));
  const n = Math.max(0, Math.min(length, f.byteLength - position));
  buffer.set(f.subarray(position, position + n), offset);
  return n;
}

export function closeSync(fd: number): void {
  open.delete(fd);
}

const readOnly = (name: string) => () => {
  throw new Error(`fs.${name} is not available in a browser tab`);
};
export const writeFileSync = readOnly('writeFileSync');
export const writeSync = readOnly('writeSync');
export const mkdirSync = readOnly('mkdirSync');
export const mkdtempSync = readOnly('mkdtempSync');
export const renameSync = readOnly('renameSync');
export const rmSync = readOnly('rmSync');
export const createWriteStream = readOnly('createWriteStream');
