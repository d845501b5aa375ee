// Where an encoder's time goes (a script, not a test): the Qwen2.5-VL ViT (16 frames of 644×476 = grid 8×34×46)
// or the VGGT aggregator (16 frames of 518×392) at the real width and a reduced depth, random weights, one run with
// ONNX Runtime's profiler on; prints the kernel time per op type (after ONNX Runtime's own fusions) and the
// slowest nodes. ViT depth B = B−1 window blocks + 1 full-attention block; VGGT depth D = D DINOv2 blocks + D
// frame/global pairs. Weights are random, so only the timing means anything.
// Usage: npm run bench:profile -- --model vit|vggt [--format fp32|int8|int4|w8a8|w8a8-tensor] [--depth 2] [--frames 16]
//        [--lowering fused|primitive] [--runs 1]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as E from '../src/engine/index.ts';
import { FP32, type LinearFormat } from '../src/models/layers.ts';
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
    format: { type: 'string', default: 'fp32' },
    depth: { type: 'string', default: '2' },
    frames: { type: 'string', default: '16' },
    lowering: { type: 'string', default: 'fused' },
    runs: { type: 'string', default: '1' },
  },
});
const depth = Number(a.depth);
const frames = Number(a.frames);
const nbits = (bits: 4 | 8): LinearFormat => ({
  dtype: 'float32',
  quant: { bits, blockSize: 32, accuracyLevel: 4 },
});
const FORMATS: Record<string, LinearFormat> = {
  fp32: FP32,
  int8: nbits(8),
  int4: nbits(4),
  w8a8: { dtype: 'float32', w8a8: 'token' },
  'w8a8-tensor': { dtype: 'float32', w8a8: 'tensor' },
};
const format = FORMATS[a.format!];
if (!format) throw new Error(`--format: one of ${Object.keys(FORMATS).join(', ')}`);

/** The graph and its feeds for a format. */
function build(f: LinearFormat): { graph: E.Graph; feeds: Record<string, HostTensor> } {
  if (a.model === 'vit') {
    const c = parseQwen25VLConfig(
      structuredClone(QWEN2_5_VL_3B_CONFIG) as unknown as Record<string, unknown>,
    ).vision;
    const grid: [number, number, number] = [frames / c.temporalPatchSize, 34, 46];
    const vision = { ...c, depth, fullAttBlockIndexes: [depth - 1] };
    const graph = buildVisionEncoder(vision, grid, { format: f });
    const patchDim = c.inChannels * c.temporalPatchSize * c.patchSize ** 2;
    return { graph, feeds: { pixel_values: randomTensor('float32', [grid[0] * 34 * 46, patchDim], 7, 1) } };
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

async function main(): Promise<void> {
  const { graph, feeds } = build(format);
  const random = randomWeights(build(FP32).graph);
  const weights = format.quant || format.w8a8 ? quantizedSource(random, format.quant) : random;
  const dir = mkdtempSync(join(tmpdir(), 'op-profile-'));
  try {
    const staged = E.sessionModel(graph, { weights, lowering: a.lowering as E.Lowering, tempDir: dir });
    const session = await Session.create(staged.model, { profilePrefix: join(dir, 'profile') });
    staged.cleanup();
    const load0 = loadavg()[0];
    const [t0, cpu0] = [performance.now(), process.cpuUsage()];
    for (let i = 0; i < Number(a.runs); i++) await session.run(feeds);
    const cpu = process.cpuUsage(cpu0);
    const wall = (performance.now() - t0) / 1e3;
    session.endProfiling();
    await session.release();
    const file = (await import('node:fs')).readdirSync(dir).find((f) => f.startsWith('profile'));
    const events = JSON.parse(readFileSync(join(dir, file!), 'utf8')) as TraceEvent[];
    const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    const byOp = new Map<string, { us: number; count: number }>();
    for (const e of kernels) {
      const op = e.args?.op_name ?? '?';
      const s = byOp.get(op) ?? { us: 0, count: 0 };
      s.us += e.dur;
      s.count++;
      byOp.set(op, s);
    }
    const total = kernels.reduce((s, e) => s + e.dur, 0);
    console.log(
      `${a.model} ${a.format} (${a.lowering}), depth ${depth}, ${frames} frames, ${a.runs} run(s): wall ${wall.toFixed(1)} s, ` +
        `CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, kernels ${(total / 1e6).toFixed(1)} s; ONNX Runtime ` +
        `${ortVersion()}, ${cpus().length} cores, load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`,
    );
    const rows = [...byOp]
      .sort((x, y) => y[1].us - x[1].us)
      .map(([op, s]) => [
        op,
        String(s.count),
        (s.us / 1e6).toFixed(2),
        `${((100 * s.us) / total).toFixed(1)}%`,
      ]);
    console.log(markdownTable(['op', 'nodes run', 'kernel s', 'share'], rows));
    const top = [...kernels]
      .sort((x, y) => y.dur - x.dur)
      .slice(0, 12)
      .map((e) => [e.name.replace(/_kernel_time$/, ''), e.args?.op_name ?? '?', (e.dur / 1e6).toFixed(3)]);
    console.log(markdownTable(['slowest nodes', 'op', 's'], top));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
