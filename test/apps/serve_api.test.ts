// `spatial-mllm serve`'s HTTP API on a real server bound to a free loopback port: the tiny generated checkpoint for
// the model paths (streaming format, uploads, frames as images, the geometry behind an answer, the eval client),
// a stub model for the queue (429, cancellation, time limit); OpenAI-style errors for bad input, and nothing a
// client sends reaching the file system outside the data folder.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { demoFrames } from '../../src/apps/demo/clip.ts';
import { writeTinySpatialMllm } from '../../src/apps/demo/tiny_model.ts';
import { JobQueue, QueueFullError } from '../../src/apps/serve/queue.ts';
import { loadServedModel } from '../../src/apps/serve/served_model.ts';
import { buildServer } from '../../src/apps/serve/server.ts';
import { OpenAIChatAdapter } from '../../src/eval/openai_adapter.ts';
import { encodePng } from '../../src/media/image.ts';
import { writeVideo } from '../../src/media/video.ts';
import { uniformIndices } from '../../src/pipeline/frame_sampling.ts';
import { chatBody, json, post, sseData, stubModel, until, upload } from './serve_support.ts';

const root = mkdtempSync(join(tmpdir(), 'serve-api-'));
const clipPath = join(root, 'clip.mp4');
const CLIP = { frames: 10, fps: 5 };

async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' });
}

describe('serve API with the tiny checkpoint', () => {
  const dataDir = join(root, 'data');
  let app: FastifyInstance;
  let base: string;
  let fileId: string;
  before(async () => {
    writeTinySpatialMllm(join(root, 'tiny'));
    await writeVideo(clipPath, demoFrames(CLIP.frames, 112, 84), CLIP.fps);
    app = await buildServer({
      models: [
        loadServedModel(join(root, 'tiny'), { cacheDir: join(dataDir, 'geometry'), offMainThread: true }),
      ],
      dataDir,
      web: false,
    });
    base = await listen(app);
  });
  after(() => app.close());

  test('health and models', async () => {
    const h = await json(await fetch(`${base}/health`));
    assert.deepEqual(h, { status: 'ok', models: [{ id: 'tiny', running: 0, waiting: 0 }] });
    const m = await json(await fetch(`${base}/v1/models`));
    assert.equal(m.object, 'list');
    assert.deepEqual(
      m.data.map((x: { id: string; object: string }) => [x.id, x.object]),
      [['tiny', 'model']],
    );
  });

  test('upload: a video is stored by content hash, typed by its bytes, listed and served back', async () => {
    const bytes = readFileSync(clipPath);
    const r = await upload(base, bytes, '../../evil name.mp4');
    assert.equal(r.status, 200);
    const f = await json(r);
    assert.match(f.id, /^file-[0-9a-f]{24}$/);
    assert.equal(f.object, 'file');
    assert.equal(f.bytes, bytes.length);
    assert.equal(f.mime_type, 'video/mp4');
    assert.ok(!f.filename.includes('/'), f.filename);
    fileId = f.id;
    const again = await json(await upload(base, bytes, 'other.mp4'));
    assert.equal(again.id, fileId, 'the same bytes are the same file');
    const list = await json(await fetch(`${base}/v1/files`));
    assert.ok(list.data.some((x: { id: string }) => x.id === fileId));
    const back = Buffer.from(await (await fetch(`${base}/v1/files/${fileId}/content`)).arrayBuffer());
    assert.ok(back.equals(bytes));
    assert.ok(!existsSync(join(root, 'evil name.mp4')) && !existsSync(join(dataDir, '..', 'evil name.mp4')));
  });

  test('streaming: standard chunks, one id, role first, finish reason and spatial extras last, then [DONE]', async () => {
    const maxTokens = 4;
    const r = await post(
      base,
      '/v1/chat/completions',
      chatBody('tiny', fileId, {
        stream: true,
        max_tokens: maxTokens,
        temperature: 0,
        frames: 4,
        stream_options: { include_usage: true },
      }),
    );
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    const data = sseData(await r.text());
    assert.equal(data[data.length - 1], '[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    const usageChunk = chunks[chunks.length - 1];
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, chunks[0].id);
      assert.equal(c.model, 'tiny');
      assert.equal(typeof c.created, 'number');
    }
    assert.deepEqual(withChoices[0].choices[0].delta, { role: 'assistant', content: '' });
    const last = withChoices[withChoices.length - 1];
    assert.ok(['stop', 'length'].includes(last.choices[0].finish_reason));
    assert.deepEqual(last.choices[0].delta, {});
    const middle = withChoices.slice(1, -1);
    for (const c of middle) {
      assert.equal(c.choices[0].finish_reason, null);
      assert.equal(typeof c.choices[0].delta.content, 'string');
    }
    // At most one content chunk per generated token (a piece of a character waits for the rest).
    const u = usageChunk.usage;
    assert.deepEqual(usageChunk.choices, []);
    assert.ok(u.completion_tokens >= 1 && u.completion_tokens <= maxTokens);
    assert.ok(middle.length <= u.completion_tokens);
    assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    assert.equal(last.choices[0].finish_reason, u.completion_tokens === maxTokens ? 'length' : 'stop');
    // The streamed text is the answer the same request gets without streaming.
    const whole = await json(
      await post(
        base,
        '/v1/chat/completions',
        chatBody('tiny', fileId, { max_tokens: maxTokens, temperature: 0, frames: 4 }),
      ),
    );
    const streamedText = middle.map((c) => c.choices[0].delta.content).join('');
    assert.equal(streamedText.trim(), whole.choices[0].message.content);
    assert.equal(whole.usage.completion_tokens, u.completion_tokens);
    assert.deepEqual(
      last.spatial.frames.map((f: { index: number }) => f.index),
      uniformIndices(CLIP.frames, 4),
    );
    assert.deepEqual(
      last.spatial.frames.map((f: { timestamp: number }) => f.timestamp),
      uniformIndices(CLIP.frames, 4).map((i) => i / CLIP.fps),
    );
    assert.equal(last.spatial.answer_id, chunks[0].id);
  });

  test('non-streaming with a data: URL video and space-aware sampling; the answer’s frames, cameras and points', async () => {
    const url = `data:video/mp4;base64,${readFileSync(clipPath).toString('base64')}`;
    const r = await post(
      base,
      '/v1/chat/completions',
      chatBody('tiny', url, { max_tokens: 3, temperature: 0, frames: 4, sampling: 'space-aware', seed: 7 }),
    );
    assert.equal(r.status, 200, await r.clone().text());
    const c = await json(r);
    assert.equal(c.object, 'chat.completion');
    assert.match(c.id, /^chatcmpl-/);
    assert.equal(c.choices[0].message.role, 'assistant');
    assert.equal(typeof c.choices[0].message.content, 'string');
    const s = c.spatial;
    const idx = s.frames.map((f: { index: number }) => f.index);
    assert.deepEqual(
      idx,
      [...idx].sort((a: number, b: number) => a - b),
    );
    assert.ok(idx.length >= 1 && idx.length <= 4);
    assert.ok(s.coverage.covered > 0 && s.coverage.covered <= s.coverage.total);
    assert.equal(
      s.coverage.gains.reduce((a: number, b: number) => a + b, 0),
      s.coverage.covered,
    );
    // The data: URL is the uploaded clip's bytes: one file, one geometry cache entry.
    assert.equal(readdirSync(join(dataDir, 'files')).length, 1);
    assert.equal(readdirSync(join(dataDir, 'geometry')).length, 1);

    const a = await json(await fetch(`${base}/v1/answers/${c.id}`));
    assert.deepEqual(a.frames, s.frames);
    const png = Buffer.from(await (await fetch(`${base}/v1/answers/${c.id}/frames/0`)).arrayBuffer());
    assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.equal((await fetch(`${base}/v1/answers/${c.id}/frames/${idx.length}`)).status, 404);
    const cams = await json(await fetch(`${base}/v1/answers/${c.id}/cameras`));
    assert.deepEqual(
      cams.cameras.map((x: { frame: number }) => x.frame),
      idx,
    );
    for (const cam of cams.cameras) {
      assert.equal(cam.extrinsic.length, 3);
      assert.equal(cam.extrinsic[0].length, 4);
    }
    const ply = Buffer.from(await (await fetch(`${base}/v1/answers/${c.id}/points.ply`)).arrayBuffer());
    const header = ply.subarray(0, 300).toString('latin1');
    const count = Number(/element vertex (\d+)/.exec(header)?.[1]);
    assert.ok(count > 0);
    assert.equal(ply.length, header.indexOf('end_header\n') + 'end_header\n'.length + count * 15);
  });

  test('a list of image_url frames is read as a video, in order', async () => {
    const frames = demoFrames(4, 56, 56).map(
      (img) => `data:image/png;base64,${encodePng(img).toString('base64')}`,
    );
    const r = await post(base, '/v1/chat/completions', {
      model: 'tiny',
      max_tokens: 2,
      frames: 4,
      messages: [
        {
          role: 'user',
          content: [...frames.map((url) => ({ type: 'image_url', image_url: { url } })), 'count?'].map((p) =>
            typeof p === 'string' ? { type: 'text', text: p } : p,
          ),
        },
      ],
    });
    assert.equal(r.status, 200, await r.clone().text());
    const c = await json(r);
    assert.deepEqual(
      c.spatial.frames.map((f: { index: number }) => f.index),
      [0, 1, 2, 3],
    );
  });

  test("the eval command's OpenAI client gets answers from this server", async () => {
    const adapter = new OpenAIChatAdapter({
      endpoint: `${base}/v1`,
      model: 'tiny',
      maxTokens: 2,
      frameSource: { frames: async () => demoFrames(2, 56, 56) },
    });
    const answer = await adapter.answer({
      video: 'x',
      frames: 2,
      sampling: 'uniform',
      prompt: 'How many chairs?',
    } as Parameters<OpenAIChatAdapter['answer']>[0]);
    assert.equal(typeof answer, 'string');
  });

  test('bad input: OpenAI-style 4xx errors naming the problem', async () => {
    const expectError = async (r: Response, status: number, param?: string | null, code?: string) => {
      const body = await json(r);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(typeof body.error.message, 'string');
      assert.equal(body.error.type, status === 429 ? 'rate_limit_error' : 'invalid_request_error');
      assert.ok('param' in body.error);
      if (param !== undefined) assert.equal(body.error.param, param);
      if (code) assert.equal(body.error.code, code);
      assert.ok(!body.error.message.includes(dataDir), 'no server path in messages');
      return body.error.message as string;
    };
    await expectError(await post(base, '/v1/chat/completions', '{"model": "tiny", '), 400);
    await expectError(
      await post(base, '/v1/chat/completions', chatBody('nope', fileId)),
      404,
      'model',
      'model_not_found',
    );
    await expectError(
      await post(base, '/v1/chat/completions', chatBody('tiny', fileId, { temperature: 'hot' })),
      400,
      'temperature',
    );
    await expectError(
      await post(base, '/v1/chat/completions', chatBody('tiny', fileId, { frames: 1 })),
      400,
      'frames',
    );
    await expectError(
      await post(base, '/v1/chat/completions', chatBody('tiny', fileId, { sampling: 'random' })),
      400,
      'sampling',
    );
    await expectError(
      await post(base, '/v1/chat/completions', {
        model: 'tiny',
        messages: [{ role: 'user', content: 'no video here' }],
      }),
      400,
      'messages.0.content',
    );
    await expectError(
      await post(base, '/v1/chat/completions', chatBody('tiny', 'https://example.com/v.mp4')),
      400,
    );
    // A file that looks like an mp4 by its first bytes but is not one: accepted as an upload, refused to decode.
    const fake = Buffer.alloc(4096, 7);
    fake.write('\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom', 0, 'latin1');
    const up = await upload(base, fake, 'broken.mp4');
    assert.equal(up.status, 200);
    const msg = await expectError(
      await post(base, '/v1/chat/completions', chatBody('tiny', (await json(up)).id)),
      400,
      'messages',
    );
    assert.match(msg, /cannot/);
    // Not a video nor an image, whatever its name says.
    await expectError(
      await upload(base, Buffer.from('{"a": 1}'), 'video.mp4'),
      415,
      'file',
      'unsupported_media_type',
    );
  });

  test('path traversal attempts are refused and create nothing outside the data folder', async () => {
    const before = readdirSync(root).sort();
    for (const ref of [
      '../../etc/passwd',
      '/etc/passwd',
      'file:///etc/passwd',
      `${fileId}/../../../etc/passwd`,
      'file-../../../../etc/passwd',
      '..%2F..%2Fetc%2Fpasswd',
    ]) {
      const r = await post(base, '/v1/chat/completions', chatBody('tiny', ref));
      assert.ok(r.status === 400 || r.status === 404, `${ref}: ${r.status}`);
      const f = await post(
        base,
        '/v1/chat/completions',
        chatBody('tiny', { type: 'file', file: { file_id: ref } }),
      );
      assert.ok(f.status === 400 || f.status === 404, `${ref}: ${f.status}`);
    }
    for (const path of [
      '/v1/files/..%2F..%2Fetc%2Fpasswd/content',
      '/v1/files/%2e%2e/content',
      '/v1/answers/..%2F..%2Fetc/cameras',
      '/v1/answers/chatcmpl-..%2F..%2F/frames/0',
      '/v1/files/../../etc/passwd',
    ]) {
      const r = await fetch(`${base}${path}`);
      assert.equal(r.status, 404, path);
      assert.ok(!(await r.text()).includes('root:'), path);
    }
    assert.deepEqual(readdirSync(root).sort(), before);
  });
});

describe('serve API queue', () => {
  const stub = stubModel();
  let app: FastifyInstance;
  let base: string;
  let fileId: string;
  before(async () => {
    await until(() => existsSync(clipPath));
    app = await buildServer({
      models: [stub.model],
      dataDir: join(root, 'queue-data'),
      concurrency: 1,
      maxQueue: 1,
      timeoutSeconds: 2,
      maxUploadBytes: 4096,
      web: false,
    });
    base = await listen(app);
    // The clip is larger than this server's 4 KiB limit; frames of a few bytes are not.
    const png = encodePng(demoFrames(1, 8, 8)[0]);
    fileId = (await json(await upload(base, png, 'f.png'))).id;
  });
  after(() => app.close());
  const frameBody = (question: string, extra: object = {}) =>
    chatBody('stub', { type: 'image_url', image_url: { url: fileId } }, extra, question);

  test('an upload over the size limit is 413, inline or multipart', async () => {
    const r = await upload(base, readFileSync(clipPath));
    assert.equal(r.status, 413);
    assert.equal((await json(r)).error.code, 'file_too_large');
    const inline = await post(
      base,
      '/v1/chat/completions',
      chatBody('stub', `data:video/mp4;base64,${readFileSync(clipPath).toString('base64')}`),
    );
    assert.equal(inline.status, 413);
    assert.deepEqual(readdirSync(join(root, 'queue-data', 'tmp')), [], 'no partial upload left');
  });

  test('a full queue answers 429 with Retry-After; a cancelled request frees its slot', async () => {
    const a = new AbortController();
    const first = post(base, '/v1/chat/completions', frameBody('hold on', { stream: true }), a.signal);
    await until(() => stub.state.started === 1);
    const second = post(base, '/v1/chat/completions', frameBody('quick'));
    await until(async () => (await json(await fetch(`${base}/health`))).models[0].waiting === 1);
    const third = await post(base, '/v1/chat/completions', frameBody('quick'));
    assert.equal(third.status, 429);
    const retry = Number(third.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 1, String(retry));
    assert.equal((await json(third)).error.type, 'rate_limit_error');
    // The client of the running request goes away: its generation is cancelled and the waiting one runs.
    const firstResponse = await first;
    const reader = firstResponse.body!.getReader();
    await reader.read();
    a.abort();
    await until(() => stub.state.aborted === 1);
    const s = await second;
    assert.equal(s.status, 200);
    assert.equal((await json(s)).choices[0].message.content, 'ok');
    const h = await json(await fetch(`${base}/health`));
    assert.deepEqual(h.models[0], { id: 'stub', running: 0, waiting: 0 });
  });

  test('a request over the time limit is 504', async () => {
    const r = await post(base, '/v1/chat/completions', frameBody('hold forever'));
    assert.equal(r.status, 504);
    assert.equal((await json(r)).error.type, 'timeout_error');
    stub.releaseAll();
  });
});

describe('JobQueue', () => {
  test('runs at most `concurrency` jobs, refuses beyond the waiting room, drops aborted waiters', async () => {
    const q = new JobQueue(1, 1);
    let release!: () => void;
    const running = q.run(() => new Promise<void>((r) => (release = r)));
    const abort = new AbortController();
    const waiting = q.run(async () => 'never', abort.signal);
    assert.deepEqual(q.stats, { running: 1, waiting: 1 });
    assert.throws(() => q.run(async () => 0), QueueFullError);
    abort.abort(new Error('gone'));
    await assert.rejects(waiting, /gone/);
    assert.deepEqual(q.stats, { running: 1, waiting: 0 });
    const next = q.run(async () => 'ran');
    release();
    await running;
    assert.equal(await next, 'ran');
    assert.deepEqual(q.stats, { running: 0, waiting: 0 });
  });
});
