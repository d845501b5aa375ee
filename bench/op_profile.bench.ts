// Where an encoder's time goes, per weight format (a script, not a test): the Qwen2.5-VL ViT (16 frames of 644×476
// = grid 8×34×46) or the VGGT aggregator (16 frames of 518×392) at the real width and reduced depths, random
// weights, each (format, depth) one run with ONNX Runtime's profiler on. Prints, per format, the kernel time per op
// type (after ONNX Runtime's own fusions) at the deepest depth, then one table of wall / CPU seconds per depth with
// the extrapolation to the real depth and the ratio to fp32 (CPU seconds: less sensitive to other load).
// Depths: ViT depth B = B−1 window blocks + 1 full-attention block (0 = patch embedding + merger alone), so with
// depths 0,1,2: fixed = d0, full block = d1 − d0, window block = d2 − d1, real = fixed + 28 window + 4 full.
// VGGT depth D = D DINOv2 blocks + D frame/global pairs: unit = (d_max − d_min)/(max − min), real = d_min +
// (24 − min) · unit, or with one depth D: d_D · 24/D (the patch projection is the rest). Weights are random, so only the timing means anything (bench:vggt / bench:qwen give cosines).
// Usage: npm run bench:profile -- --model vit|vggt [--formats fp32,w8a8] [--depths 0,1,2] [--frames 16]
//        [--lowering fused|primitive]
// Formats: fp32; int8 / int4 = MatMulNBits block 32 at accuracy level 4; w8a8 = int8 weights per output channel,
// int8 activations per token; w8a8-tensor = the same with one activation scale per tensor.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as E from '../src/engine/index.ts';
import { FP32, type LinearFormat, W8A8 } from '../src/models/layers.ts';
import { parseQwen25VLConfig, QWEN2_5_VL_3B_CONFIG } from '../src/models/qwen2_5_vl/config.ts';
import { buildVisionEncoder } from '../src/models/qwen2_5_vl/vision_encoder.ts';
import { defaultVggtConfig } from '../src/models/vggt/config.ts';
import { buildAggregatorGraph } from '../src/models/vggt/model.ts';
import { ortVersion, Session } from '../src/runtime/session.ts';
import type { HostTensor } from '../src/tensor.ts';
import { quantizedSource } from '../src/weights/quantized_source.ts';
import { randomTensor, randomWeights } from './support/random_weights.ts';
import { markdownTable } from './support/table.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'vit' },
    formats: { type: 'string', default: 'fp32,w8a8' },
    depths: { type: 'string', default: '0,1,2' },
    frames: { type: 'string', default: '16' },
    lowering: { type: 'string', default: 'fused' },
  },
});
const model = a.model as 'vit' | 'vggt';
if (model !== 'vit' && model !== 'vggt') throw new Error('--model: vit or vggt');
const depths = a.depths!.split(',').map(Number);
const frames = Number(a.frames);
const nbits = (bits: 4 | 8): LinearFormat => ({
  dtype: 'float32',
  quant: { bits, blockSize: 32, accuracyLevel: 4 },
});
const FORMATS: Record<string, LinearFormat> = {
  fp32: FP32,
  int8: nbits(8),
  int4: nbits(4),
  w8a8: W8A8,
  'w8a8-tensor': { dtype: 'float32', w8a8: 'tensor' },
};
const formats = a.formats!.split(',');
for (const f of formats)
  if (!FORMATS[f]) throw new Error(`--formats: one of ${Object.keys(FORMATS).join(', ')}`);

const VIT = parseQwen25VLConfig(
  structuredClone(QWEN2_5_VL_3B_CONFIG) as unknown as Record<string, unknown>,
).vision;
const VIT_GRID: [number, number, number] = [frames / VIT.temporalPatchSize, 34, 46];
const REAL = model === 'vit' ? VIT.depth : defaultVggtConfig().aggregator.depth;

/** The graph and its feeds at a depth, for a format. */
function build(f: LinearFormat, depth: number): { graph: E.Graph; feeds: Record<string, HostTensor> } {
  if (model === 'vit') {
    const vision = { ...VIT, depth, fullAttBlockIndexes: depth ? [depth - 1] : [] };
    const graph = buildVisionEncoder(vision, VIT_GRID, { format: f });
    const patchDim = VIT.inChannels * VIT.temporalPatchSize * VIT.patchSize ** 2;
    const rows = VIT_GRID[0] * VIT_GRID[1] * VIT_GRID[2];
    return { graph, feeds: { pixel_values: randomTensor('float32', [rows, patchDim], 7, 1) } };
  }
  const c = defaultVggtConfig();
  c.aggregator.depth = depth;
  c.aggregator.patchEmbed.depth = depth;
  c.heads = { camera: false, depth: false, point: false };
  const graph = buildAggregatorGraph(c, [392, 518], [depth - 1], false, f);
  const images = randomTensor('float32', [1, frames, 3, 392, 518], 7, 0.25);
  (images.data as Float32Array).forEach((v, i, d) => {
    d[i] = v + 0.5;
  });
  return { graph, feeds: { images } };
}

interface TraceEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

interface Measured {
  wall: number;
  cpu: number;
  kernels: TraceEvent[];
}

/** One profiled run of a format at a depth. */
async function measure(format: string, depth: number): Promise<Measured> {
  const f = FORMATS[format];
  const { graph, feeds } = build(f, depth);
  const random = randomWeights(build(FP32, depth).graph);
  const weights = f.quant || f.w8a8 ? quantizedSource(random, f.quant) : random;
  const dir = mkdtempSync(join(tmpdir(), 'op-profile-'));
  try {
    const staged = E.sessionModel(graph, { weights, lowering: a.lowering as E.Lowering, tempDir: dir });
    const session = await Session.create(staged.model, { profilePrefix: join(dir, 'profile') });
    staged.cleanup();
    const [t0, cpu0] = [performance.now(), process.cpuUsage()];
    await session.run(feeds);
    const cpu = process.cpuUsage(cpu0);
    const wall = (performance.now() - t0) / 1e3;
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((name) => name.startsWith('profile'))!;
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as TraceEvent[];
    const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    console.error(
      `${format} depth ${depth}: wall ${wall.toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, load ${loadavg()[0].toFixed(2)}`,
    );
    return { wall, cpu: (cpu.user + cpu.system) / 1e6, kernels };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function opTable(kernels: TraceEvent[]): string {
  const byOp = new Map<string, { us: number; count: number }>();
  for (const e of kernels) {
    const op = e.args?.op_name ?? '?';
    const s = byOp.get(op) ?? { us: 0, count: 0 };
    s.us += e.dur;
    s.count++;
    byOp.set(op, s);
  }
  const total = kernels.reduce((s, e) => s + e.dur, 0);
  const rows = [...byOp]
    .sort((x, y) => y[1].us - x[1].us)
    .filter(([, s]) => s.us >= total * 0.002)
    .map(([op, s]) => [
      op,
      String(s.count),
      (s.us / 1e6).toFixed(2),
      `${((100 * s.us) / total).toFixed(1)}%`,
    ]);
  return markdownTable(['op', 'nodes', 'kernel s', 'share'], rows);
}

/** Seconds at the real depth from the measured depths (see the header); undefined if they do not allow it. */
function extrapolate(at: Map<number, number>): number | undefined {
  if (model === 'vit') {
    const [d0, d1, d2] = [0, 1, 2].map((d) => at.get(d));
    if (d0 === undefined || d1 === undefined || d2 === undefined) return undefined;
    const full = VIT.fullAttBlockIndexes.length;
    return d0 + (VIT.depth - full) * (d2 - d1) + full * (d1 - d0);
  }
  const ds = [...at.keys()].sort((x, y) => x - y);
  if (ds.length === 1) return (at.get(ds[0])! * REAL) / ds[0]; // the per-unit work is all but the whole of it
  const [lo, hi] = [ds[0], ds[ds.length - 1]];
  return at.get(lo)! + ((REAL - lo) * (at.get(hi)! - at.get(lo)!)) / (hi - lo);
}

async function main(): Promise<void> {
  const load0 = loadavg()[0];
  const results = new Map<string, Map<number, Measured>>();
  for (const format of formats) {
    const byDepth = new Map<number, Measured>();
    for (const depth of depths) byDepth.set(depth, await measure(format, depth));
    results.set(format, byDepth);
  }
  const what =
    model === 'vit'
      ? `Qwen2.5-VL ViT, ${frames} frames 644×476 (grid ${VIT_GRID.join('×')})`
      : `VGGT aggregator, ${frames} frames 518×392`;
  console.log(
    `${what}, real width, random weights, ${a.lowering} lowering; ONNX Runtime ${ortVersion()} CPU, ` +
      `${cpus().length} cores; load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`,
  );
  const deepest = Math.max(...depths);
  for (const format of formats) {
    console.log(`\n${format}, depth ${deepest}: kernel time per op type`);
    console.log(opTable(results.get(format)!.get(deepest)!.kernels));
  }
  const real = (format: string, key: 'wall' | 'cpu') =>
    extrapolate(new Map([...results.get(format)!].map(([d, m]) => [d, m[key]])));
  const fp32Cpu = results.has('fp32') ? real('fp32', 'cpu') : undefined;
  const rows = formats.flatMap((format) => [
    ...depths.map((d) => {
      const m = results.get(format)!.get(d)!;
      return [format, String(d), m.wall.toFixed(1), m.cpu.toFixed(1), ''];
    }),
    [
      format,
      `${REAL} (extrapolated)`,
      real(format, 'wall')?.toFixed(0) ?? '—',
      real(format, 'cpu')?.toFixed(0) ?? '—',
      fp32Cpu === undefined ? '—' : (fp32Cpu / real(format, 'cpu')!).toFixed(2),
    ],
  ]);
  console.log(`\n${markdownTable(['format', 'depth', 'wall s', 'CPU s', 'fp32 CPU s / this'], rows)}`);
}

await main();
