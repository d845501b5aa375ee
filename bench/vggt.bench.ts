// VGGT-1B benchmark (a script, not a test): random fp32 weights at the real 1B sizes, generated in memory as the
// graphs are serialized (with external data: the aggregator alone is ~3.6 GB), run on ONNX Runtime CPU for 4, 8
// and 16 frames of 518×392. Two modes, each in its own child process so their RSS high-water marks do not mix:
// the aggregator alone (what Spatial-MLLM uses) and the full model (aggregator + camera head + depth and point
// DPT heads, the DPT in chunks of 8 frames). Each child first runs 1 frame to create its sessions (reported as
// setup), then the frame counts in increasing order; the peak RSS after a run is therefore that run's.
// A run that does not finish within the time limit is reported with an extrapolation from the smaller runs
// (time = a·S + b·S²: per-frame work plus global attention, quadratic in the token count).
// Formats (each mode × format its own child): fp32, and the aggregator's linear layers as MatMulNBits block 32 at
// accuracy level 4 (int8 activations): int8, int4, or W8A8 (int8 weights per output channel, int8 activations per
// token: engine/matmul_int8.ts) (the heads stay fp32). Each quantized run's output (the last
// aggregator layer; world points in full mode) is compared with fp32's on the same images: cosine column.
// --depth D builds D aggregator units (D DINOv2 blocks + D frame/global pairs) instead of 24, for when memory or
// time demands; the table then also gives the time scaled to 24 units (× 24/D: the per-unit work is all but the
// whole of it — the patch projection and the heads are the rest).
// Usage: node --import tsx bench/vggt.bench.ts [--frames 4,8,16] [--size 518x392] [--limit 600]
//        [--modes aggregator,full] [--formats fp32,int8,int4] [--depth 24]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Graph, WeightSource } from '../src/engine/index.ts';
import { FP32, type LinearFormat, W8A8 } from '../src/models/layers.ts';
import { defaultVggtConfig, type VggtConfig } from '../src/models/vggt/config.ts';
import {
  buildAggregatorGraph,
  buildCameraHeadGraph,
  buildDptGraph,
  type ImageSize,
  VggtModel,
} from '../src/models/vggt/model.ts';
import { ortVersion } from '../src/runtime/session.ts';
import { type HostTensor, numel, tensor, toFloat32 } from '../src/tensor.ts';
import { quantizedSource } from '../src/weights/quantized_source.ts';
import { cosine } from './support/compare.ts';

type Mode = 'aggregator' | 'full';
type Format = 'fp32' | 'int8' | 'int4' | 'w8a8';
const FORMATS: Record<Format, LinearFormat> = {
  fp32: FP32,
  int8: { dtype: 'float32', quant: { bits: 8, blockSize: 32, accuracyLevel: 4 } },
  int4: { dtype: 'float32', quant: { bits: 4, blockSize: 32, accuracyLevel: 4 } },
  w8a8: W8A8,
};

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const frameCounts = arg('frames', '4,8,16').split(',').map(Number);
const size = arg('size', '518x392').split('x').map(Number).reverse() as ImageSize; // W×H → [H, W]
const limitS = Number(arg('limit', '600'));
const modes = arg('modes', 'aggregator,full').split(',') as Mode[];
const formats = arg('formats', 'fp32,int8,int4').split(',') as Format[];
const DEPTH = Number(arg('depth', '24'));
const REAL_DEPTH = 24;
/** Where each mode's fp32 child leaves its outputs for the quantized children (one file per frame count). */
const refDir = arg('ref-dir', '');

/** Deterministic uniform values in [−scale, scale) from a name-derived seed (xorshift32). */
function uniform(n: number, scale: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed | 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}

const hash = (s: string) => [...s].reduce((h, ch) => Math.imul(h ^ ch.charCodeAt(0), 16777619), 2166136261);

/** Plausible random weights by role: fan-in scaled matrices and kernels, unit norms, small LayerScale/tokens. */
function randomWeights(shapes: Map<string, number[]>): WeightSource {
  return {
    read(name: string): HostTensor {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`no parameter ${name}`);
      const n = numel(shape);
      const fill = (v: number) => tensor('float32', shape, new Float32Array(n).fill(v));
      if (/norm[^.]*\.weight$/.test(name)) return fill(1);
      if (name.endsWith('.bias')) return fill(0);
      if (name.endsWith('.gamma')) return fill(0.1);
      const fanIn = shape.length >= 2 ? numel(shape.slice(1)) : 1;
      const scale = shape.length >= 2 && !/token|pos_embed/.test(name) ? Math.sqrt(3 / fanIn) : 0.02;
      return tensor('float32', shape, uniform(n, scale, hash(name)));
    },
  };
}

function paramShapes(graphs: Graph[]): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const g of graphs) for (const [name, t] of g.params) shapes.set(name, t.shape as number[]);
  return shapes;
}

const rssGB = () => process.resourceUsage().maxRSS / 1024 ** 2;

/** fp32 writes its output for `frames`; a quantized format returns its cosine against it. */
function compareWithFp32(format: Format, mode: Mode, frames: number, out: Float32Array): number | undefined {
  const file = join(refDir, `${mode}-${frames}.f32`);
  if (format === 'fp32') {
    writeFileSync(file, out);
    return undefined;
  }
  if (!existsSync(file)) return undefined;
  const ref = readFileSync(file);
  return cosine(out, new Float32Array(ref.buffer, ref.byteOffset, ref.byteLength / 4));
}

async function child(mode: Mode, format: Format): Promise<void> {
  const c: VggtConfig = defaultVggtConfig();
  if (DEPTH !== REAL_DEPTH) {
    c.aggregator.depth = DEPTH;
    c.aggregator.patchEmbed.depth = DEPTH;
    c.dpt.layers = c.dpt.layers.map((l) => Math.floor((l * DEPTH) / REAL_DEPTH)) as typeof c.dpt.layers;
  }
  if (mode === 'aggregator') c.heads = { camera: false, depth: false, point: false };
  const last = c.aggregator.depth - 1;
  const graphs = [buildAggregatorGraph(c, size, [...c.dpt.layers, last])];
  if (mode === 'full') graphs.push(buildCameraHeadGraph(c), buildDptGraph(c, size, ['depth', 'point']));
  const shapes = paramShapes(graphs);
  const params = [...shapes.values()].reduce((s, sh) => s + numel(sh), 0);
  const f = FORMATS[format];
  const random = randomWeights(shapes);
  const model = new VggtModel(c, f.quant || f.w8a8 ? quantizedSource(random, f.quant) : random, {
    format: f,
  });
  const images = (frames: number) =>
    tensor(
      'float32',
      [1, frames, 3, ...size],
      uniform(frames * 3 * size[0] * size[1], 0.5, frames).map((v) => v + 0.5),
    );
  const run = async (frames: number): Promise<Float32Array> => {
    if (mode === 'full') return toFloat32((await model.predict(images(frames))).worldPoints!);
    return toFloat32((await model.aggregate(images(frames))).layers.get(last)!);
  };

  const measure = async (frames: number, extra: { setup?: boolean; frames?: number }) => {
    const [t0, cpu0] = [performance.now(), process.cpuUsage()];
    const out = await run(frames);
    const cpu = process.cpuUsage(cpu0);
    const row = { mode, format, params, ...extra, seconds: (performance.now() - t0) / 1000 };
    const cos = extra.setup ? undefined : compareWithFp32(format, mode, frames, out);
    console.log(
      JSON.stringify({ ...row, cpuSeconds: (cpu.user + cpu.system) / 1e6, rss: rssGB(), cosine: cos }),
    );
  };
  await measure(1, { setup: true });
  for (const frames of frameCounts) await measure(frames, { frames });
  await model.release();
}

interface Row {
  frames?: number;
  setup?: boolean;
  seconds: number;
  /** Process CPU time (all threads): less sensitive than wall time to other work on the machine. */
  cpuSeconds: number;
  rss: number;
  params: number;
  /** Against fp32 on the same images (quantized formats). */
  cosine?: number;
}

/** Runs one mode in a child process; returns its rows and whether it hit the time limit. */
function runMode(mode: Mode, format: Format): Promise<{ rows: Row[]; timedOut: boolean }> {
  return new Promise((resolve) => {
    const rows: Row[] = [];
    const args = [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--child',
      mode,
      format,
      ...process.argv.slice(2),
    ];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let timedOut = false;
    // The limit applies to the benchmarked runs; setup (weights + session creation) gets its own allowance.
    let timer = setTimeout(() => kill(), 2 * limitS * 1000);
    const kill = () => {
      timedOut = true;
      p.kill('SIGKILL');
    };
    let buffer = '';
    p.stdout.on('data', (chunk) => {
      buffer += chunk;
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        const row = JSON.parse(buffer.slice(0, i)) as Row;
        buffer = buffer.slice(i + 1);
        rows.push(row);
        process.stderr.write(
          `${mode} ${format}: ${row.setup ? 'setup (1 frame)' : `${row.frames} frames`} ${row.seconds.toFixed(1)} s, ` +
            `CPU ${row.cpuSeconds.toFixed(1)} s, peak RSS ${row.rss.toFixed(2)} GB, load ${loadavg()[0].toFixed(2)}\n`,
        );
        clearTimeout(timer);
        timer = setTimeout(kill, limitS * 1000);
      }
    });
    p.on('exit', () => {
      clearTimeout(timer);
      resolve({ rows, timedOut });
    });
  });
}

/** Least-squares fit of t = a·S + b·S² through the measured runs (wall or CPU seconds), evaluated at S. */
function extrapolate(rows: Row[], frames: number, key: 'seconds' | 'cpuSeconds'): number | undefined {
  const pts = rows.filter((r) => r.frames).map((r) => [r.frames!, r[key]]);
  if (pts.length < 2) return undefined;
  let [s11, s12, s22, y1, y2] = [0, 0, 0, 0, 0];
  for (const [s, t] of pts) {
    s11 += s * s;
    s12 += s ** 3;
    s22 += s ** 4;
    y1 += s * t;
    y2 += s * s * t;
  }
  const det = s11 * s22 - s12 * s12;
  const a = (y1 * s22 - y2 * s12) / det;
  const b = (s11 * y2 - s12 * y1) / det;
  return a * frames + b * frames * frames;
}

const cell = (v: number | undefined, digits = 1) => (v === undefined ? '—' : v.toFixed(digits));

async function main(): Promise<void> {
  const modeArg = process.argv.indexOf('--child');
  if (modeArg >= 0) return child(process.argv[modeArg + 1] as Mode, process.argv[modeArg + 2] as Format);

  const load = () => loadavg()[0].toFixed(2);
  const reduced = DEPTH !== REAL_DEPTH;
  console.log(
    `VGGT-1B, random weights, ${size[1]}×${size[0]} frames, ${reduced ? `REDUCED DEPTH ${DEPTH} of 24 units` : 'full depth'}, ` +
      `ONNX Runtime ${ortVersion()} CPU, ${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(0)} GB RAM; ` +
      `load average at start ${load()}`,
  );
  const scaled = (v: number | undefined) =>
    reduced && v !== undefined ? ` | ≈${cell((v * REAL_DEPTH) / DEPTH, 0)}` : '';
  const table = [
    `| mode | format | frames | wall s | wall s/frame | CPU s | CPU s/frame | peak RSS GB | cosine vs fp32 |${reduced ? ' wall s × 24/D |' : ''}`,
    `|---|---|---|---|---|---|---|---|---|${reduced ? '---|' : ''}`,
  ];
  const dir = mkdtempSync(join(tmpdir(), 'vggt-bench-ref-'));
  process.argv.push('--ref-dir', dir);
  try {
    for (const mode of modes)
      for (const format of [...formats].sort((a, b) => Number(b === 'fp32') - Number(a === 'fp32'))) {
        const { rows, timedOut } = await runMode(mode, format);
        if (rows[0])
          console.log(
            `${mode} ${format}: ${(rows[0].params / 1e9).toFixed(3)} B parameters; load average now ${load()}`,
          );
        const setup = rows.find((r) => r.setup);
        if (setup)
          table.push(
            `| ${mode} | ${format} | setup (weights, sessions, 1 frame) | ${cell(setup.seconds)} | | ${cell(setup.cpuSeconds)} | | ${cell(setup.rss)} | |${reduced ? ' |' : ''}`,
          );
        const cos = (r: Row) =>
          format === 'fp32' ? '1 (reference)' : r.cosine === undefined ? '—' : r.cosine.toFixed(6);
        for (const frames of frameCounts) {
          const r = rows.find((x) => x.frames === frames);
          if (r) {
            table.push(
              `| ${mode} | ${format} | ${frames} | ${cell(r.seconds)} | ${cell(r.seconds / frames)} | ${cell(r.cpuSeconds)} | ` +
                `${cell(r.cpuSeconds / frames)} | ${cell(r.rss)} | ${cos(r)}${scaled(r.seconds)} |`,
            );
            continue;
          }
          const [wall, cpu] = [extrapolate(rows, frames, 'seconds'), extrapolate(rows, frames, 'cpuSeconds')];
          const why = timedOut ? `over the ${limitS} s limit, extrapolated` : 'did not run, extrapolated';
          table.push(
            `| ${mode} | ${format} | ${frames} (${why}) | ≈${cell(wall, 0)} | ≈${cell(wall && wall / frames)} | ≈${cell(cpu, 0)} | ` +
              `≈${cell(cpu && cpu / frames)} | — | —${scaled(wall)} |`,
          );
        }
      }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(table.join('\n'));
}

await main();
