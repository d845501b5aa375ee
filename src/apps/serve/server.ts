// `spatial-mllm serve`: an OpenAI-compatible HTTP API (Fastify) around loaded models, and the web app that shows
// the space behind each answer. One bounded queue per model (a generation at a time by default), a time limit per
// request, cancellation when the client goes away, OpenAI-style JSON errors. Everything a client uploads lies in
// the data folder under names the server makes.
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { type AnswerRecord, AnswerStore, decimatePly } from './answers.ts';
import { parseChatRequest, resolveChatInput } from './chat.ts';
import { ApiError, toApiError } from './errors.ts';
import { FileStore, tooLarge } from './files.ts';
import { JobQueue, QueueFullError } from './queue.ts';
import { readAnswerImages, type ServedAnswer, type ServedModel } from './served_model.ts';
import { buildWebApp, type WebApp } from './web_bundle.ts';

export interface ServeOptions {
  models: ServedModel[];
  /** Uploads, frames, answers and the geometry cache live here. */
  dataDir: string;
  /** Generations running at once per model (default 1). */
  concurrency?: number;
  /** Requests waiting per model beyond those running; one more gets 429 (default 4). */
  maxQueue?: number;
  /** Per-request limit in seconds, waiting included (default 600). */
  timeoutSeconds?: number;
  /** Largest upload (and data: URL) in bytes (default 512 MiB). */
  maxUploadBytes?: number;
  /** A folder searched for eval report.json files, shown by the web app. */
  reportsDir?: string;
  /** Serve the web app at / (default true). */
  web?: boolean;
  logger?: boolean;
}

interface Loaded {
  model: ServedModel;
  queue: JobQueue;
}

const now = () => Math.floor(Date.now() / 1000);

/** onnxruntime-web's dist folder (its WASM files are served to tabs as they are). */
const ORT_DIST = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), '..', 'dist');

export async function buildServer(o: ServeOptions): Promise<FastifyInstance> {
  const maxUpload = o.maxUploadBytes ?? 512 * 2 ** 20;
  const timeoutMs = (o.timeoutSeconds ?? 600) * 1000;
  mkdirSync(o.dataDir, { recursive: true });
  const files = new FileStore(o.dataDir, maxUpload);
  const answers = new AnswerStore(o.dataDir);
  const framesDir = join(o.dataDir, 'frames');
  const loaded = new Map<string, Loaded>(
    o.models.map((m) => [m.id, { model: m, queue: new JobQueue(o.concurrency ?? 1, o.maxQueue ?? 4) }]),
  );
  const web: WebApp | undefined = o.web === false ? undefined : await buildWebApp();

  // JSON bodies may carry base64 media (4/3 of the bytes plus the rest of the request).
  const app = Fastify({ logger: o.logger ?? false, bodyLimit: Math.ceil(maxUpload * 1.34) + 2 ** 20 });
  await app.register(multipart, { limits: { fileSize: maxUpload, files: 1, fields: 4, parts: 5 } });

  app.setErrorHandler((e, _req, reply) => {
    const err = toApiError(e, o.dataDir);
    if (err.status >= 500) app.log.error(e);
    sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) => {
    sendError(reply, new ApiError(404, `no route ${req.method} ${req.url.split('?')[0]}`, null, 'not_found'));
  });

  const modelOf = (id: unknown): Loaded => {
    const m = typeof id === 'string' ? loaded.get(id) : undefined;
    if (!m)
      throw new ApiError(
        404,
        `the model ${JSON.stringify(id)} does not exist here: GET /v1/models lists ${[...loaded.keys()].join(', ')}`,
        'model',
        'model_not_found',
      );
    return m;
  };

  app.get('/health', async () => ({
    status: 'ok',
    models: [...loaded.values()].map(({ model, queue }) => ({ id: model.id, ...queue.stats })),
  }));

  app.get('/v1/models', async () => ({
    object: 'list',
    data: [...loaded.values()].map(({ model }) => ({
      id: model.id,
      object: 'model',
      created: 0,
      owned_by: 'spatial-mllm',
      description: model.description,
    })),
  }));

  // ---- the checkpoint's files, for the model in a browser tab -------------------------------------------------
  app.get<{ Params: { id: string } }>('/v1/models/:id/files', async (req) => {
    const { model } = modelOf(req.params.id);
    const files = model.files();
    if (files.length === 0)
      throw new ApiError(
        404,
        `the model ${model.id} is too large to run in a browser tab; ask the server instead`,
        'id',
        'too_large_for_tab',
      );
    return { object: 'list', data: files.map(({ name, bytes, version }) => ({ name, bytes, version })) };
  });
  app.get<{ Params: { id: string; name: string } }>('/v1/models/:id/files/:name', async (req, reply) => {
    const { model } = modelOf(req.params.id);
    const f = model.files().find((x) => x.name === req.params.name);
    if (!f)
      throw new ApiError(404, `the model ${model.id} has no file ${JSON.stringify(req.params.name)}`, 'name');
    // Versioned URLs (?v=) never change: the browser may keep them.
    reply.type('application/octet-stream').header('cache-control', 'public, max-age=31536000, immutable');
    return createReadStream(f.path);
  });

  // ---- files ------------------------------------------------------------------------------------------------
  app.post('/v1/files', async (req, reply) => {
    if (!req.isMultipart())
      throw new ApiError(400, 'upload with Content-Type multipart/form-data and a "file" field', 'file');
    const part = await req.file();
    if (part?.fieldname !== 'file')
      throw new ApiError(400, 'the form has no "file" field: curl -F file=@video.mp4', 'file');
    const given = (part.fields.purpose as { value?: unknown } | undefined)?.value;
    const purpose = typeof given === 'string' && /^[\w-]{1,40}$/.test(given) ? given : 'user_data';
    try {
      const stored = await files.saveStream(part.file, part.filename ?? 'upload', purpose);
      reply.code(200);
      return publicFile(stored);
    } catch (e) {
      if ((e as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge(maxUpload);
      throw e;
    }
  });
  app.get('/v1/files', async () => ({ object: 'list', data: files.list().map(publicFile) }));
  app.get<{ Params: { id: string } }>('/v1/files/:id', async (req) =>
    publicFile(fileOr404(files, req.params.id)),
  );
  app.get<{ Params: { id: string } }>('/v1/files/:id/content', async (req, reply) => {
    const f = fileOr404(files, req.params.id);
    reply.type(f.mime);
    return readFileSync(files.path(f));
  });
  app.delete<{ Params: { id: string } }>('/v1/files/:id', async (req) => {
    const f = fileOr404(files, req.params.id);
    files.delete(f.id);
    return { id: f.id, object: 'file', deleted: true };
  });

  // ---- chat completions ---------------------------------------------------------------------------------------
  app.post('/v1/chat/completions', async (req, reply) => {
    const body = parseChatRequest(req.body);
    const { model, queue } = modelOf(body.model);
    const input = await resolveChatInput(body, files, framesDir);
    const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
    const created = now();
    // Cancelled when the client goes away before the response is finished, or when the time limit passes.
    const gone = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) gone.abort(new Error('the client disconnected'));
    });
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([gone.signal, timeout]);
    const ask = (onToken?: (t: string) => void) =>
      model.ask({
        video: input.video,
        question: input.question,
        frames: body.frames,
        sampling: body.sampling,
        maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
        temperature: body.temperature ?? undefined,
        topP: body.top_p ?? undefined,
        seed: body.seed ?? undefined,
        signal,
        onToken,
      });
    const failure = (e: unknown) =>
      gone.signal.aborted
        ? new ApiError(499, 'the client closed the request') // nobody reads it; keeps it out of the error log
        : timeout.aborted
          ? new ApiError(504, `the answer took longer than the server's limit of ${timeoutMs / 1000} s`)
          : toApiError(e, o.dataDir);
    const finish = (r: ServedAnswer): { record: AnswerRecord; finishReason: string } => {
      if (timeout.aborted) throw failure(undefined);
      const record: AnswerRecord = {
        id,
        model: model.id,
        created,
        question: input.question,
        video: relative(o.dataDir, input.video),
        answer: r.answer,
        sampling: r.sampling,
        frames: r.frames,
        coverage: r.coverage,
      };
      answers.save(record, r.images);
      const limit = body.max_completion_tokens ?? body.max_tokens;
      return { record, finishReason: limit && r.newTokens >= limit ? 'length' : 'stop' };
    };
    const spatial = (rec: AnswerRecord) => ({
      answer_id: rec.id,
      sampling: rec.sampling,
      frames: rec.frames,
      coverage: rec.coverage ?? null,
    });
    const usage = (r: ServedAnswer) => ({
      prompt_tokens: r.promptTokens,
      completion_tokens: r.newTokens,
      total_tokens: r.promptTokens + r.newTokens,
    });

    if (!body.stream) {
      let done: { r: ServedAnswer } & ReturnType<typeof finish>;
      try {
        const r = await runQueued(queue, () => ask(), signal);
        done = { r, ...finish(r) };
      } catch (e) {
        throw failure(e);
      }
      const { r, record, finishReason } = done;
      return {
        id,
        object: 'chat.completion',
        created,
        model: model.id,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: r.answer },
            finish_reason: finishReason,
            logprobs: null,
          },
        ],
        usage: usage(r),
        spatial: spatial(record),
      };
    }

    // Streaming: refuse a full queue before committing to an event stream.
    if (queue.full) throw queueFull(queue.retryAfter());
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const chunk = (delta: object, finishReason: string | null, extra: object = {}) =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: model.id,
        choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
        ...extra,
      })}\n\n`;
    const write = (s: string) => {
      if (!out.writableEnded && !out.destroyed) out.write(s);
    };
    let streamed = '';
    try {
      const r = await runQueued(
        queue,
        () => {
          write(chunk({ role: 'assistant', content: '' }, null));
          return ask((t) => {
            streamed += t;
            write(chunk({ content: t }, null));
          });
        },
        signal,
      );
      if (gone.signal.aborted) return;
      // Text the model holds back while it cannot form a character (an untrained model's stray bytes) is sent at
      // the end, so that the chunks add up to the answer.
      const shown = streamed.trimStart();
      if (r.answer.startsWith(shown) && r.answer.length > shown.length)
        write(chunk({ content: r.answer.slice(shown.length) }, null));
      const { record, finishReason } = finish(r);
      write(chunk({}, finishReason, { spatial: spatial(record) }));
      if (body.stream_options?.include_usage)
        write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: model.id, choices: [], usage: usage(r) })}\n\n`,
        );
    } catch (e) {
      if (gone.signal.aborted) return;
      const err = failure(e);
      if (err.status >= 500 && err.status !== 504) app.log.error(e);
      write(`data: ${JSON.stringify(err.body())}\n\n`);
    }
    write('data: [DONE]\n\n');
    out.end();
  });

  // ---- the space behind an answer -----------------------------------------------------------------------------
  const answerOr404 = (id: string) => {
    const a = answers.get(id);
    if (!a)
      throw new ApiError(404, `no answer ${JSON.stringify(id.slice(0, 80))} (kept: the newest 200)`, 'id');
    return a;
  };
  app.get<{ Params: { id: string } }>('/v1/answers/:id', async (req) => answerOr404(req.params.id));
  app.get<{ Params: { id: string; n: string } }>('/v1/answers/:id/frames/:n', async (req, reply) => {
    const a = answerOr404(req.params.id);
    const png = /^\d+$/.test(req.params.n) ? answers.frame(a, Number(req.params.n)) : undefined;
    if (!png) throw new ApiError(404, `answer ${a.id} has frames 0..${a.frames.length - 1}`, 'n');
    reply.type('image/png').header('cache-control', 'max-age=86400, immutable');
    return png;
  });
  /** Builds (once, through the model's queue) and returns the cameras; the points come from points.ply. */
  const geometry = async (a: AnswerRecord) => {
    const have = answers.geometry(a);
    if (have) return have;
    const { model, queue } = modelOf(a.model);
    const dir = answers.folder(a.id)!;
    const g = await runQueued(queue, () => model.geometry(a.frames, readAnswerImages(dir), dir));
    if (!g) throw new ApiError(404, `the model ${a.model} has no VGGT point and camera heads`, 'id');
    return answers.geometry(a) ?? { ply: Buffer.from(g.ply), cameras: g.cameras };
  };
  app.get<{ Params: { id: string } }>('/v1/answers/:id/cameras', async (req) => {
    const a = answerOr404(req.params.id);
    const g = await geometry(a);
    return {
      convention: 'OpenCV camera-from-world [R|t], first camera at origin, up to scale',
      cameras: g.cameras,
    };
  });
  app.get<{ Params: { id: string }; Querystring: { max_points?: string } }>(
    '/v1/answers/:id/points.ply',
    async (req, reply) => {
      const g = await geometry(answerOr404(req.params.id));
      const max = Number(req.query.max_points ?? Number.POSITIVE_INFINITY);
      if (!(max >= 1)) throw new ApiError(400, 'max_points must be a positive number', 'max_points');
      reply.type('application/octet-stream');
      return decimatePly(Buffer.from(g.ply), max);
    },
  );

  // ---- eval reports -------------------------------------------------------------------------------------------
  app.get('/v1/reports', async () => ({
    object: 'list',
    data: o.reportsDir ? findReports(o.reportsDir) : [],
  }));

  // ---- the web app --------------------------------------------------------------------------------------------
  if (web) {
    app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(web.html));
    app.get('/app.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(web.js));
    app.get('/app.css', async (_req, reply) => reply.type('text/css; charset=utf-8').send(web.css));
    app.get('/tab.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(web.tab));
    // onnxruntime-web's WASM runtime files, by name from its dist folder only.
    app.get<{ Params: { name: string } }>('/ort/:name', async (req, reply) => {
      const name = req.params.name;
      if (!/^ort-wasm[\w.-]*\.(wasm|mjs)$/.test(name) || !existsSync(join(ORT_DIST, name)))
        throw new ApiError(404, `no runtime file ${JSON.stringify(name.slice(0, 80))}`, 'name');
      reply
        .type(name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=86400');
      return createReadStream(join(ORT_DIST, name));
    });
  }

  app.addHook('onClose', async () => {
    for (const { model } of loaded.values()) await model.release();
  });
  return app;
}

function sendError(reply: FastifyReply, err: ApiError): void {
  reply.code(err.status).headers(err.headers).send(err.body());
}

function queueFull(seconds: number): ApiError {
  return new ApiError(
    429,
    `the model is busy and its queue is full: retry in ${seconds} s`,
    null,
    'queue_full',
    { 'retry-after': String(seconds) },
  );
}

/** A job through a model's queue; a full queue is a 429 with Retry-After. */
async function runQueued<T>(queue: JobQueue, job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  try {
    return await queue.run(job, signal);
  } catch (e) {
    if (e instanceof QueueFullError) throw queueFull(e.retryAfterSeconds);
    throw e;
  }
}

function fileOr404(files: FileStore, id: string) {
  const f = files.get(id);
  if (!f)
    throw new ApiError(
      404,
      `no uploaded file ${JSON.stringify(id.slice(0, 80))}`,
      'file_id',
      'file_not_found',
    );
  return f;
}

function publicFile(f: ReturnType<FileStore['list']>[number]) {
  const { id, object, bytes, created_at, filename, purpose } = f;
  return { id, object, bytes, created_at, filename, purpose, status: 'processed', mime_type: f.mime };
}

/** report.json files up to three folders deep, parsed; unreadable ones are skipped. */
export function findReports(root: string): { name: string; report: unknown }[] {
  const out: { name: string; report: unknown }[] = [];
  const walk = (dir: string, depth: number) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (name === 'report.json') {
        try {
          out.push({ name: relative(root, dir) || '.', report: JSON.parse(readFileSync(p, 'utf8')) });
        } catch {
          // a report being written, or not ours
        }
      } else if (depth < 3 && statSync(p).isDirectory()) walk(p, depth + 1);
    }
  };
  walk(root, 0);
  return out;
}
