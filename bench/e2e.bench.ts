// End-to-end Spatial-MLLM benchmark (a script, not a test): the real pipeline (SpatialMllmPipeline.load + ask) on
// a synthetic 32-frame 644×476 clip, 16 frames given to the model (grid 8×34×46, 3,128 visual tokens), on ONNX
// Runtime CPU: seconds per stage (sampling, decode, encoders, prefill, generate) and peak memory, for fp32 and int4
// weights (what `ask --dtype int4` loads; see FORMATS), uniform and space-aware sampling.
//
// The real model (Qwen2.5-VL-3B + VGGT-1B with heads + connector, ~5B parameters, ~20 GB in fp32) does not fit a
// small machine together with ONNX Runtime's copies, so the checkpoints are random, at REAL WIDTH (every hidden
// size, head count, MLP size and the 151,936-entry vocabulary as upstream) and REDUCED DEPTH, written twice:
// S (text 1 layer, ViT 1 block, VGGT 1 unit = 1 DINOv2 block + 1 frame/global pair, no VGGT heads: the DPT heads
// need 4 distinct layers) and R (4, 4, 4, with heads). Each uniform configuration asks once at S and once at R and
// is extrapolated linearly per layer to the real depths (text 36, ViT 32 with 4 full-attention blocks, VGGT 24):
// - prefill and generate scale with the text depth: real = R + (36 − 4) · (R − S) / 3;
// - encoders = ViT run + spatial encoder & connector run (timed apart by wrapping Session.run) + setup (graph
//   serialization, weight conversion or quantization, session creation), each run per its own depth, the setup
//   linearly in the weight bytes of the two graphs;
// - decode (the chosen frames) does not depend on the model.
// Space-aware sampling runs VGGT with heads on the candidate frames, which needs R: that ask stops after its
// sampling stage (the later stages are the int4 uniform ask's computation, reused). Its sampling = aggregator run
// scaled by 24/4 (the fixed part, the patch embedding, is < 1% of a unit) + head runs + the rest (decoding the
// candidates, setup) scaled by the geometry weight bytes, which over-estimates the decoding part.
// The reduced ViT ends with one full-attention block; the other 3 real full-attention blocks are counted as window
// blocks (full attention is ~1/6 of a block's FLOPs at this grid). The stages include their first-run setup (one
// cold ask per process). Peak RSS = maxRSS of the child process that ran that configuration (load + one ask); at
// real depth it is estimated as measured + the missing weight bytes in the format the sessions hold.
// Wall times depend on what else runs on the machine: the table gives process CPU seconds beside them and the load.
// The checkpoints (bf16 safetensors shards) and the clip are written under os.tmpdir() and deleted at the end.
// --full also writes the real-depth checkpoint (no VGGT heads: uniform sampling does not run them; ~9 GB bf16) and
// measures the uniform ask of each int4 format asked for (int4, int4-half) on it, no extrapolation; it needs ~20 GB
// of free disk and ~25 min here; --full-only skips the S/R extrapolation and the space-aware row.
// --session-store adds, for each quantized format, the ask of a second process on the same checkpoint (at S and R,
// and at F with --full): a first child fills a session store (ask's default --session-store), a second one is timed.
// Usage: npm run bench:e2e [-- --quick] [--no-space-aware] [--formats fp32,int4,int4-half,int4-before] [--full]
//        [--full-only] [--session-store]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoFrames } from '../src/apps/demo/clip.ts';
import { tinyConfig, writeTinySpatialMllm } from '../src/apps/demo/tiny_model.ts';
import { weightOptions } from '../src/apps/options.ts';
import type * as E from '../src/engine/index.ts';
import { writeVideo } from '../src/media/video.ts';
import { FP32, type LinearFormat } from '../src/models/layers.ts';
import { QWEN2_5_VL_3B_CONFIG } from '../src/models/qwen2_5_vl/config.ts';
import type { GridThw } from '../src/models/qwen2_5_vl/rope_index.ts';
import { buildTextDecoder } from '../src/models/qwen2_5_vl/text_decoder.ts';
import { buildVisionEncoder } from '../src/models/qwen2_5_vl/vision_encoder.ts';
import { spatialMllmKey } from '../src/models/spatial_mllm/checkpoint.ts';
import { parseSpatialMllmConfig, type SpatialMllmConfig } from '../src/models/spatial_mllm/config.ts';
import { buildSpatialFusion } from '../src/models/spatial_mllm/fusion.ts';
import { SpatialMllm, type SpatialMllmOptions } from '../src/models/spatial_mllm/model.ts';
import { buildAggregatorGraph, buildCameraHeadGraph, buildDptGraph } from '../src/models/vggt/model.ts';
import { ask, type StageEvent } from '../src/pipeline/ask.ts';
import {
  candidateFrameIndices,
  DEFAULT_FRAME_COUNT,
  type FrameSampling,
} from '../src/pipeline/frame_sampling.ts';
import { ortVersion, Session } from '../src/runtime/session.ts';
import { BYTES, f32ToBf16, type HostTensor, numel, tensor } from '../src/tensor.ts';
import { writeSafetensors } from '../src/weights/safetensors.ts';
import { BIN_TUNABLES, binEnv } from './support/bin_env.ts';

/** Depths that vary: text layers, ViT blocks, VGGT units (1 DINOv2 block + 1 aggregator frame/global pair). */
interface Depths {
  text: number;
  vision: number;
  vggt: number;
}
const REAL: Depths = { text: 36, vision: 32, vggt: 24 };
/** VGGT-1B's DPT heads read aggregator layers [4, 11, 17, 23] of 24; a reduced model reads the same fractions. */
const dptLayers = (depth: number) => [4, 11, 17, 23].map((l) => Math.floor((l * depth) / REAL.vggt));
/** Qwen2.5-VL's full-attention blocks are every 8th ([7, 15, 23, 31]); a reduced ViT also ends with one. */
const fullAttention = (depth: number) =>
  Array.from({ length: depth }, (_, i) => i).filter((i) => i % 8 === 7 || i === depth - 1);
const depthText = (d: Depths) => `text ${d.text}, ViT ${d.vision}, VGGT ${d.vggt}`;

type Width = 'real' | 'tiny';
type Format = 'fp32' | 'int4' | 'int4-half' | 'int4-before';
/** The load options of each configuration: int4 = what `ask --dtype int4` runs (apps/options.ts weightOptions);
 * int4-before = MatMulNBits level 0 on Qwen and the connector with float32 encoders (this benchmark's int4 before
 * issue 15's encoder work); int4-half = int4 with `--spatial-res half` (VGGT on 2×2-pooled frames). */
const FORMATS: Record<Format, Pick<SpatialMllmOptions, 'quant' | 'encoders' | 'spatialResolution'>> = {
  fp32: {},
  int4: weightOptions('int4'),
  'int4-half': { ...weightOptions('int4'), spatialResolution: 'half' },
  'int4-before': { quant: { bits: 4, blockSize: 32 } },
};
const lmFormat = (f: Format): LinearFormat => ({ dtype: 'float32', quant: FORMATS[f].quant });

/** Token ids of the demo's byte-level tokenizer, whose files the checkpoint folders reuse (tiny_model.ts). */
function tokenIds(): Record<string, unknown> {
  const t = tinyConfig();
  const keys = ['bos_token_id', 'eos_token_id', 'image_token_id', 'video_token_id'];
  keys.push('vision_start_token_id', 'vision_end_token_id', 'vision_token_id');
  return Object.fromEntries(keys.map((k) => [k, t[k]]));
}

/**
 * A Spatial-MLLM v1.1 config.json: at real width Qwen2.5-VL-3B (DESIGN.md §3) + VGGT-1B (defaultVggtConfig, the
 * depths set through the reference-fixture sections that vggt/config.ts reads); at tiny width the demo's model.
 */
function checkpointConfig(width: Width, d: Depths, heads: boolean): Record<string, unknown> {
  const base =
    width === 'real'
      ? {
          ...structuredClone(QWEN2_5_VL_3B_CONFIG),
          spatial_config: {
            model_type: 'vggt_spatial_encoder',
            img_size: 518,
            patch_size: 14,
            embed_dim: 1024,
          },
          connector_config: { connector_type: 'mlp_add', spatial_embeds_layer_idx: -1 },
        }
      : tinyConfig();
  const json = structuredClone(base) as Record<string, Record<string, unknown>>;
  const enable = heads ? {} : { enable_camera: false, enable_depth: false, enable_point: false };
  return {
    ...json,
    ...tokenIds(),
    architectures: ['SpatialMLLMForConditionalGeneration'],
    model_type: 'spatial-mllm',
    num_hidden_layers: d.text,
    vision_config: { ...json.vision_config, depth: d.vision, fullatt_block_indexes: fullAttention(d.vision) },
    spatial_config: { ...json.spatial_config, ...enable },
    Aggregator_extra: { ...json.Aggregator_extra, depth: d.vggt },
    patch_embed_dinov2_tiny: { ...json.patch_embed_dinov2_tiny, depth: d.vggt },
    DPTHead_extra: { ...json.DPTHead_extra, intermediate_layer_idx: dptLayers(d.vggt) },
  };
}

/** xorshift32 uniform values in [−bound, bound). */
function uniform(n: number, bound: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed | 1;
  const k = (2 * bound) / 4294967296;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) * k - bound;
  }
  return out;
}

const hash = (s: string) => [...s].reduce((h, ch) => Math.imul(h ^ ch.charCodeAt(0), 16777619), 2166136261);

/**
 * Random bf16 values in [−bound, bound): a 1 Mi-value table per bound, tiled from a per-tensor offset, so that
 * gigabytes of weights are written at copy speed (for timing, the values only need to be ordinary floats).
 */
const TILE = 1 << 20;
const tables = new Map<number, Uint16Array>();
function tiled(n: number, bound: number, seed: number): Uint16Array {
  let table = tables.get(bound);
  if (!table) {
    const once = f32ToBf16(uniform(TILE, bound, 1));
    table = new Uint16Array(2 * TILE);
    table.set(once);
    table.set(once, TILE);
    tables.set(bound, table);
  }
  const out = new Uint16Array(n);
  const offset = (seed >>> 0) % TILE;
  for (let i = 0; i < n; i += TILE) out.set(table.subarray(offset, offset + Math.min(TILE, n - i)), i);
  return out;
}

/** Random bf16 weights by role: unit norms, zero biases, small LayerScale and tokens, fan-in scaled matrices. */
function randomWeight(key: string, shape: number[]): HostTensor {
  const n = numel(shape);
  const fill = (v: number) => new Uint16Array(n).fill(f32ToBf16(Float32Array.of(v))[0]);
  const isNorm = /norm|ln_q/.test(key) && key.endsWith('.weight') && shape.length === 1;
  const data = isNorm
    ? fill(1)
    : key.endsWith('.bias')
      ? fill(0)
      : key.endsWith('.gamma')
        ? fill(0.1)
        : shape.length < 2 || /embed_tokens|token|pos_embed/.test(key)
          ? tiled(n, 0.02 * Math.sqrt(3), hash(key))
          : tiled(n, Math.sqrt(3 / numel(shape.slice(1))), hash(key));
  return tensor('bfloat16', shape, data);
}

/** The VGGT graphs of space-aware sampling: the aggregator and whichever heads the config has. */
function geometryGraphs(cfg: SpatialMllmConfig, format: LinearFormat = FP32): E.Graph[] {
  const v = cfg.vggt;
  const dpt = (['depth', 'point'] as const).filter((k) => v.heads[k]);
  const last = v.aggregator.depth - 1;
  return [
    buildAggregatorGraph(v, [28, 28], dpt.length ? [...v.dpt.layers, last] : [last], false, format),
    ...(v.heads.camera ? [buildCameraHeadGraph(v)] : []),
    ...(dpt.length ? [buildDptGraph(v, [28, 28], dpt)] : []),
  ];
}

/** Checkpoint key of a graph parameter (VGGT heads are stored beside the aggregator). */
const checkpointKey = (name: string) =>
  name.startsWith('aggregator.') || /_head\./.test(name)
    ? `spatial_encoder.vggt_model.${name}`
    : spatialMllmKey(name, 'v1.1', 'flat');

const SHARD_BYTES = 2 ** 30;

/**
 * Writes a checkpoint folder: the demo's tokenizer and processor files, `config`, and random bf16 weights with
 * upstream key names in ≤ 1 GiB shards behind model.safetensors.index.json (the hub layout). Returns its bytes.
 */
function writeCheckpoint(dir: string, config: Record<string, unknown>): number {
  writeTinySpatialMllm(dir);
  rmSync(join(dir, 'model.safetensors'));
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const cfg = parseSpatialMllmConfig(config);
  const grid = [1, 2, 2] as const;
  const graphs = [
    buildVisionEncoder(cfg.qwen.vision, grid),
    buildTextDecoder(cfg.qwen.text),
    buildSpatialFusion(cfg, grid, { spatialInput: 'frames' }),
    ...geometryGraphs(cfg),
  ];
  const shapes = new Map<string, number[]>();
  for (const g of graphs)
    for (const [name, t] of g.params) shapes.set(checkpointKey(name), t.shape as number[]);
  const shards: string[][] = [[]];
  let bytes = 0;
  let total = 0;
  for (const [key, shape] of shapes) {
    const b = numel(shape) * BYTES.bfloat16;
    if (bytes + b > SHARD_BYTES && bytes > 0) {
      shards.push([]);
      bytes = 0;
    }
    shards[shards.length - 1].push(key);
    bytes += b;
    total += b;
  }
  const weightMap: Record<string, string> = {};
  shards.forEach((keys, i) => {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const tensors = new Map(keys.map((k) => [k, randomWeight(k, shapes.get(k)!)]));
    writeSafetensors(join(dir, file), tensors, { format: 'pt' });
    for (const k of keys) weightMap[k] = file;
  });
  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }),
  );
  return total;
}

// ---- child: load the pipeline, ask once, report JSON on stdout ----

type Stage = StageEvent['stage'];
const STAGES: Stage[] = ['sampling', 'decode', 'encoders', 'prefill', 'generate'];
/** Wall and process CPU seconds (all threads: less sensitive than wall time to other work on the cores). */
interface Time {
  wall: number;
  cpu: number;
}
/** Which graph a session runs, told by its inputs. */
type GraphKind = 'vision' | 'spatial' | 'text' | 'aggregator' | 'heads';
type Runs = Partial<Record<Stage, Partial<Record<GraphKind, Time>>>>;

interface Job {
  model: string;
  clip: string;
  format: Format;
  sampling: FrameSampling;
  frames: number;
  maxNewTokens: number;
  /** Stop once the frames are chosen: a space-aware ask's later stages are the uniform ask's computation. */
  samplingOnly?: boolean;
  /** A session store folder (SpatialMllmOptions.sessionStore). */
  store?: string;
}

interface Measured {
  stages: Record<Stage, Time>;
  /** ONNX Runtime run time per stage and graph. */
  runs: Runs;
  /** Absent when the ask stopped after sampling. */
  answer?: { promptTokens: number; newTokens: number; grid: GridThw };
  peakBytes: number;
  /** 1-minute load average when the child started and when it finished. */
  load: [number, number];
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const now = (): Time => ({ wall: performance.now() / 1e3, cpu: cpuNow() });
const since = (t: Time): Time => ({ wall: performance.now() / 1e3 - t.wall, cpu: cpuNow() - t.cpu });
const zero = (): Time => ({ wall: 0, cpu: 0 });
const add = (a: Time, b: Time) => {
  a.wall += b.wall;
  a.cpu += b.cpu;
};

function graphKind(inputs: readonly string[]): GraphKind {
  if (inputs.includes('pixel_values')) return 'vision';
  if (inputs.includes('video_embeds')) return 'spatial';
  if (inputs.includes('input_ids')) return 'text';
  if (inputs.includes('images')) return 'aggregator';
  return 'heads';
}

class SamplingDone extends Error {}

async function runChild(job: Job): Promise<Measured> {
  const load0 = loadavg()[0];
  // Instrumentation: every ONNX Runtime run is timed and booked to the current stage and its graph.
  const runs: Runs = {};
  let current: Stage | undefined;
  const run = Session.prototype.run;
  Session.prototype.run = async function (this: Session, ...args: Parameters<Session['run']>) {
    const t = now();
    try {
      return await run.apply(this, args);
    } finally {
      if (current) {
        const byKind = runs[current] ?? {};
        const kind = graphKind(this.inputNames);
        byKind[kind] = sum(byKind[kind] ?? zero(), since(t));
        runs[current] = byKind;
      }
    }
  };

  const cacheDir = mkdtempSync(join(tmpdir(), 'e2e-bench-geometry-'));
  const model = SpatialMllm.load(job.model, { ...FORMATS[job.format], sessionStore: job.store });
  const stages = Object.fromEntries(STAGES.map((s) => [s, zero()])) as Record<Stage, Time>;
  let started = now();
  let answer: Measured['answer'];
  try {
    const result = await ask(model, job.clip, 'How many chairs are in this room?', {
      cacheDir,
      frames: job.frames,
      sampling: job.sampling,
      maxNewTokens: job.maxNewTokens,
      temperature: 0,
      releaseEncoders: true, // as `ask` does
      onStage: (e) => {
        if (e.state === 'start') {
          if (job.samplingOnly && e.stage === 'decode') throw new SamplingDone();
          current = e.stage;
          started = now();
          return;
        }
        add(stages[e.stage], since(started));
        current = undefined;
        process.stderr.write(
          `  [${e.stage}] ${e.seconds!.toFixed(1)} s${e.detail ? ` — ${e.detail}` : ''}\n`,
        );
      },
    });
    answer = { promptTokens: result.promptTokens, newTokens: result.newTokens, grid: result.grid };
  } catch (e) {
    if (!(e instanceof SamplingDone)) throw e;
  } finally {
    await model.release();
    rmSync(cacheDir, { recursive: true, force: true });
  }
  return {
    stages,
    runs,
    answer,
    peakBytes: process.resourceUsage().maxRSS * 1024,
    load: [load0, loadavg()[0]],
  };
}

// ---- parent: checkpoints, one child per configuration and depth, extrapolation, table ----

type Outcome = { ok: true; result: Measured } | { ok: false; error: string };

function child(job: Job): Promise<Outcome> {
  return new Promise((resolve) => {
    const self = fileURLToPath(import.meta.url);
    const p = spawn(process.execPath, [...process.execArgv, self, '--child', JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: binEnv(), // as `spatial-mllm ask` runs
    });
    let out = '';
    p.stdout.on('data', (chunk) => {
      out += chunk;
    });
    p.on('exit', (code, signal) => {
      const last = out.trim().split('\n').pop();
      if (code === 0 && last) resolve(JSON.parse(last) as Outcome);
      else
        resolve({
          ok: false,
          error: `child ${signal === 'SIGKILL' ? 'killed (out of memory?)' : `exited with ${signal ?? code}`}`,
        });
    });
  });
}

/** Parameter bytes of graphs, in the dtypes they hold. */
function graphBytes(graphs: E.Graph[]): number {
  let bytes = 0;
  for (const g of graphs)
    for (const t of g.params.values()) bytes += numel(t.shape as number[]) * BYTES[t.dtype];
  return bytes;
}

type Bytes = Record<'vision' | 'spatial' | 'text' | 'geometry', number>;

/** Weight bytes the sessions of a model hold, per graph kind, in the sessions' formats (VGGT's heads stay fp32). */
function sessionBytes(width: Width, d: Depths, format: Format, grid: GridThw): Bytes {
  // VGGT heads need 4 distinct aggregator layers; the geometry bytes are only read at R and the real depth.
  const cfg = parseSpatialMllmConfig(checkpointConfig(width, d, d.vggt >= 4));
  const f = lmFormat(format);
  const encoders = FORMATS[format].encoders ?? FP32;
  return {
    vision: graphBytes([buildVisionEncoder(cfg.qwen.vision, grid, { format: encoders })]),
    spatial: graphBytes([
      buildSpatialFusion(cfg, grid, {
        spatialInput: 'frames',
        format: f,
        spatialFormat: encoders,
        spatialResolution: FORMATS[format].spatialResolution,
      }),
    ]),
    text: graphBytes([buildTextDecoder(cfg.qwen.text, { format: f })]),
    geometry: graphBytes(geometryGraphs(cfg, encoders)),
  };
}

const sum = (...ts: Time[]): Time => ({
  wall: ts.reduce((a, t) => a + t.wall, 0),
  cpu: ts.reduce((a, t) => a + t.cpu, 0),
});
const minus = (a: Time, b: Time): Time => ({ wall: a.wall - b.wall, cpu: a.cpu - b.cpu });
const scale = (t: Time, k: number): Time => ({ wall: t.wall * k, cpu: t.cpu * k });
/** Linear in x through the measurements at xs (S) and xr (R), evaluated at x. */
const linear = (s: Time, r: Time, xs: number, xr: number, x: number): Time =>
  sum(r, scale(minus(r, s), (x - xr) / (xr - xs)));
const runOf = (m: Measured, stage: Stage, kind: GraphKind) => m.runs[stage]?.[kind] ?? zero();
/** The part of a stage outside the given graphs' runs. */
const rest = (m: Measured, stage: Stage, kinds: GraphKind[]) =>
  minus(m.stages[stage], sum(...kinds.map((k) => runOf(m, stage, k))));

type EncoderParts = Record<'vision' | 'spatial' | 'rest', Time>;
const encoderParts = (m: Measured): EncoderParts => ({
  vision: runOf(m, 'encoders', 'vision'),
  spatial: runOf(m, 'encoders', 'spatial'),
  rest: rest(m, 'encoders', ['vision', 'spatial']),
});

interface Extrapolated {
  stages: Record<Stage, Time>;
  encoders: EncoderParts;
  peakBytes: number;
}

type DepthPair = Record<'S' | 'R', Depths>;

/** A uniform ask at the real depth from the asks at S and R. */
function extrapolateAsk(
  width: Width,
  depths: DepthPair,
  format: Format,
  s: Measured,
  r: Measured,
): Extrapolated {
  const { S, R } = depths;
  const bytes = (d: Depths) => sessionBytes(width, d, format, r.answer!.grid);
  const [bS, bR, bReal] = [bytes(S), bytes(R), bytes(REAL)];
  const encoderBytes = (b: Bytes) => b.vision + b.spatial;
  const [es, er] = [encoderParts(s), encoderParts(r)];
  const encoders = {
    vision: linear(es.vision, er.vision, S.vision, R.vision, REAL.vision),
    spatial: linear(es.spatial, er.spatial, S.vggt, R.vggt, REAL.vggt),
    rest: linear(es.rest, er.rest, encoderBytes(bS), encoderBytes(bR), encoderBytes(bReal)),
  };
  const text = (stage: Stage) => linear(s.stages[stage], r.stages[stage], S.text, R.text, REAL.text);
  const held = (b: Bytes) => b.vision + b.spatial + b.text;
  return {
    stages: {
      sampling: r.stages.sampling,
      decode: r.stages.decode,
      encoders: sum(encoders.vision, encoders.spatial, encoders.rest),
      prefill: text('prefill'),
      generate: text('generate'),
    },
    encoders,
    peakBytes: r.peakBytes + held(bReal) - held(bR),
  };
}

interface SamplingEstimate {
  time: Time;
  /** Peak of the sampling run with the real VGGT's weights, and those weights (held for the rest of the ask). */
  peakBytes: number;
  geometryBytes: number;
}

/** Space-aware sampling at the real depth from the sampling run at R (see the header). */
function extrapolateSampling(width: Width, R: Depths, g: Measured): SamplingEstimate {
  const grid = [1, 2, 2] as const; // the geometry bytes do not depend on it
  // The space-aware ask runs int4 (its VGGT in the encoders' format).
  const [bR, bReal] = [sessionBytes(width, R, 'int4', grid), sessionBytes(width, REAL, 'int4', grid)];
  const time = sum(
    scale(runOf(g, 'sampling', 'aggregator'), REAL.vggt / R.vggt),
    runOf(g, 'sampling', 'heads'),
    scale(rest(g, 'sampling', ['aggregator', 'heads']), bReal.geometry / bR.geometry),
  );
  return { time, peakBytes: g.peakBytes + bReal.geometry - bR.geometry, geometryBytes: bReal.geometry };
}

const GB = 2 ** 30;
const secs = (t: Time) => `${t.wall.toFixed(1)} (${t.cpu.toFixed(0)})`;
const mem = (bytes: number) => `${(bytes / GB).toFixed(1)} GB`;
const total = (stages: Record<Stage, Time>) => sum(...Object.values(stages));

function askRows(name: string, m: Measured, x: Extrapolated): string[][] {
  const { promptTokens, newTokens } = m.answer!;
  const tokS = (t: Time) => `${(Math.max(0, newTokens - 1) / t.wall).toFixed(2)} tok/s`;
  const split = (e: EncoderParts) =>
    ` = ViT ${secs(e.vision)} + spatial ${secs(e.spatial)} + setup ${secs(e.rest)}`;
  const detail: Record<Stage, [string, string]> = {
    sampling: ['', ''],
    decode: ['', ''],
    encoders: [split(encoderParts(m)), split(x.encoders)],
    prefill: [` — ${promptTokens} tokens`, ''],
    generate: [` — ${newTokens} tokens, ${tokS(m.stages.generate)}`, `, ${tokS(x.stages.generate)}`],
  };
  const out = STAGES.map((stage) => [
    '',
    stage,
    secs(m.stages[stage]) + detail[stage][0],
    secs(x.stages[stage]) + detail[stage][1],
  ]);
  out.push(['', 'total', secs(total(m.stages)), secs(total(x.stages))]);
  out.push(['', 'peak RSS', mem(m.peakBytes), `≈ ${mem(x.peakBytes)}`]);
  out.push(['', 'load avg (start → end)', `${m.load[0].toFixed(1)} → ${m.load[1].toFixed(1)}`, '']);
  out[0][0] = name;
  return out;
}

/**
 * Space-aware: its sampling stage, then the int4 uniform ask's other stages (the same computation), with the
 * geometry VGGT's sessions still held.
 */
function spaceAwareRows(
  g: Measured,
  e: SamplingEstimate,
  candidates: number,
  uniform: [Measured, Extrapolated],
) {
  const [m, x] = uniform;
  const others = (stages: Record<Stage, Time>) => minus(total(stages), stages.sampling);
  const peak = Math.max(e.peakBytes, x.peakBytes + e.geometryBytes);
  return [
    [
      'int4 space-aware',
      'sampling',
      `${secs(g.stages.sampling)} — VGGT + heads on ${candidates} candidates`,
      secs(e.time),
    ],
    ['', 'other stages (as int4 uniform)', secs(others(m.stages)), secs(others(x.stages))],
    ['', 'total', secs(sum(g.stages.sampling, others(m.stages))), secs(sum(e.time, others(x.stages)))],
    [
      '',
      'peak RSS',
      `${mem(g.peakBytes)} (sampling alone)`,
      `≈ ${mem(peak)} (max of sampling alone, int4 uniform + VGGT weights)`,
    ],
    ['', 'load avg (start → end)', `${g.load[0].toFixed(1)} → ${g.load[1].toFixed(1)}`, ''],
  ];
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const spaceAware = !process.argv.includes('--no-space-aware');
  const full = process.argv.includes('--full') && !quick;
  const stored = process.argv.includes('--session-store');
  // --full-only: only the real-depth measurements (no S/R extrapolation, no space-aware row).
  const fullOnly = full && process.argv.includes('--full-only');
  const at = process.argv.indexOf('--formats');
  const formats = (at >= 0 ? process.argv[at + 1] : 'fp32,int4').split(',') as Format[];
  const unknown = formats.filter((f) => !(f in FORMATS));
  if (unknown.length)
    throw new Error(`--formats: unknown ${unknown} (use ${Object.keys(FORMATS).join(', ')})`);
  // --quick: the demo's tiny widths and a small clip — a smoke run of the script, not figures.
  const width: Width = quick ? 'tiny' : 'real';
  const depths: DepthPair = {
    S: { text: 1, vision: 1, vggt: 1 },
    R: { text: quick ? 2 : 4, vision: quick ? 2 : 4, vggt: 4 },
  };
  const [clipW, clipH, clipFrames] = quick ? [112, 84, 16] : [644, 476, 32];
  const maxNewTokens = quick ? 4 : 16;

  const start = performance.now();
  const load0 = loadavg()[0];
  const work = mkdtempSync(join(tmpdir(), 'e2e-bench-'));
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  // Its checkpoints are gigabytes: gone on Ctrl-C and on kill/timeout (SIGTERM) as well.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)
    process.once(signal, () => {
      cleanup();
      process.exit(code);
    });
  try {
    const clip = join(work, 'clip.mp4');
    await writeVideo(clip, demoFrames(clipFrames, clipW, clipH), 6);
    // S and R as above; F = the real depth (--full), without heads (uniform sampling does not run them).
    const depthOf = { ...depths, F: REAL };
    const model = (k: keyof typeof depthOf) => join(work, k);
    const written: string[] = [];
    const writeModel = (k: keyof typeof depthOf, heads: boolean) => {
      const t0 = performance.now();
      process.stderr.write(`writing checkpoint ${k} (${depthText(depthOf[k])}, ${width} width)\n`);
      mkdirSync(model(k));
      const bytes = writeCheckpoint(model(k), checkpointConfig(width, depthOf[k], heads));
      const s = ((performance.now() - t0) / 1e3).toFixed(0);
      written.push(
        `${k}: ${depthText(depthOf[k])}${heads ? ' + heads' : ''}, ${mem(bytes)} bf16, written in ${s} s`,
      );
    };
    if (!fullOnly) {
      writeModel('S', false);
      writeModel('R', true);
    }

    const table: string[][] = [];
    const measure = async (
      name: string,
      k: keyof typeof depthOf,
      job: Omit<Job, 'model' | 'clip' | 'frames' | 'maxNewTokens'>,
    ) => {
      process.stderr.write(`${name} at ${k} (${depthText(depthOf[k])})\n`);
      const o = await child({ model: model(k), clip, frames: DEFAULT_FRAME_COUNT, maxNewTokens, ...job });
      if (!o.ok) table.push([name, `failed at ${k}`, o.error, '']);
      return o.ok ? o.result : undefined;
    };
    let int4: [Measured, Extrapolated] | undefined;
    for (const format of fullOnly ? [] : formats) {
      const name = `${format} uniform`;
      const s = await measure(name, 'S', { format, sampling: 'uniform' });
      const r = s && (await measure(name, 'R', { format, sampling: 'uniform' }));
      if (!s || !r) continue;
      const x = extrapolateAsk(width, depths, format, s, r);
      table.push(...askRows(name, r, x));
      if (format === 'int4') int4 = [r, x];
      if (stored && format !== 'fp32') {
        const job = { format, sampling: 'uniform', store: join(work, `store-${format}`) } as const;
        for (const k of ['S', 'R'] as const) await measure(`${name}, filling the session store`, k, job);
        const second = `${name}, 2nd process (session store)`;
        const s2 = await measure(second, 'S', job);
        const r2 = s2 && (await measure(second, 'R', job));
        if (s2 && r2) table.push(...askRows(second, r2, extrapolateAsk(width, depths, format, s2, r2)));
      }
    }
    if (spaceAware && int4) {
      // The DPT heads need 4 aggregator layers, so the sampling stage is measured at R only.
      const job = { format: 'int4', sampling: 'space-aware', samplingOnly: true } as const;
      const g = await measure('int4 space-aware', 'R', job);
      if (g) {
        const candidates = candidateFrameIndices(clipFrames).length;
        table.push(...spaceAwareRows(g, extrapolateSampling(width, depths.R, g), candidates, int4));
      }
    }

    if (full) {
      // The real depth, measured: the S and R checkpoints are not needed any more.
      for (const k of ['S', 'R'] as const) rmSync(model(k), { recursive: true, force: true });
      writeModel('F', false);
      const asMeasured = (m: Measured) => ({
        stages: m.stages,
        encoders: encoderParts(m),
        peakBytes: m.peakBytes,
      });
      // The int4 formats asked for (--formats), each measured.
      for (const format of formats.filter((f) => f === 'int4' || f === 'int4-half')) {
        const job = { format, sampling: 'uniform' } as const;
        const m = await measure(`${format} uniform, real depth`, 'F', job);
        const name = `${format} uniform, MEASURED at the real depth (both columns)`;
        if (m) table.push(...askRows(name, m, asMeasured(m)));
        if (stored) {
          const withStore = { ...job, store: join(work, `store-F-${format}`) };
          await measure(`${format} uniform, real depth, filling the session store`, 'F', withStore);
          const m2 = await measure(
            `${format} uniform, real depth, 2nd process (session store)`,
            'F',
            withStore,
          );
          const name2 = `${format} uniform, 2nd process (session store), MEASURED at the real depth`;
          if (m2) table.push(...askRows(name2, m2, asMeasured(m2)));
        }
      }
    }
    console.log(
      `Spatial-MLLM end to end${quick ? ' --quick (tiny widths: not figures)' : ''} — random weights at ${width} ` +
        `width; ${clipFrames}-frame ${clipW}×${clipH} clip, ${DEFAULT_FRAME_COUNT} frames to the model, ${maxNewTokens} new tokens ` +
        `(greedy); onnxruntime-node ${ortVersion()} CPU, ${cpus().length} cores (${cpus()[0]?.model}), ` +
        `children under GLIBC_TUNABLES=${BIN_TUNABLES} (the launcher's), ` +
        `${mem(totalmem())} RAM (${mem(freemem())} free at the end); load average ${load0.toFixed(1)} at the ` +
        `start, ${loadavg()[0].toFixed(1)} at the end; ${((performance.now() - start) / 60e3).toFixed(1)} min in all.`,
    );
    console.log(`Checkpoints: ${written.join('; ')}.`);
    console.log(
      'Cells: wall s (process CPU s, all threads: less sensitive to other load). Measured at R; extrapolated ' +
        `linearly per layer through S to the real ${depthText(REAL)} (method in the header of ` +
        'bench/e2e.bench.ts). int4 = what ask --dtype int4 runs: MatMulNBits blocks of 128 at accuracy level 4 on ' +
        "Qwen's language model and the connector, W8A8 (per-token int8 activations) on the ViT and VGGT aggregator; " +
        'int4-half = int4 with --spatial-res half; int4-before = MatMulNBits level 0 on Qwen (ViT included) and ' +
        'the connector, VGGT fp32. One process per ' +
        'configuration and depth: load + one cold ask, so each stage includes its sessions’ setup. Peak RSS ' +
        'extrapolated = measured + the missing weight bytes.',
    );
    const header = ['configuration', 'stage', 'measured at R', 'extrapolated to real depth'];
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
    const line = (r: string[]) => `| ${r.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
    console.log(line(header));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of table) console.log(line(r));
  } finally {
    cleanup();
  }
}

if (process.argv[2] === '--child') {
  const job = JSON.parse(process.argv[3]) as Job;
  let outcome: Outcome;
  try {
    outcome = { ok: true, result: await runChild(job) };
  } catch (e) {
    outcome = { ok: false, error: (e as Error).message.split('\n')[0] };
  }
  console.log(JSON.stringify(outcome));
} else await main();
