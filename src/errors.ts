// An error caused by what the user gave us (a wrong path, a corrupt file, a config we cannot handle, a bad
// option). The CLI prints its message without a stack trace and exits 2, so the message must name the problem
// and the fix.
import { readFileSync } from 'node:fs';

export class InputError extends Error {
  override name = 'InputError';
}

/** A command that ran but could not do all its work (some eval questions failed, Ctrl-C): the CLI prints the
 * message, without a stack trace, and exits with `exitCode`. */
export class CommandFailed extends Error {
  override name = 'CommandFailed';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The parsed JSON of a file the user gave us; unreadable or invalid JSON is an InputError ending in `fix`. */
export function readJsonFile(path: string, fix: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(
      `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ${fix}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path} is not valid JSON (${(e as Error).message}); ${fix}`);
  }
}

/** `readJsonFile` for files that must hold a JSON object. */
export function readJsonObject(path: string, fix: string): Record<string, unknown> {
  const value = readJsonFile(path, fix);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError(`${path} is not a JSON object; ${fix}`);
  return value as Record<string, unknown>;
}
