// The model in a browser tab: Chromium loads the pipeline bundle (tab.js: the same TypeScript graph builder and
// pipeline, onnxruntime-web WASM), fetches the tiny checkpoint from the server, and answers about frames decoded
// in the tab, with no server computation; its generated token ids equal the Node pipeline's on the same frames.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { demoFrames } from '../../src/apps/demo/clip.ts';
import { writeTinySpatialMllm } from '../../src/apps/demo/tiny_model.ts';
import { loadServedModel, type ServedModel } from '../../src/apps/serve/served_model.ts';
import { buildServer } from '../../src/apps/serve/server.ts';
import { encodePng, readImage } from '../../src/media/image.ts';
import { SpatialMllm } from '../../src/models/spatial_mllm/model.ts';
import { askFrames } from '../../src/pipeline/ask.ts';
import { launchChromium } from '../support/browser.ts';
import { json, upload } from './serve_support.ts';

describe('the model in a browser tab', () => {
  const root = mkdtempSync(join(tmpdir(), 'serve-tab-'));
  const modelDir = join(root, 'tiny');
  const framesDir = join(root, 'frames');
  const FPS = 2;
  const QUESTION = 'How many chairs are in the room?';
  const MAX_TOKENS = 6;
  let app: FastifyInstance;
  let base: string;
  let browser: BrowserContext;
  let page: Page;
  let served: ServedModel;
  const urls: string[] = [];
  let asked = 0;

  before(async () => {
    writeTinySpatialMllm(modelDir);
    mkdirSync(framesDir);
    served = loadServedModel(modelDir);
    // Count the server's generations: the tab must not cause any.
    const ask = served.ask.bind(served);
    served = {
      ...served,
      ask: (q) => {
        asked++;
        return ask(q);
      },
    };
    app = await buildServer({ models: [served], dataDir: join(root, 'data') });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    for (const [i, img] of demoFrames(4, 112, 84).entries()) {
      const png = encodePng(img);
      writeFileSync(join(framesDir, `frame_${i}.png`), png);
      const f = await json(await upload(base, png, `frame_${i}.png`));
      urls.push(`/v1/files/${f.id}/content`);
    }
    browser = await launchChromium(join(root, 'profile'));
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('tokens equal the Node pipeline on the same frames; weights come from the server once, then the cache', async () => {
    const node = SpatialMllm.load(modelDir);
    let expected: number[];
    try {
      const frames = urls.map((_, i) => ({
        index: i,
        timestamp: i / FPS,
        image: readImage(join(framesDir, `frame_${i}.png`)),
      }));
      expected = (await askFrames(node, frames, QUESTION, { maxNewTokens: MAX_TOKENS, temperature: 0 }))
        .tokenIds;
    } finally {
      await node.release();
    }

    await page.goto(base);
    await page.waitForSelector('body[data-ready=true]');
    const modelRequests: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/models/tiny/files/')) modelRequests.push(r.url());
    });
    const run = () =>
      page.evaluate(
        async ({ urls, question, maxTokens, fps }) => {
          const tab = await import(`${(globalThis as any).location.origin}/tab.js`);
          const model = await tab.TabModel.load('tiny', { device: 'wasm' });
          const frames = await tab.imageFrames(urls, fps);
          const r = await model.ask(frames, question, { maxTokens });
          return {
            tokenIds: r.tokenIds as number[],
            answer: r.answer as string,
            device: model.device as string,
          };
        },
        { urls, question: QUESTION, maxTokens: MAX_TOKENS, fps: FPS },
      );
    assert.ok(expected.length >= 1);
    const first = await run();
    assert.equal(first.device, 'wasm');
    assert.deepEqual(first.tokenIds, expected);
    const files = await json(await fetch(`${base}/v1/models/tiny/files`));
    assert.equal(new Set(modelRequests).size, files.data.length, 'each checkpoint file fetched once');
    const fetched = modelRequests.length;
    await page.reload();
    await page.waitForSelector('body[data-ready=true]');
    const second = await run();
    assert.deepEqual(second.tokenIds, expected);
    // Served from Cache Storage: the page asks no more of the server for the weights (requests answered by the
    // cache do not reach the network).
    const fromNetwork = modelRequests.length - fetched;
    assert.equal(fromNetwork, 0);
    assert.equal(asked, 0, 'no generation ran on the server');
  });
});
