// The web app in a real browser: Debian's Chromium, headless (WebGL through SwiftShader), driven by
// playwright-core against the server on a loopback port with the tiny checkpoint. Upload a synthetic video, ask,
// and see the streamed answer, the frames the model saw with their timestamps, the coverage curve, a 3D view
// that is not blank and moves to a frame's camera on click, and the eval reports.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { demoFrames } from '../../src/apps/demo/clip.ts';
import { writeTinySpatialMllm } from '../../src/apps/demo/tiny_model.ts';
import { loadServedModel } from '../../src/apps/serve/served_model.ts';
import { buildServer } from '../../src/apps/serve/server.ts';
import { buildReport, writeReport } from '../../src/eval/report.ts';
import { writeVideo } from '../../src/media/video.ts';
import { CHOICE_TYPES, NUMERIC_TYPES } from '../../src/vsibench.ts';
import { launchChromium } from '../support/browser.ts';
import { json, sseData } from './serve_support.ts';

/** Luminance variance of a PNG screenshot: a blank canvas is ~0. */
function variance(png: Buffer): number {
  const { data, width, height } = PNG.sync.read(png);
  let sum = 0;
  let sq = 0;
  const n = width * height;
  for (let i = 0; i < n; i++) {
    const y = 0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2];
    sum += y;
    sq += y * y;
  }
  return sq / n - (sum / n) ** 2;
}

describe('web app in Chromium', () => {
  const root = mkdtempSync(join(tmpdir(), 'serve-web-'));
  const clip = join(root, 'room.mp4');
  const CLIP = { frames: 12, fps: 4 };
  let app: FastifyInstance;
  let base: string;
  let browser: BrowserContext;
  let page: Page;
  const reportsDir = join(root, 'eval');
  let taskCount = 0;
  const errors: string[] = [];

  before(async () => {
    writeTinySpatialMllm(join(root, 'tiny'));
    await writeVideo(clip, demoFrames(CLIP.frames, 112, 84), CLIP.fps);
    // An eval report as `spatial-mllm eval` writes it, over questions of every VSI-Bench type.
    const types = [...CHOICE_TYPES, ...NUMERIC_TYPES];
    const report = buildReport({
      benchmark: 'vsibench',
      model: 'baseline:chance',
      convention: 'official',
      invalid: [],
      records: types.flatMap((t, i) =>
        [0, 1].map((k) => ({
          index: 2 * i + k,
          dataset: 'scannet',
          question_type: t,
          prediction: (CHOICE_TYPES as readonly string[]).includes(t) ? 'A' : '2',
          ground_truth: (CHOICE_TYPES as readonly string[]).includes(t) ? 'AB'[k] : String(2 + k),
          options: (CHOICE_TYPES as readonly string[]).includes(t) ? ['A. x', 'B. y'] : undefined,
        })),
      ),
    });
    taskCount = Object.keys(report.vsibench!.tasks).length;
    mkdirSync(join(reportsDir, 'run1'), { recursive: true });
    writeReport(join(reportsDir, 'run1'), report);
    app = await buildServer({
      models: [loadServedModel(join(root, 'tiny'), { cacheDir: join(root, 'data', 'geometry') })],
      dataDir: join(root, 'data'),
      reportsDir,
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium(join(root, 'profile'));
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  test('upload, ask, see the answer, the frames, the coverage and a non-blank 3D view; click flies', async () => {
    await page.goto(base);
    await page.waitForSelector('body[data-ready=true]');
    await page.setInputFiles('[data-testid=upload]', clip);
    await page.waitForFunction("document.getElementById('videos').value !== ''");
    await page.fill('[data-testid=question]', 'How many chairs are in the room?');
    await page.fill('#frames', '4');
    await page.fill('#maxTokens', '6');
    await page.selectOption('[data-testid=sampling]', 'space-aware');
    const view = page.locator('[data-testid=view]');
    const blank = variance(await view.screenshot());
    const streamed = page.waitForResponse((r) => r.url().endsWith('/v1/chat/completions'));
    await page.click('[data-testid=ask]');
    await page.waitForSelector('body[data-space=ready]', { timeout: 240_000 });

    // The answer shown is the streamed content; its frames, timestamps and coverage are the API's.
    const events = sseData(await (await streamed).text());
    assert.equal(events[events.length - 1], '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    const spatial = chunks[chunks.length - 1].spatial;
    assert.equal(await page.textContent('[data-testid=answer]'), content);
    assert.equal(await page.getAttribute('[data-testid=answer]', 'data-answer-id'), spatial.answer_id);
    const captions = await page.locator('[data-testid=frames] figcaption').allTextContents();
    assert.deepEqual(
      captions,
      spatial.frames.map(
        (f: { index: number; timestamp: number }) => `#${f.index} · ${f.timestamp.toFixed(2)} s`,
      ),
    );
    assert.ok(captions.length >= 1 && captions.length <= 4);
    for (const [i, f] of spatial.frames.entries())
      assert.equal(f.timestamp, f.index / CLIP.fps, `frame ${i} timestamp`);
    const loaded = await page.$$eval('[data-testid=frames] img', (imgs) =>
      imgs.map((i) => (i as any).complete && (i as any).naturalWidth > 0),
    );
    assert.ok(loaded.every(Boolean), 'every frame image loaded');
    const points = await page.getAttribute('[data-testid=coverage] polyline', 'points');
    assert.equal(points?.trim().split(/\s+/).length, spatial.coverage.gains.length + 1);

    // WebGL drew the point cloud: the canvas is far from uniform, and changes when we fly to a camera.
    await page.waitForTimeout(500);
    const before = await view.screenshot();
    const drawn = variance(before);
    assert.ok(drawn > blank + 20, `canvas variance ${drawn.toFixed(1)} vs blank ${blank.toFixed(1)}`);
    await page.locator('[data-testid=frames] figure').last().click();
    await page.waitForTimeout(1500);
    const afterFly = await view.screenshot();
    assert.ok(!before.equals(afterFly), 'the view moved to the camera');
    assert.equal(await page.locator('[data-testid=frames] figure.active').count(), 1);

    // The eval report: one table row per task (plus the header) and a bar per task.
    assert.equal(await page.locator('[data-testid=report] tr').count(), taskCount + 1);
    assert.equal(await page.locator('[data-testid=report] rect.bar').count(), taskCount);
    assert.deepEqual(errors, []);
  });

  test('"run the model in this tab": the browser decodes the video and answers with no server generation', async () => {
    const before = await json(await fetch(`${base}/health`));
    const chats: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/v1/chat/completions')) chats.push(r.url());
    });
    await page.check('[data-testid=in-tab]');
    await page.fill('#frames', '4');
    await page.fill('#maxTokens', '4');
    await page.click('[data-testid=ask]');
    await page.waitForFunction(
      "/answered in this tab/.test(document.getElementById('status').textContent)",
      null,
      {
        timeout: 240_000,
      },
    );
    const tokens = (await page.getAttribute('[data-testid=answer]', 'data-tokens')) ?? '';
    const n = tokens.split(',').filter(Boolean).length;
    assert.ok(n >= 1 && n <= 4, tokens);
    assert.equal(await page.locator('[data-testid=frames] figure').count(), 4);
    assert.deepEqual(chats, [], 'no chat completion was requested');
    assert.deepEqual((await json(await fetch(`${base}/health`))).models, before.models);
    assert.deepEqual(errors, []);
  });
});
