// Any OpenAI-compatible chat-completions endpoint (vLLM, SGLang, llama.cpp server, hosted APIs): the frames go
// as base64 JPEG data-URL images before the text prompt in one user message; greedy decoding. Uses global fetch.
import jpeg from 'jpeg-js';
import { InputError } from '../errors.ts';
import type { FrameSource, ModelAdapter, ModelQuery, RgbFrame } from './adapter.ts';

export interface OpenAIChatOptions {
  /** Base URL up to the API version, e.g. http://127.0.0.1:8000/v1 (`/chat/completions` is appended). */
  endpoint: string;
  model: string;
  apiKey?: string;
  maxTokens?: number;
  frameSource: FrameSource;
  /** Attempts per question for network errors, 429 and 5xx (with exponential backoff). */
  attempts?: number;
  timeoutMs?: number;
}

export function frameDataUrl(f: RgbFrame, quality = 90): string {
  const rgba = new Uint8Array(f.width * f.height * 4);
  for (let p = 0; p < f.width * f.height; p++) {
    rgba[4 * p] = f.data[3 * p];
    rgba[4 * p + 1] = f.data[3 * p + 1];
    rgba[4 * p + 2] = f.data[3 * p + 2];
    rgba[4 * p + 3] = 255;
  }
  const encoded = jpeg.encode({ data: rgba, width: f.width, height: f.height }, quality);
  return `data:image/jpeg;base64,${Buffer.from(encoded.data).toString('base64')}`;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });

export class OpenAIChatAdapter implements ModelAdapter {
  readonly name: string;
  /** Encoded frames of the last video: consecutive questions usually share a scene. */
  private cached?: { key: string; urls: string[] };

  constructor(private readonly o: OpenAIChatOptions) {
    this.name = `openai:${o.model}`;
  }

  private async images(video: string, count: number): Promise<string[]> {
    const key = `${video}#${count}`;
    if (this.cached?.key !== key)
      this.cached = {
        key,
        urls: (await this.o.frameSource.frames(video, count)).map((f) => frameDataUrl(f)),
      };
    return this.cached.urls;
  }

  async answer(q: ModelQuery, signal?: AbortSignal): Promise<string> {
    if (q.sampling !== 'uniform')
      throw new InputError(
        `--sampling ${q.sampling} needs our model's reconstruction; use --sampling uniform here`,
      );
    const images = await this.images(q.video, q.frames);
    const body = JSON.stringify({
      model: this.o.model,
      messages: [
        {
          role: 'user',
          content: [
            ...images.map((url) => ({ type: 'image_url', image_url: { url } })),
            { type: 'text', text: q.prompt },
          ],
        },
      ],
      temperature: 0,
      max_tokens: this.o.maxTokens ?? 256,
    });
    const url = `${this.o.endpoint.replace(/\/+$/, '')}/chat/completions`;
    const attempts = this.o.attempts ?? 4;
    for (let attempt = 1; ; attempt++) {
      let retryable: string;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}),
          },
          body,
          signal: AbortSignal.any([
            AbortSignal.timeout(this.o.timeoutMs ?? 300_000),
            ...(signal ? [signal] : []),
          ]),
        });
        const text = await res.text();
        if (res.ok) return messageText(text, url);
        if (res.status === 401 || res.status === 403)
          throw new InputError(`${url} refused the request (${res.status}); check --api-key-env`);
        if (res.status !== 429 && res.status < 500)
          throw new Error(`${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
        retryable = `HTTP ${res.status}`;
      } catch (e) {
        if (signal?.aborted || e instanceof InputError || !(e instanceof TypeError || isTimeout(e))) throw e;
        retryable = (e as Error).message;
      }
      if (attempt >= attempts) throw new Error(`${url}: gave up after ${attempts} attempts (${retryable})`);
      await sleep(500 * 2 ** (attempt - 1), signal);
    }
  }
}

const isTimeout = (e: unknown) => (e as { name?: string }).name === 'TimeoutError';

/** The assistant text of a chat-completions response (content may be a string or a list of text parts). */
function messageText(body: string, url: string): string {
  let content: unknown;
  try {
    content = JSON.parse(body).choices[0].message.content;
  } catch {
    throw new Error(`${url} answered without choices[0].message: ${body.slice(0, 300)}`);
  }
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p: { text?: string }) => p.text ?? '').join('');
  return '';
}
