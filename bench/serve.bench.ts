// Load on `spatial-mllm serve` (a script, not a test): the server runs in its own process with the demo's tiny
// checkpoint (one generation at a time, a waiting room of --queue requests) and this script sends bursts of
// concurrent chat completions from loopback. Per scenario: answers, clear 429 refusals (OpenAI error body and a
// Retry-After header), anything else (must be 0), latency percentiles of the answered requests, the server's peak
// RSS (VmHWM) and whether it is still up. Baseline in the same run: the same requests one after the other.
// Usage: npm run bench:serve [-- --requests 32] [-- --queue 4]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoFrames } from '../src/apps/demo/clip.ts';
import { writeTinySpatialMllm } from '../src/apps/demo/tiny_model.ts';
import { writeVideo } from '../src/media/video.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const REQUESTS = arg('requests', 32);
const QUEUE = arg('queue', 4);
const repo = fileURLToPath(new URL('..', import.meta.url));

interface Outcome {
  status: number;
  ms: number;
  clear: boolean;
}

function startServer(model: string, data: string): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/apps/cli.ts',
      'serve',
      '--model',
      model,
      '--data',
      data,
      '--port',
      '0',
      '--queue',
      String(QUEUE),
    ],
    { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env } },
  );
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      err += s;
      const m = / at (http:\/\/[\d.:]+)/.exec(err);
      if (m) resolve({ child, base: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  }).then((r) => r as { child: ChildProcess; base: string });
}

/** Peak resident set of a process so far (Linux VmHWM), MiB. */
const peakRss = (pid: number) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function ask(base: string, fileId: string, model: string): Promise<Outcome> {
  const t0 = performance.now();
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      max_tokens: 8,
      temperature: 0,
      frames: 4,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'video_url', video_url: { url: fileId } },
            { type: 'text', text: 'How many chairs?' },
          ],
        },
      ],
    }),
  });
  const body = (await r.json()) as { choices?: unknown[]; error?: { message?: string; type?: string } };
  const ms = performance.now() - t0;
  const clear =
    r.status === 200
      ? Array.isArray(body.choices)
      : r.status === 429 &&
        body.error?.type === 'rate_limit_error' &&
        Number(r.headers.get('retry-after')) >= 1;
  return { status: r.status, ms, clear };
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-serve-'));
  const model = join(dir, 'tiny');
  writeTinySpatialMllm(model);
  const clip = join(dir, 'clip.mp4');
  await writeVideo(clip, demoFrames(16, 224, 168), 8);
  const { child, base } = await startServer(model, join(dir, 'data'));
  try {
    const form = new FormData();
    form.append('file', new Blob([readFileSync(clip)]), 'clip.mp4');
    const file = (await (await fetch(`${base}/v1/files`, { method: 'POST', body: form })).json()) as {
      id: string;
    };
    // Warm-up: the first answer builds the sessions.
    await ask(base, file.id, 'tiny');
    const rows: string[][] = [];
    const run = async (name: string, outcomes: Promise<Outcome>[] | (() => Promise<Outcome[]>)) => {
      const t0 = performance.now();
      const all = Array.isArray(outcomes) ? await Promise.all(outcomes) : await outcomes();
      const wall = (performance.now() - t0) / 1000;
      const ok = all.filter((o) => o.status === 200);
      const refused = all.filter((o) => o.status === 429 && o.clear);
      const other = all.length - ok.length - refused.length;
      const ms = ok.map((o) => o.ms);
      rows.push([
        name,
        String(all.length),
        String(ok.length),
        String(refused.length),
        String(other),
        ...[50, 90, 99, 100].map((p) => pct(ms, p).toFixed(0)),
        (ok.length / wall).toFixed(2),
        peakRss(child.pid!).toFixed(0),
        child.exitCode === null ? 'up' : `exited ${child.exitCode}`,
      ]);
    };
    await run('baseline: one at a time', async () => {
      const out: Outcome[] = [];
      for (let i = 0; i < Math.min(REQUESTS, 8); i++) out.push(await ask(base, file.id, 'tiny'));
      return out;
    });
    await run(
      `burst of ${REQUESTS} at once`,
      Array.from({ length: REQUESTS }, () => ask(base, file.id, 'tiny')),
    );
    await run(`burst of ${REQUESTS}, clients retry after 429`, () =>
      Promise.all(
        Array.from({ length: REQUESTS }, async () => {
          const t0 = performance.now();
          for (;;) {
            const o = await ask(base, file.id, 'tiny');
            if (o.status !== 429) return { ...o, ms: performance.now() - t0 };
            await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
          }
        }),
      ),
    );
    const head = [
      'scenario',
      'requests',
      '200',
      '429',
      'other',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      'answers/s',
      'server peak RSS MiB',
      'server',
    ];
    console.log(
      `spatial-mllm serve, tiny checkpoint (uniform, 4 frames of 224×168, 8 new tokens); --concurrency 1 --queue ${QUEUE}; ${cpus().length} cores, load ${loadavg()[0].toFixed(1)}`,
    );
    console.log(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    const bad = rows.filter((r) => r[4] !== '0' || r[11] !== 'up');
    if (bad.length) {
      console.error('FAIL: some requests got neither an answer nor a clear 429, or the server died');
      process.exitCode = 1;
    }
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
