// Spatial-MLLM end to end (THU-SI/Spatial-MLLM `src/inference.py`): a video and a question in, an answer out.
// Stages: decode the chosen frames → (space-aware) frame sampling → Qwen2.5-VL processor → 2D encoder (Qwen ViT)
// and spatial encoder (VGGT aggregator on the same resized frames) → connector fusion → prompt with the chat
// template → generation.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as E from '../engine/index.ts';
import { InputError } from '../errors.ts';
import { resize } from '../image/resize.ts';
import { encodePng, type RgbImage } from '../image.ts';
import { readJsonFile } from '../json.ts';
import type { LinearFormat } from '../models/layers.ts';
import { ropeIndexConfig } from '../models/qwen2_5_vl/config.ts';
import { Qwen25VLModel } from '../models/qwen2_5_vl/model.ts';
import {
  checkpointVideoBounds,
  type ProcessorConfig,
  processVideos,
  readProcessorConfig,
  videoFrameSize,
} from '../models/qwen2_5_vl/processor.ts';
import { type GridThw, ropeIndex } from '../models/qwen2_5_vl/rope_index.ts';
import { expandVisionPlaceholders, QwenTokenizer } from '../models/qwen2_5_vl/tokenizer.ts';
import { GraphSessions } from '../models/sessions.ts';
import { openSpatialMllm, type SpatialMllmCheckpoint } from '../models/spatial_mllm/checkpoint.ts';
import { buildSpatialFusion } from '../models/spatial_mllm/connector.ts';
import {
  cameraRecords,
  confidenceMask,
  encodePly,
  maskedPointCloud,
  poseEncodingToCameras,
} from '../models/vggt/geometry.ts';
import { vggtWeights } from '../models/vggt/load.ts';
import { VggtModel } from '../models/vggt/model.ts';
import { spatialMllmSamplingPreprocess, vggtPreprocess } from '../models/vggt/preprocess.ts';
import type { Device, RunnableSession } from '../runtime/session.ts';
import { type HostTensor, tensor } from '../tensor.ts';
import { quantizedSource } from '../weights/quantized_source.ts';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.ts';
import { generateQwen } from './generate.ts';
import {
  candidateFrameIndices,
  pointMapsFromDepth,
  type SpaceAwareSelection,
  spaceAwareSampling,
} from './space_aware_sampling.ts';
import { openVideo, uniformIndices, type VideoFrame, type VideoSource } from './video.ts';

/** uniform; space-aware from VGGT's point head (upstream sa_sampling.py); space-aware-depth: the paper's variant,
 * world points unprojected from VGGT's depth maps with its predicted cameras. */
export type Sampling = 'uniform' | 'space-aware' | 'space-aware-depth';

export interface PipelineOptions {
  device?: Device;
  lowering?: E.Lowering;
  threads?: number;
  /** Sessions in a worker thread (see GraphSessionOptions.offMainThread). */
  offMainThread?: boolean;
  /** Where per-video geometry for space-aware sampling is cached (default ~/.cache/spatial-mllm/geometry). */
  cacheDir?: string;
  /** Block-quantize the linear layers of Qwen and the connector (MatMulNBits); VGGT stays float32. */
  quant?: { bits: 4 | 8; blockSize: number; accuracyLevel?: 0 | 1 | 2 | 3 | 4 };
}

export interface AskOptions {
  /** Frames given to the model (default 16, as upstream). */
  frames?: number;
  sampling?: Sampling;
  maxNewTokens?: number;
  /** Upstream inference: temperature 0.1, top_p 0.001 (effectively greedy). 0 = greedy. */
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  /** Appended to the question; default: none (put the task prompt in the question). */
  promptSuffix?: string;
  /** Replace the chosen frames by constant grey images of the same size (the blind control). */
  blind?: boolean;
  onStage?: (stage: StageEvent) => void;
  onToken?: (text: string) => void;
  signal?: AbortSignal;
}

export interface StageEvent {
  stage: 'decode' | 'sampling' | 'encoders' | 'prefill' | 'generate';
  state: 'start' | 'end';
  seconds?: number;
  detail?: string;
}

export interface FrameInfo {
  index: number;
  timestamp: number;
}

export interface AskResult {
  answer: string;
  frames: FrameInfo[];
  sampling: Sampling;
  coverage?: { covered: number; total: number; ratio: number; gains: number[] };
  grid: GridThw;
  promptTokens: number;
  newTokens: number;
  timings: Record<'decode' | 'sampling' | 'encoders' | 'prefill' | 'generate' | 'total', number> & {
    tokensPerSecond: number;
  };
  /** The resized frames the model saw, for --save. */
  images: RgbImage[];
}

const MULTIPLE_CHOICE_SUFFIX = "Answer with the option's letter from the given choices directly.";
const NUMERIC_SUFFIX = 'Please answer the question using a single word or phrase.';
export const PROMPT_SUFFIXES = { multipleChoice: MULTIPLE_CHOICE_SUFFIX, numeric: NUMERIC_SUFFIX };

const linearFormat = (o: PipelineOptions): LinearFormat => ({ dtype: 'float32', quant: o.quant });

/** Tokenizer files sit in the checkpoint folder (hub layout) or a `tokenizer/` sub-folder. */
function tokenizerDir(dir: string): string {
  if (existsSync(join(dir, 'tokenizer_config.json'))) return dir;
  if (existsSync(join(dir, 'tokenizer', 'tokenizer_config.json'))) return join(dir, 'tokenizer');
  throw new InputError(
    `${dir} has no tokenizer_config.json (nor tokenizer/): copy the tokenizer files of the checkpoint there`,
  );
}

async function collect(video: VideoSource, indices: readonly number[]): Promise<VideoFrame[]> {
  const out: VideoFrame[] = [];
  for await (const f of video.readFrames(indices)) out.push(f);
  if (out.length === 0) throw new InputError(`${video.path}: no frame could be decoded`);
  return out;
}

export class SpatialMllmPipeline {
  private vggt?: VggtModel;

  private constructor(
    readonly checkpoint: SpatialMllmCheckpoint,
    readonly qwen: Qwen25VLModel,
    readonly tokenizer: QwenTokenizer,
    readonly processor: ProcessorConfig,
    readonly options: PipelineOptions,
  ) {
    const weights = options.quant ? quantizedSource(checkpoint.weights, options.quant) : checkpoint.weights;
    this.fusion = new GraphSessions(weights, options);
  }

  private readonly fusion: GraphSessions;

  /** generation_config.json's max_new_tokens, the default answer length (upstream inference: 1024). */
  private get generationMaxNewTokens(): number | undefined {
    const path = join(this.checkpoint.dir, 'generation_config.json');
    if (!existsSync(path)) return undefined;
    const v = (readJsonFile(path, 'fix the file or remove it') as { max_new_tokens?: unknown })
      .max_new_tokens;
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
  }

  static load(dir: string, options: PipelineOptions = {}): SpatialMllmPipeline {
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new InputError(
        `model folder not found: ${dir} (pass --model with a Spatial-MLLM checkpoint folder)`,
      );
    const checkpoint = openSpatialMllm(dir);
    const weights = options.quant ? quantizedSource(checkpoint.weights, options.quant) : checkpoint.weights;
    const qwen = Qwen25VLModel.load(dir, { ...options, format: linearFormat(options), weights });
    return new SpatialMllmPipeline(
      checkpoint,
      qwen,
      QwenTokenizer.load(tokenizerDir(dir)),
      readProcessorConfig(dir),
      options,
    );
  }

  get config() {
    return this.checkpoint.config;
  }

  /** VGGT with its heads from the same checkpoint (space-aware sampling and the saved geometry need them). */
  geometryModel(): VggtModel {
    if (!this.vggt) {
      const w = vggtWeights(this.checkpoint.checkpoint);
      if (!w.available.point)
        throw new InputError(
          'this checkpoint holds no VGGT point head, which space-aware sampling needs; use --sampling uniform',
        );
      const config = structuredClone(this.config.vggt);
      config.heads = { camera: w.available.camera, depth: w.available.depth, point: true };
      this.vggt = new VggtModel(config, w, {
        device: this.options.device,
        threads: this.options.threads,
        lowering: this.options.lowering,
        offMainThread: this.options.offMainThread,
      });
    }
    return this.vggt;
  }

  /** World points + confidence of the candidate frames, cached per video file (size + mtime), model and variant. */
  private async candidateGeometry(
    video: VideoSource,
    sampling: Exclude<Sampling, 'uniform'>,
  ): Promise<{ candidates: number[]; points: HostTensor; conf: HostTensor }> {
    const candidates = candidateFrameIndices(video.frameCount);
    const st = statSync(video.path);
    const key = createHash('sha256')
      .update(
        JSON.stringify([video.path, st.size, st.mtimeMs, this.checkpoint.dir, candidates.length, sampling]),
      )
      .digest('hex')
      .slice(0, 24);
    const dir =
      this.options.cacheDir ??
      join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'spatial-mllm', 'geometry');
    const file = join(dir, `${key}.safetensors`);
    if (existsSync(file)) {
      const t = readSafetensors(file);
      return { candidates, points: t.get('world_points')!, conf: t.get('world_points_conf')! };
    }
    const frames = await collect(video, candidates);
    const images = spatialMllmSamplingPreprocess(frames.map((f) => f.image));
    const model = this.geometryModel();
    if (sampling === 'space-aware-depth' && !(model.config.heads.depth && model.config.heads.camera))
      throw new InputError('this checkpoint holds no VGGT depth/camera heads; use --sampling space-aware');
    const pred = await model.predict(images);
    let points = pred.worldPoints!;
    let conf = pred.worldPointsConf!;
    if (sampling === 'space-aware-depth') {
      const [S, H, W] = [images.shape[0], images.shape[2], images.shape[3]];
      const poses = pred.poseEncList![pred.poseEncList!.length - 1].data as Float32Array;
      const maps = pointMapsFromDepth(
        pred.depth!.data as Float32Array,
        pred.depthConf!.data as Float32Array,
        poseEncodingToCameras(poses, H, W),
        { frames: S, height: H, width: W },
      );
      points = tensor('float32', [1, S, H, W, 3], maps.points);
      conf = tensor('float32', [1, S, H, W], maps.conf);
    }
    mkdirSync(dir, { recursive: true });
    writeSafetensors(
      file,
      new Map([
        ['world_points', points],
        ['world_points_conf', conf],
      ]),
    );
    return { candidates, points, conf };
  }

  private async chooseFrames(video: VideoSource, k: number, sampling: Sampling) {
    if (sampling === 'uniform')
      return { indices: uniformIndices(video.frameCount, Math.min(k, video.frameCount)) };
    const { candidates, points, conf } = await this.candidateGeometry(video, sampling);
    const [, S, H, W] = points.shape.length === 5 ? points.shape : [1, ...points.shape];
    const selection: SpaceAwareSelection = spaceAwareSampling(
      {
        frames: S,
        height: H,
        width: W,
        points: points.data as Float32Array,
        conf: conf.data as Float32Array,
      },
      k,
    );
    return { indices: selection.selected.map((i) => candidates[i]), selection };
  }

  async ask(videoPath: string, question: string, o: AskOptions = {}): Promise<AskResult> {
    const t0 = performance.now();
    const timings = {
      decode: 0,
      sampling: 0,
      encoders: 0,
      prefill: 0,
      generate: 0,
      total: 0,
      tokensPerSecond: 0,
    };
    const stage = async <T>(
      name: StageEvent['stage'],
      run: () => Promise<T>,
      detail?: (r: T) => string,
    ): Promise<T> => {
      o.onStage?.({ stage: name, state: 'start' });
      const s = performance.now();
      const r = await run();
      const seconds = (performance.now() - s) / 1000;
      if (name in timings) (timings as Record<string, number>)[name] += seconds;
      o.onStage?.({ stage: name, state: 'end', seconds, detail: detail?.(r) });
      return r;
    };
    const k = o.frames ?? 16;
    if (!Number.isInteger(k) || k < 2)
      throw new InputError(`--frames must be an integer ≥ 2, got ${o.frames}`);
    const sampling = o.sampling ?? 'uniform';
    const video = await openVideo(videoPath);
    if (video.frameCount < 1) throw new InputError(`${videoPath}: the video has no frames`);

    const chosen = await stage(
      'sampling',
      () => this.chooseFrames(video, k, sampling),
      (r) => `${r.indices.length} frames (${sampling})`,
    );
    const frames = await stage(
      'decode',
      () => collect(video, chosen.indices),
      (r) => `${r.length} frames decoded`,
    );
    // Qwen pairs frames in time; an odd count repeats the last frame (as its processor does) for both encoders.
    const images = frames.map((f) => (o.blind ? greyLike(f.image) : f.image));
    if (images.length % 2 === 1) images.push(images[images.length - 1]);
    const [h, w] = videoFrameSize(
      images[0].height,
      images[0].width,
      images.length,
      checkpointVideoBounds(this.processor),
    );
    const resized = images.map((img) => (img.width === w && img.height === h ? img : resize(img, w, h)));

    const fused = await stage(
      'encoders',
      async () => {
        // Upstream's inference passes no fps to the processor: second_per_grid_ts is 1 whatever the sampling rate.
        const inputs = processVideos([resized], this.processor, 2);
        const grid = inputs.videoGridThw[0];
        const videoEmbeds = await this.qwen.encodeVision(inputs.pixelValuesVideos, grid);
        const frameTensor = tensor('uint8', [resized.length, h, w, 3]);
        resized.forEach((img, i) => {
          frameTensor.data.set(img.data, i * h * w * 3);
        });
        const fusion = await this.fusionSession(grid);
        const out = await fusion.run({ frames: frameTensor, video_embeds: videoEmbeds });
        return { embeds: out.fused_video_embeds, grid, secondPerGridTs: inputs.secondPerGridTs[0] };
      },
      (r) => `grid ${r.grid.join('×')}, ${r.embeds.shape[0]} visual tokens`,
    );

    const text = o.promptSuffix ? `${question}\n${o.promptSuffix}` : question;
    const rendered = this.tokenizer.applyChatTemplate(
      [{ role: 'user', content: [{ type: 'video' }, { type: 'text', text }] }],
      { addGenerationPrompt: true },
    );
    const q = this.config.qwen;
    const ids = this.tokenizer.encode(
      expandVisionPlaceholders(rendered, {
        videoGridThw: [fused.grid],
        mergeSize: q.vision.spatialMergeSize,
      }),
    );
    const rope = ropeIndex(
      { inputIds: [ids], videoGridThw: [fused.grid], secondPerGridTs: [fused.secondPerGridTs] },
      ropeIndexConfig(q),
    );

    let firstToken = 0;
    const genStart = performance.now();
    o.onStage?.({ stage: 'prefill', state: 'start' });
    const stops = new Set([...q.eosTokenIds, this.tokenizer.special.imEnd, this.tokenizer.special.endOfText]);
    const result = await generateQwen(
      this.qwen,
      {
        inputIds: ids,
        positionIds: rope.positionIds,
        ropeDelta: rope.ropeDeltas[0],
        visualEmbeds: fused.embeds,
      },
      {
        maxNewTokens: o.maxNewTokens ?? this.generationMaxNewTokens ?? 1024,
        temperature: o.temperature ?? 0.1,
        topP: o.topP ?? 0.001,
        topK: o.topK,
        seed: o.seed,
        stopTokens: [...stops],
        signal: o.signal,
        onToken: (token, i) => {
          if (i === 0) {
            firstToken = performance.now();
            timings.prefill = (firstToken - genStart) / 1000;
            o.onStage?.({
              stage: 'prefill',
              state: 'end',
              seconds: timings.prefill,
              detail: `${ids.length} prompt tokens`,
            });
            o.onStage?.({ stage: 'generate', state: 'start' });
          }
          if (!stops.has(token)) o.onToken?.(this.tokenizer.decode([token]));
        },
      },
    );
    const end = performance.now();
    timings.generate = (end - firstToken) / 1000;
    const decodeSteps = Math.max(0, result.tokens.length - 1);
    timings.tokensPerSecond = timings.generate > 0 ? decodeSteps / timings.generate : 0;
    o.onStage?.({
      stage: 'generate',
      state: 'end',
      seconds: timings.generate,
      detail: `${result.tokens.length} tokens, ${timings.tokensPerSecond.toFixed(1)} tokens/s`,
    });
    timings.total = (end - t0) / 1000;

    const answer = this.tokenizer
      .decode(
        result.tokens.filter((t) => !stops.has(t)),
        { skipSpecialTokens: true },
      )
      .trim();
    const sel = chosen.selection;
    return {
      answer,
      frames: frames.map((f) => ({ index: f.index, timestamp: f.timestamp })),
      sampling,
      coverage: sel && {
        covered: sel.covered,
        total: sel.totalVoxels,
        ratio: sel.totalVoxels ? sel.covered / sel.totalVoxels : 0,
        gains: sel.gains,
      },
      grid: fused.grid,
      promptTokens: ids.length,
      newTokens: result.tokens.length,
      timings,
      images: resized,
    };
  }

  private fusionSession(grid: GridThw): Promise<RunnableSession> {
    return this.fusion.get(`fusion:${grid}`, () =>
      buildSpatialFusion(this.config, grid, { spatialInput: 'frames', format: linearFormat(this.options) }),
    );
  }

  async release(): Promise<void> {
    await this.qwen.release();
    await this.fusion.release();
    await this.vggt?.release();
    this.checkpoint.checkpoint.close();
  }
}

export interface SavedFiles {
  frames: string[];
  pointCloud?: string;
  cameras?: string;
  points?: number;
}

/**
 * Writes what the model saw and the geometry behind it: the selected frames (PNG), VGGT's coloured point cloud of
 * those frames (binary PLY, points above the 50th confidence percentile) and their cameras (JSON).
 */
export async function saveAnswerArtifacts(
  pipeline: SpatialMllmPipeline,
  result: AskResult,
  dir: string,
): Promise<SavedFiles> {
  mkdirSync(dir, { recursive: true });
  const frames = result.images.slice(0, result.frames.length).map((img, i) => {
    const path = join(dir, `frame_${String(i).padStart(2, '0')}_${result.frames[i].index}.png`);
    writeFileSync(path, encodePng(img));
    return path;
  });
  const saved: SavedFiles = { frames };
  const w = vggtWeights(pipeline.checkpoint.checkpoint);
  if (!w.available.point || !w.available.camera) return saved;
  const images = vggtPreprocess(result.images.slice(0, result.frames.length), 'crop');
  const [, , H, W] = images.shape;
  const pred = await pipeline.geometryModel().predict(images);
  const S = result.frames.length;
  const dims = { frames: S, height: H, width: W };
  const { mask } = confidenceMask(pred.worldPointsConf!.data as Float32Array, 50, 1e-5);
  const cloud = maskedPointCloud(pred.worldPoints!.data as Float32Array, images.data, mask, dims);
  saved.pointCloud = join(dir, 'points.ply');
  writeFileSync(saved.pointCloud, encodePly(cloud));
  saved.points = cloud.positions.length / 3;
  const poses = pred.poseEncList![pred.poseEncList!.length - 1].data as Float32Array;
  const records = cameraRecords(poseEncodingToCameras(poses, H, W), H, W).map((r, i) => ({
    ...r,
    frame: result.frames[i].index,
    timestamp: result.frames[i].timestamp,
  }));
  saved.cameras = join(dir, 'cameras.json');
  writeFileSync(
    saved.cameras,
    `${JSON.stringify({ convention: 'OpenCV camera-from-world [R|t], first camera at origin, up to scale', cameras: records }, null, 2)}\n`,
  );
  return saved;
}

/** Mid-grey (128) image of the same size: the frames a blind run gives the model. */
function greyLike(img: RgbImage): RgbImage {
  return { width: img.width, height: img.height, data: new Uint8Array(img.data.length).fill(128) };
}
