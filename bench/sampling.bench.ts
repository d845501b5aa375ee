// Space-aware sampling's geometry plans (a script, not a test): how much of the exact plan's voxel coverage each
// cheaper plan keeps, and how long its VGGT work takes at real size on this CPU.
//
// 1. Coverage, on synthetic rooms with exact geometry (`data synth`: rendered depth + cameras per frame, 128 frames
//    of 518×392 = the exact plan's 128 candidates at VGGT's own input size, no resize). The exact plan's picks come
//    from the rooms' exact point maps (every pixel of every frame, unprojected, in frame 0's camera coordinates as
//    VGGT puts them; confidence 1 on every hit pixel). A cheaper plan's picks come from the SAME product code
//    (pipeline/frame_sampling.ts: its candidates, geometryChunks, reconstructCandidates, spaceAwareSampling) fed
//    with exact maps that went through the plan's reductions: the candidates it keeps, pixel centres sampled at its
//    lower resolution, and per VGGT call the points expressed in the call's first frame and scaled to mean distance
//    1 (VGGT's normalisation), which alignChunk must undo. Both pick sets are scored on the exact plan's voxel grid:
//    ratio = voxels covered by the plan's picks / voxels covered by the exact plan's picks.
//    What this does NOT measure: how much worse VGGT's own predictions get at a lower resolution or across chunks
//    (that needs the real weights; exact geometry makes those reductions lossless apart from sampling).
// 2. Time, with random VGGT-1B weights at real size (aggregator + point head, float32; `--vggt-format int8` for
//    the MatMulNBits level-4 aggregator): sampleFrames on one room's video in the plan's geometry mode, in a child
//    process (its peak RSS is that run's). The exact plan's one call over 128×1,041 tokens is not run: its time is
//    the cpu plan's aggregator time scaled by the ratio of their aggregator FLOPs. `--vggt-depth D` times a VGGT of
//    D units instead of 24 and scales the aggregator's part by 24/D (for a machine too loaded for the real depth).
// Usage: npm run bench:sampling [-- --rooms DIR] [--count 12] [--frames 16,8] [--plans cpu,uniform,64@224/16,…]
//        [--no-timing] [--timing-only] [--vggt-format fp32|int8] [--vggt-depth 24]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { synthesize } from '../src/data/synth/cli.ts';
import { SYNTH_DATASET, sceneName } from '../src/data/synth/world.ts';
import type { Graph } from '../src/engine/index.ts';
import { openVideo } from '../src/media/video.ts';
import type { LinearFormat } from '../src/models/layers.ts';
import { defaultVggtConfig } from '../src/models/vggt/config.ts';
import { confidenceMask, unprojectDepthMaps } from '../src/models/vggt/geometry.ts';
import { buildAggregatorGraph, buildDptGraph, VggtModel } from '../src/models/vggt/model.ts';
import { vggtResizeSize } from '../src/models/vggt/preprocess.ts';
import {
  CONF_PERCENTILE,
  candidateFrameIndices,
  frameVoxelSets,
  GEOMETRY_PLANS,
  type GeometryPlan,
  geometryChunks,
  MIN_CONF,
  type PointMaps,
  reconstructCandidates,
  sampleFrames,
  spaceAwareSampling,
  uniformIndices,
  voxelGrid,
} from '../src/pipeline/frame_sampling.ts';
import { ortVersion } from '../src/runtime/session.ts';
import { type HostTensor, tensor, toFloat32 } from '../src/tensor.ts';
import { quantizedSource } from '../src/weights/quantized_source.ts';
import { openSafetensors } from '../src/weights/safetensors.ts';
import { randomParam } from './support/random_weights.ts';

const { values: args } = parseArgs({
  options: {
    rooms: { type: 'string' },
    count: { type: 'string', default: '12' },
    frames: { type: 'string', default: '16,8' },
    plans: { type: 'string', default: 'cpu,uniform,32@518/128,24@294/16,64@224/16' },
    'no-timing': { type: 'boolean', default: false },
    'timing-only': { type: 'boolean', default: false },
    'vggt-format': { type: 'string', default: 'fp32' },
    'vggt-depth': { type: 'string', default: '24' },
    child: { type: 'string' },
    video: { type: 'string' },
  },
});
/** Frame counts picked (the first is the pipeline's; fewer picks tell the plans apart more). */
const KS = args.frames!.split(',').map(Number);
const SIZE = { width: 518, height: 392, frames: 128 };
const SEED = 7;
/** Aggregator units of the timed VGGT (24 = VGGT-1B; fewer when the machine is too loaded for the real depth). */
const VGGT_DEPTH = Number(args['vggt-depth']);
const load = () => loadavg()[0].toFixed(1);

/** `cpu` / `exact` or candidates@width/chunkFrames; `uniform` = no geometry (the baseline). */
function parsePlan(text: string): { name: string; plan?: GeometryPlan } {
  if (text === 'uniform') return { name: 'uniform (no geometry)' };
  if (text in GEOMETRY_PLANS) {
    const plan = GEOMETRY_PLANS[text as keyof typeof GEOMETRY_PLANS];
    return { name: `${text} (${plan.candidates}@${plan.width}/${plan.chunkFrames})`, plan };
  }
  const m = /^(\d+)@(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new Error(`--plans: ${text} is not cpu, exact or candidates@width/chunkFrames`);
  return { name: text, plan: { candidates: +m[1], width: +m[2], chunkFrames: +m[3] } };
}

// ---- 1. coverage on exact geometry ----

interface Room {
  name: string;
  /** Exact world points of every frame at full resolution, in frame 0's camera coordinates. */
  full: PointMaps;
}

function readRoom(dir: string, name: string): Room {
  const st = openSafetensors(join(dir, SYNTH_DATASET, `${name}.safetensors`));
  const depth = toFloat32(st.read('depth'));
  const [T, H, W] = st.info('depth').shape;
  const extrinsics = toFloat32(st.read('extrinsics'));
  const points = unprojectDepthMaps(
    depth,
    { extrinsics, intrinsics: toFloat32(st.read('intrinsics')) },
    {
      frames: T,
      height: H,
      width: W,
    },
  );
  // world → frame 0's camera: p' = R0·p + t0 (VGGT's world is its first frame's camera)
  const E0 = extrinsics.subarray(0, 12);
  for (let n = 0; n < points.length; n += 3) {
    const [x, y, z] = [points[n], points[n + 1], points[n + 2]];
    for (let i = 0; i < 3; i++)
      points[n + i] = E0[i * 4] * x + E0[i * 4 + 1] * y + E0[i * 4 + 2] * z + E0[i * 4 + 3];
  }
  const conf = depth.map((d) => (d > 0 ? 1 : 0));
  return { name, full: { frames: T, height: H, width: W, points, conf } };
}

/** The exact maps of video frames `frames` at `width`×`height` (pixel centres sampled), scaled by `scale`. */
function reduced(full: PointMaps, frames: number[], width: number, height: number, scale = 1): PointMaps {
  const { height: H, width: W } = full;
  const points = new Float32Array(frames.length * height * width * 3);
  const conf = new Float32Array(frames.length * height * width);
  // crop mode: the width fills, the height is centre-cropped when it would exceed the resized height
  const rowsScaled = (H * width) / W;
  const top = (rowsScaled - height) / 2;
  frames.forEach((f, s) => {
    for (let v = 0; v < height; v++)
      for (let u = 0; u < width; u++) {
        const x = Math.min(W - 1, Math.floor(((u + 0.5) * W) / width));
        const y = Math.min(H - 1, Math.max(0, Math.floor(((v + top + 0.5) * W) / width)));
        const src = (f * H + y) * W + x;
        const dst = (s * height + v) * width + u;
        conf[dst] = full.conf[src];
        for (let c = 0; c < 3; c++) points[dst * 3 + c] = full.points[src * 3 + c] * scale;
      }
  });
  return { frames: frames.length, height, width, points, conf };
}

/** VGGT's per-call normalisation: mean distance of the hit points to the first camera = 1. */
function normalisation(maps: PointMaps): number {
  let [sum, n] = [0, 0];
  for (let i = 0; i < maps.conf.length; i++)
    if (maps.conf[i] > 0) {
      sum += Math.hypot(maps.points[i * 3], maps.points[i * 3 + 1], maps.points[i * 3 + 2]);
      n++;
    }
  return n ? n / sum : 1;
}

/** Picks (video frame indices) of a plan on a room, through the product's chunking, alignment and sampling. */
async function planPicks(room: Room, K: number, plan?: GeometryPlan): Promise<number[]> {
  if (!plan) return uniformIndices(room.full.frames, K);
  const candidates = candidateFrameIndices(room.full.frames, plan.candidates);
  const [width, height] = vggtResizeSize(room.full.width, room.full.height, 'crop', plan.width);
  // The "images" carry each candidate's video frame index, so the stand-in for VGGT knows which frames a call has.
  const ids = tensor('float32', [candidates.length, 1], Float32Array.from(candidates));
  const maps = await reconstructCandidates(ids, plan.chunkFrames, async (chunk: HostTensor) => {
    const frames = Array.from(chunk.data as Float32Array);
    const call = reduced(room.full, frames, width, Math.min(height, plan.width));
    const s = normalisation(call);
    return { ...call, points: call.points.map((v) => v * s) };
  });
  return spaceAwareSampling(maps, K).selected.map((i) => candidates[i]);
}

/** Per frame count and plan, the coverage ratio on each room; and the exact picks' share of all voxels per K. */
async function coverage(dir: string, count: number, plans: { name: string; plan?: GeometryPlan }[]) {
  const ratios = KS.map(() => plans.map(() => [] as number[]));
  const exactShare = KS.map(() => 0);
  for (let i = 0; i < count; i++) {
    const room = readRoom(dir, sceneName(SEED, i));
    const { mask } = confidenceMask(room.full.conf, CONF_PERCENTILE, MIN_CONF);
    const sets = frameVoxelSets(room.full, mask, voxelGrid(room.full, mask));
    const score = (picks: number[]) => new Set(picks.flatMap((p) => [...sets[p]])).size;
    const total = new Set(sets.flatMap((s) => [...s])).size;
    for (const [k, K] of KS.entries()) {
      const exact = score(spaceAwareSampling(room.full, K).selected);
      exactShare[k] += exact / total / count;
      const line = [`${room.name} K=${K}: exact ${exact}/${total} voxels`];
      for (const [j, p] of plans.entries()) {
        const r = score(await planPicks(room, K, p.plan)) / exact;
        ratios[k][j].push(r);
        line.push(`${p.name} ${r.toFixed(3)}`);
      }
      console.error(`${line.join(' | ')} (load ${load()})`);
    }
  }
  return { ratios, exactShare };
}

// ---- 2. time at real size, random VGGT-1B weights ----

interface Timing {
  plan: string;
  seconds: number;
  cpuSeconds: number;
  rss: number;
  /** Frames, tokens per frame and seconds of each VGGT call (aggregator + point head), the aggregator's part. */
  calls: { frames: number; perFrame: number; seconds: number; aggregatorSeconds: number }[];
  setupSeconds: number;
}

async function timingChild(planText: string, video: string): Promise<void> {
  const { plan } = parsePlan(planText);
  if (!plan) throw new Error('timing needs a plan');
  const c = defaultVggtConfig();
  c.heads = { camera: false, depth: false, point: true };
  if (VGGT_DEPTH !== 24) {
    c.aggregator.depth = VGGT_DEPTH;
    c.aggregator.patchEmbed.depth = VGGT_DEPTH;
    c.dpt.layers = c.dpt.layers.map((l) => Math.floor((l * VGGT_DEPTH) / 24)) as typeof c.dpt.layers;
  }
  const format: LinearFormat =
    args['vggt-format'] === 'int8'
      ? { dtype: 'float32', quant: { bits: 8, blockSize: 32, accuracyLevel: 4 } }
      : { dtype: 'float32' };
  const v = await openVideo(video);
  const [w, h] = vggtResizeSize(SIZE.width, SIZE.height, 'crop', plan.width);
  const size: [number, number] = [Math.min(h, plan.width), w];
  const graphs: Graph[] = [
    buildAggregatorGraph(c, size, [...c.dpt.layers, c.aggregator.depth - 1]),
    buildDptGraph(c, size, ['point']),
  ];
  const shapes = new Map<string, number[]>();
  for (const g of graphs) for (const [name, t] of g.params) shapes.set(name, t.shape as number[]);
  const fp32 = {
    read: (name: string) => {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`random weights: no parameter ${name}`);
      return randomParam(name, shape);
    },
  };
  const weights = format.quant ? quantizedSource(fp32, format.quant) : fp32;
  const model = new VggtModel(c, weights, { format });
  const calls: Timing['calls'] = [];
  const P = 1 + c.aggregator.numRegisterTokens + (size[0] / c.patchSize) * (size[1] / c.patchSize);
  // predict runs with `this` = timed, so its aggregate call is timed apart
  const timed: VggtModel = Object.create(model);
  let aggregatorSeconds = 0;
  timed.aggregate = async (...a) => {
    const t0 = performance.now();
    const r = await model.aggregate(...a);
    aggregatorSeconds = (performance.now() - t0) / 1000;
    return r;
  };
  timed.predict = async (images, o) => {
    const t0 = performance.now();
    const r = await model.predict.call(timed, images, o);
    const seconds = (performance.now() - t0) / 1000;
    calls.push({ frames: images.shape[0], perFrame: P, seconds, aggregatorSeconds });
    console.error(`  call of ${images.shape[0]} frames: ${seconds.toFixed(1)} s (load ${load()})`);
    return r;
  };
  // setup: sessions (weights generated, graphs serialized and compiled) with one frame
  const s0 = performance.now();
  await model.predict(tensor('float32', [1, 3, ...size], new Float32Array(3 * size[0] * size[1]).fill(0.5)));
  const setupSeconds = (performance.now() - s0) / 1000;
  const cacheDir = mkdtempSync(join(tmpdir(), 'sampling-bench-'));
  const [t0, cpu0] = [performance.now(), process.cpuUsage()];
  const modes = Object.entries(GEOMETRY_PLANS).filter(([, p]) => JSON.stringify(p) === JSON.stringify(plan));
  if (!modes.length)
    throw new Error(`timing runs a named plan (${Object.keys(GEOMETRY_PLANS)}), not ${planText}`);
  // Random weights may leave no usable point cloud (a clear InputError after the VGGT calls): the time stands.
  const picked = await sampleFrames(v, {
    frames: KS[0],
    sampling: 'space-aware',
    geometryMode: modes[0][0] as keyof typeof GEOMETRY_PLANS,
    geometry: () => timed,
    cacheDir,
  }).then(
    (r) => `${r.indices.length} frames`,
    (e: Error) => `no pick: ${e.message}`,
  );
  console.error(`  ${picked}`);
  const cpu = process.cpuUsage(cpu0);
  rmSync(cacheDir, { recursive: true, force: true });
  const rss = process.resourceUsage().maxRSS / 1024 ** 2;
  const out: Timing = {
    plan: planText,
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rss,
    calls,
    setupSeconds,
  };
  console.log(JSON.stringify(out));
  await model.release();
}

function runTiming(plan: string, video: string): Promise<Timing | undefined> {
  return new Promise((resolve) => {
    const p = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        ...process.argv.slice(2),
        '--child',
        plan,
        '--video',
        video,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.on('exit', () =>
      resolve(out.trim() ? (JSON.parse(out.trim().split('\n').at(-1)!) as Timing) : undefined),
    );
  });
}

/**
 * FLOPs of VGGT-1B's aggregator on calls of S frames × P tokens: linear layers 2·T·params per token (24 DINOv2 +
 * 24 frame + 24 global blocks of 12·d² weights), frame attention 4·P²·d per frame and block (DINOv2 + frame
 * blocks), global attention 4·T²·d per global block. The DPT head is left out (a per-pixel convolutional head).
 */
function aggregatorFlops(calls: { frames: number; perFrame: number }[]): number {
  const d = 1024;
  return calls.reduce((sum, { frames: S, perFrame: P }) => {
    const T = S * P;
    return sum + 2 * T * 72 * 12 * d * d + 48 * S * 4 * P * P * d + 24 * 4 * T * T * d;
  }, 0);
}

async function main(): Promise<void> {
  if (args.child) return timingChild(args.child, args.video!);
  const count = Number(args.count);
  const own = !args.rooms;
  const dir = args.rooms ?? mkdtempSync(join(tmpdir(), 'sampling-rooms-'));
  const plans = args.plans!.split(',').map(parsePlan);
  console.log(
    `Space-aware sampling plans — ${KS.join(' and ')} frames picked; ${count} synthetic rooms (seed ${SEED}) of ` +
      `${SIZE.frames} frames ${SIZE.width}×${SIZE.height}; ONNX Runtime ${ortVersion()} CPU, ${cpus().length} ` +
      `cores; load average at start ${load()}`,
  );
  try {
    if (!existsSync(join(dir, 'meta_info.json')) || own)
      await synthesize({
        scenes: count,
        out: dir,
        seed: SEED,
        fps: 4,
        ...SIZE,
        log: (l) => console.error(l),
      });
    const rows: string[] = [];
    const timings = new Map<string, Timing | undefined>();
    if (!args['timing-only']) {
      const { ratios, exactShare } = await coverage(dir, count, plans);
      for (const [k, K] of KS.entries()) {
        rows.push(
          `| ${K} | exact (128@518/128): ${(100 * exactShare[k]).toFixed(1)}% of all voxels on average | 1 call | 1 | 1 | |`,
        );
        for (const [j, p] of plans.entries()) {
          const r = ratios[k][j];
          const mean = r.reduce((a, b) => a + b, 0) / r.length;
          const calls = p.plan ? geometryChunks(p.plan.candidates, p.plan.chunkFrames) : [];
          const what = p.plan
            ? `${calls.length} × ≤${Math.max(...calls.map((c) => c.length))} frames`
            : 'none';
          rows.push(
            `| ${K} | ${p.name} | ${what} | ${mean.toFixed(3)} | ${Math.min(...r).toFixed(3)} | ` +
              `${r.filter((x) => x >= 0.95).length}/${r.length} |`,
          );
        }
      }
    }
    if (!args['no-timing']) {
      const video = join(dir, SYNTH_DATASET, `${sceneName(SEED, 0)}.mp4`);
      console.error(`timing the cpu plan on ${video} (load ${load()})`);
      timings.set('cpu', await runTiming('cpu', video));
    }
    console.log(
      `\nCoverage ratio = voxels covered by the plan's picks / by the exact plan's picks, on the exact voxel grid ` +
        `(load average now ${load()}):\n| frames picked | plan (candidates@width/frames per call) | VGGT calls | ` +
        'coverage ratio (mean) | min | rooms ≥ 0.95 |',
    );
    console.log('|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    const t = timings.get('cpu');
    if (t) {
      const exactCall = { frames: SIZE.frames, perFrame: 5 + (SIZE.width / 14) * (SIZE.height / 14) };
      const ratio = aggregatorFlops([exactCall]) / aggregatorFlops(t.calls);
      const aggFull = t.calls.reduce((a, c) => a + c.aggregatorSeconds, 0) * (24 / VGGT_DEPTH);
      console.log(
        `\nReal size, random VGGT-1B weights (${args['vggt-format']} aggregator, point head fp32), sampleFrames ` +
          `(decode + preprocess + VGGT calls + alignment + voxel coverage), load average at the end ${load()}:`,
      );
      // at a reduced depth, the aggregator's part of each call scales by 24/D (its units are all but the whole)
      const scale = 24 / VGGT_DEPTH;
      const agg = t.calls.reduce((a, c) => a + c.aggregatorSeconds, 0);
      const full = (s: number) => (VGGT_DEPTH === 24 ? s : s + (scale - 1) * agg);
      if (VGGT_DEPTH !== 24)
        console.log(
          `VGGT at REDUCED DEPTH ${VGGT_DEPTH} of 24 units (the machine's load left no time for the real depth): ` +
            `measured, then "at 24 units" = measured + the aggregator seconds × (24/${VGGT_DEPTH} − 1); CPU s alike`,
        );
      console.log(
        '| plan | wall s | CPU s | wall s at 24 units | CPU s at 24 units | peak RSS GB | VGGT calls (frames: s, of which aggregator s) | session setup s |',
      );
      console.log('|---|---|---|---|---|---|---|---|');
      const cpuFull = t.cpuSeconds * (full(t.seconds) / t.seconds);
      console.log(
        `| cpu | ${t.seconds.toFixed(0)} | ${t.cpuSeconds.toFixed(0)} | ${full(t.seconds).toFixed(0)} | ` +
          `${cpuFull.toFixed(0)} | ${t.rss.toFixed(1)} | ` +
          `${t.calls.map((c) => `${c.frames}: ${c.seconds.toFixed(0)} (${c.aggregatorSeconds.toFixed(0)})`).join(', ')} | ` +
          `${t.setupSeconds.toFixed(0)} |`,
      );
      const exactWall = aggFull * ratio;
      const exactCpu = exactWall * (t.cpuSeconds / t.seconds);
      console.log(
        `| exact (one call of ${exactCall.frames}×${exactCall.perFrame} tokens, ` +
          `${(aggregatorFlops([exactCall]) / 1e15).toFixed(2)} PFLOP; not run) | | | ≈${(exactWall / 3600).toFixed(1)} h | ` +
          `≈${(exactCpu / 3600).toFixed(1)} h | | (the cpu plan's aggregator time at 24 units × ${ratio.toFixed(0)}, the ` +
          'FLOP ratio; heads not counted) | |',
      );
    } else if (!args['no-timing']) console.log('\nthe timing child failed (see stderr)');
  } finally {
    if (own) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
