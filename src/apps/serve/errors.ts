// Errors as OpenAI's API shapes them: `{error: {message, type, param, code}}` with an HTTP status. Bad input is a
// 4xx `invalid_request_error` naming the field (`param`) and the fix.
import { InputError } from '../../errors.ts';

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  get type(): string {
    if (this.status === 429) return 'rate_limit_error';
    if (this.status === 504) return 'timeout_error';
    if (this.status >= 500) return 'server_error';
    return 'invalid_request_error';
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/**
 * Any thrown value as an ApiError: ours as they are; the pipeline's InputError (an unreadable video, a bad
 * frame count) as 400; Fastify's own client errors (malformed JSON, body too large) with their status; the rest
 * as 500 without internals. `hide` removes a server folder from messages (files are named by id to clients).
 */
export function toApiError(e: unknown, hide?: string): ApiError {
  const scrub = (s: string) => (hide ? s.split(hide).join('') : s);
  if (e instanceof ApiError) return e;
  if (e instanceof InputError) return new ApiError(400, scrub(e.message), 'messages', 'invalid_input');
  const err = e as { statusCode?: number; code?: string; message?: string };
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    const code = err.code ?? null;
    if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.message?.includes('JSON'))
      return new ApiError(400, `the request body is not valid JSON: ${scrub(err.message ?? '')}`, null, code);
    if (err.statusCode === 413)
      return new ApiError(413, `the request is too large: ${scrub(err.message ?? '')}`, null, 'too_large');
    return new ApiError(err.statusCode, scrub(err.message ?? 'bad request'), null, code);
  }
  return new ApiError(500, 'the server failed to answer; see its log', null, 'internal_error');
}
