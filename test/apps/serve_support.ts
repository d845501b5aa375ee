// Shared by the server tests: a stub ServedModel whose requests can be held open, and small HTTP helpers.

import type { ServedAnswer, ServedModel, ServedQuestion } from '../../src/apps/serve/served_model.ts';
import { createImage } from '../../src/media/image.ts';

/** A model that answers at once, except questions containing "hold": those wait until `releaseAll()` or until
 * their signal aborts (then they return what they have, as the pipeline does). */
export function stubModel(id = 'stub') {
  const state = { started: 0, aborted: 0, finished: 0 };
  const gates: (() => void)[] = [];
  const model: ServedModel = {
    id,
    description: 'stub',
    files: () => [],
    async ask(q: ServedQuestion): Promise<ServedAnswer> {
      state.started++;
      q.onToken?.('ok');
      if (q.question.includes('hold'))
        await new Promise<void>((resolve) => {
          gates.push(resolve);
          q.signal?.addEventListener('abort', () => {
            state.aborted++;
            resolve();
          });
        });
      state.finished++;
      return {
        answer: 'ok',
        frames: [{ index: 0, timestamp: 0 }],
        sampling: q.sampling ?? 'uniform',
        promptTokens: 3,
        newTokens: 1,
        images: [createImage(4, 4)],
      };
    },
    async geometry() {
      return undefined;
    },
    async release() {},
  };
  return {
    model,
    state,
    releaseAll: () => {
      for (const g of gates.splice(0)) g();
    },
  };
}

export const chatBody = (model: string, video: unknown, extra: object = {}, question = 'How far?') => ({
  model,
  messages: [
    {
      role: 'user',
      content: [
        typeof video === 'string' ? { type: 'video_url', video_url: { url: video } } : video,
        { type: 'text', text: question },
      ],
    },
  ],
  ...extra,
});

export const post = (base: string, path: string, body: unknown, signal?: AbortSignal) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });

export async function upload(base: string, bytes: Uint8Array, name = 'clip.mp4'): Promise<Response> {
  const form = new FormData();
  form.append('purpose', 'user_data');
  form.append('file', new Blob([bytes]), name);
  return fetch(`${base}/v1/files`, { method: 'POST', body: form });
}

/** The `data:` lines of a server-sent event stream. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.trim())
    .map((e) => {
      if (!e.startsWith('data: '))
        throw new Error(`not an SSE data event: ${JSON.stringify(e.slice(0, 80))}`);
      return e.slice(6);
    });
}

export const until = async (cond: () => boolean | Promise<boolean>, ms = 10_000) => {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A response body as JSON (loosely typed: the tests check its shape). */
export const json = (r: Response): Promise<any> => r.json() as Promise<any>;
