// Takes the README's screenshot of the web app: a synthetic room (the demo's renderer), the demo's tiny checkpoint,
// the server on a loopback port, Debian's Chromium asking a question with space-aware sampling, a VSI-Bench report
// of the chance baseline on the room's questions. Writes docs/images/web_app.png.
// Usage: node --import tsx scripts/web_screenshot.ts [out.png]
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinySpatialMllm } from '../src/apps/demo/tiny_model.ts';
import { loadServedModel } from '../src/apps/serve/served_model.ts';
import { buildServer } from '../src/apps/serve/server.ts';
import { synthesize } from '../src/data/synth/cli.ts';
import { SYNTH_DATASET } from '../src/data/synth/world.ts';
import { buildReport, writeReport } from '../src/eval/report.ts';
import { launchChromium } from '../test/support/browser.ts';

const out = process.argv[2] ?? 'docs/images/web_app.png';
const dir = mkdtempSync(join(tmpdir(), 'web-shot-'));
try {
  const { questions } = await synthesize({
    scenes: 1,
    out: join(dir, 'room'),
    seed: 3,
    frames: 24,
    fps: 6,
    width: 224,
    height: 168,
    log: () => {},
  });
  const video = join(dir, 'room', SYNTH_DATASET, `${questions[0].scene_name}.mp4`);
  // The chance baseline's report on the room's questions, as `spatial-mllm eval` would write it.
  const report = buildReport({
    benchmark: 'vsibench',
    model: 'baseline:chance (synthetic room)',
    convention: 'official',
    invalid: [],
    records: questions.map((q, index) => ({
      index,
      question_type: q.question_type,
      prediction: q.options ? 'A' : '1',
      ground_truth: String(q.ground_truth),
      options: q.options ?? undefined,
      dataset: SYNTH_DATASET,
    })),
  });
  mkdirSync(join(dir, 'eval', 'chance'), { recursive: true });
  writeReport(join(dir, 'eval', 'chance'), report);
  writeTinySpatialMllm(join(dir, 'tiny-random'));
  const app = await buildServer({
    models: [loadServedModel(join(dir, 'tiny-random'), { cacheDir: join(dir, 'data', 'geometry') })],
    dataDir: join(dir, 'data'),
    reportsDir: join(dir, 'eval'),
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const browser = await launchChromium(join(dir, 'profile'), { width: 1400, height: 1250 });
  try {
    const page = await browser.newPage();
    await page.goto(base);
    await page.waitForSelector('body[data-ready=true]');
    await page.setInputFiles('[data-testid=upload]', video);
    await page.waitForFunction("document.getElementById('videos').value !== ''");
    const q = questions.find((x) => x.question_type === 'object_counting') ?? questions[0];
    await page.fill('[data-testid=question]', q.question);
    await page.fill('#frames', '8');
    await page.fill('#maxTokens', '12');
    await page.click('[data-testid=ask]');
    await page.waitForSelector('body[data-space=ready]', { timeout: 600_000 });
    await page.waitForTimeout(1500);
    mkdirSync(join(out, '..'), { recursive: true });
    await page.screenshot({ path: out, fullPage: true });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
    await app.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
