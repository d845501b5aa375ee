// JSON from files the user points us at (checkpoint configs, index files, benchmark data, run folders): one way
// to read it, and one way to fail — an InputError naming the file, what is wrong and the fix.
import { readFileSync } from 'node:fs';
import { InputError } from './errors.ts';

export type JsonObject = Record<string, unknown>;

/** A JSON object (not null, not an array). */
export const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The parsed content of `path`; `fix` ends the message when the file cannot be read or is not JSON. */
export function readJsonFile(path: string, fix: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${path} (${(e as Error).message}); ${fix}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path} is not valid JSON (${(e as Error).message}); ${fix}`);
  }
}

/** `readJsonFile` for files that must hold one JSON object. */
export function readJsonObject(path: string, fix: string): JsonObject {
  const json = readJsonFile(path, fix);
  if (!isObject(json)) throw new InputError(`${path} is not a JSON object; ${fix}`);
  return json;
}
