// An error caused by what the user gave us (a wrong path, a corrupt file, a config we cannot handle, a bad
// option). The CLI prints its message without a stack trace and exits 2, so the message must name the problem
// and the fix.
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
