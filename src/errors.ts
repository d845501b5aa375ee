// An error caused by what the user gave us (a wrong path, a corrupt file, a config we cannot handle, a bad
// option). The CLI prints its message without a stack trace and exits non-zero, so the message must name the
// problem and the fix.
export class InputError extends Error {
  override name = 'InputError';
}
