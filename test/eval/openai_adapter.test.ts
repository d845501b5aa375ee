// The OpenAI-compatible adapter against a local fake endpoint: request shape (frames as JPEG data URLs before
// the prompt, bearer key), retries on 5xx, a clear error on 401.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import jpeg from 'jpeg-js';
import { videoFrameSource } from '../../src/apps/eval_deps.ts';
import { InputError } from '../../src/errors.ts';
import { loadVsiBench, videoPath } from '../../src/eval/datasets.ts';
import { OpenAIChatAdapter } from '../../src/eval/openai_adapter.ts';
import { buildPrompt } from '../../src/eval/questions.ts';
import { fakeAnswer, startFakeServer } from './openai_server.ts';
import { syntheticVsiBench } from './synthetic.ts';

const data = syntheticVsiBench(12);
const servers: { close(): Promise<void> }[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function query(i: number) {
  const q = (await loadVsiBench(data))[i];
  return {
    question: q,
    prompt: buildPrompt(q, 'official'),
    video: videoPath(data, q),
    frames: 2,
    sampling: 'uniform' as const,
  };
}

test('sends the frames as JPEG data URLs, then the prompt; returns the message text', async () => {
  const server = await startFakeServer();
  servers.push(server);
  const adapter = new OpenAIChatAdapter({
    endpoint: server.url,
    model: 'm1',
    apiKey: 'k3y',
    frameSource: videoFrameSource,
  });
  const q = await query(0);
  assert.equal(await adapter.answer(q), fakeAnswer(q.prompt));
  const { body, authorization } = server.received[0];
  assert.equal(authorization, 'Bearer k3y');
  assert.equal(body.model, 'm1');
  assert.equal(body.temperature, 0);
  const parts = body.messages[0].content;
  assert.deepEqual(
    parts.map((p: any) => p.type),
    ['image_url', 'image_url', 'text'],
  );
  assert.equal(parts[2].text, q.prompt);
  const img = jpeg.decode(
    Buffer.from(parts[0].image_url.url.replace(/^data:image\/jpeg;base64,/, ''), 'base64'),
  );
  assert.deepEqual([img.width, img.height], [4, 3]);
});

test('retries server errors, then succeeds', async () => {
  const server = await startFakeServer({ failFirst: 2 });
  servers.push(server);
  const adapter = new OpenAIChatAdapter({
    endpoint: server.url,
    model: 'm',
    frameSource: videoFrameSource,
    attempts: 3,
  });
  const q = await query(1);
  assert.equal(await adapter.answer(q), fakeAnswer(q.prompt));
  assert.equal(server.received.length, 3);
});

test('a refused key is an InputError naming the fix', async () => {
  const server = await startFakeServer({ failFirst: 5, status: 401 });
  servers.push(server);
  const adapter = new OpenAIChatAdapter({
    endpoint: server.url,
    model: 'm',
    frameSource: videoFrameSource,
  });
  await assert.rejects(
    adapter.answer(await query(2)),
    (e) => e instanceof InputError && /--api-key-env/.test(e.message),
  );
});
