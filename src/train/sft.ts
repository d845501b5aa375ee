// Spatial-MLLM supervised fine-tuning as upstream trains it (THU-SI/Spatial-MLLM `src/qwenvl/train/train_qwen.py`,
// `trainer.py` `create_optimizer`, transformers 4.51 `Trainer`): the model object `train sft` and the parity test
// both use. One optimizer step takes `gradAccum` micro-batches of one sample each; per micro-batch the loss is the
// mean cross-entropy over its own label tokens divided by the accumulation steps (the model's forward takes no
// `num_items_in_batch`); gradients are clipped to a global norm (torch clip_grad_norm_, coefficient always
// applied); AdamW over 4 parameter groups with a cosine schedule whose first warmup step runs at lr 0.
import { existsSync, statSync } from 'node:fs';
import type * as E from '../engine/index.ts';
import { InputError } from '../errors.ts';
import type { LinearFormat } from '../models/layers.ts';
import { ropeIndexConfig } from '../models/qwen2_5_vl/config.ts';
import type { ProcessorConfig } from '../models/qwen2_5_vl/image_processor.ts';
import { Qwen25VLProcessor } from '../models/qwen2_5_vl/processor.ts';
import { ropeIndex } from '../models/qwen2_5_vl/rope_index.ts';
import type { QwenTokenizer } from '../models/qwen2_5_vl/tokenizer.ts';
import { openSpatialMllm, type SpatialMllmCheckpoint } from '../models/spatial_mllm/checkpoint.ts';
import type { SpatialMllmConfig } from '../models/spatial_mllm/config.ts';
import type { Device } from '../runtime/session.ts';
import { f32, type HostTensor, i64 } from '../tensor.ts';
import { castTensor, type FloatDType, isFloat } from '../weights/convert.ts';
import { quantizedSource } from '../weights/quantized_source.ts';
import { FrozenEncoders } from './frozen_encoders.ts';
import { applyLora, initLora, type LoraConfig, type LoraModule } from './lora.ts';
import { IGNORE_INDEX } from './losses.ts';
import { Rng } from './rng.ts';
import type { Schedule } from './schedule.ts';
import type { SftRecord } from './sft_data.ts';
import { loadSftExample, type SftExample, UPSTREAM_VIDEO_ARGS, type VideoArgs } from './sft_example.ts';
import { buildSftGraph, type SftGraphOptions } from './sft_graph.ts';
import { shiftLabels } from './sft_labels.ts';
import { type ParamGroup, type StepResult, Trainer } from './trainer.ts';

export interface SftHyperparameters {
  /** LLM rate (upstream `learning_rate`). */
  lr: number;
  /** Connector and vision merger rate (upstream `mm_projector_lr`). */
  projectorLr: number;
  weightDecay: number;
  betas: [number, number];
  eps: number;
  schedule: Schedule['kind'];
  warmupRatio: number;
  maxGradNorm: number;
  /** Micro-batches (of one sample) per optimizer step. */
  gradAccum: number;
  /** Schedule length in optimizer steps. */
  totalSteps: number;
}

/** `scripts/training/spatial_mllm_train_demo.sh` with torch/HF defaults for the rest (totalSteps from the data). */
export const UPSTREAM_SFT: Omit<SftHyperparameters, 'totalSteps'> = {
  lr: 7e-6,
  projectorLr: 2e-5,
  weightDecay: 0.1,
  betas: [0.9, 0.999],
  eps: 1e-8,
  schedule: 'cosine',
  warmupRatio: 0.03,
  maxGradNorm: 1,
  gradAccum: 8,
};

export interface SftOptions {
  hyper: SftHyperparameters;
  video?: VideoArgs;
  /** LoRA on the LLM's linear layers (connector and merger stay fully trainable). */
  lora?: { rank: number; alpha?: number; seed?: number };
  /** Block-quantize the frozen LLM linear weights (LoRA only: trainable tensors must stay float32). */
  frozenQuant?: 'int4' | 'int8';
  /**
   * Recompute each decoder layer in the backward pass instead of keeping its activations (HF
   * `gradient_checkpointing`). Default: on with a quantized frozen base (the configuration whose point is to fit a
   * real-length sample of the 3B model in memory), off otherwise as upstream's script (`--gradient_checkpointing
   * False`): it costs one more forward pass of the decoder per step.
   */
  gradientCheckpointing?: boolean;
  /** Logits at every position, not only the labelled ones (benchmark baseline; sft_graph.ts). */
  allLogits?: boolean;
  /** Attention with all heads at once (benchmark baseline; sft_graph.ts). */
  fullAttention?: boolean;
  /** Where frozen-encoder outputs are cached; none = recompute every time. */
  encoderCache?: string;
  device?: Device;
  threads?: number;
  keepGradients?: boolean;
  /** The training graph (default the SFT loss head) and the extra outputs each step returns (GRPO). */
  head?: { build: (cfg: SpatialMllmConfig, o: SftGraphOptions) => E.Graph; outputs: string[] };
}

/** Whether a run recomputes each decoder layer: as asked, else on with a quantized frozen base (see SftOptions). */
export const gradientCheckpointingOf = (
  o: Pick<SftOptions, 'gradientCheckpointing' | 'frozenQuant'>,
): boolean => o.gradientCheckpointing ?? o.frozenQuant !== undefined;

/** Upstream `create_optimizer`: projector = the vision merger and the connector (they get mm_projector_lr). */
export const isProjector = (name: string): boolean =>
  name.startsWith('visual.merger.') || name.startsWith('connector.');

/**
 * Upstream decays every parameter except those of `nn.LayerNorm` modules and names containing "bias". The only
 * LayerNorms of Spatial-MLLM are in the frozen VGGT, so among trainable tensors the rule is the name: RMSNorm
 * weights, the (tied) embedding and `ln_q` are decayed.
 */
export const isDecayed = (name: string): boolean => !name.includes('bias');

/** The 4 groups of upstream `create_optimizer` (vision_tower_lr unset), in its order. */
export function upstreamParamGroups(
  h: Pick<SftHyperparameters, 'lr' | 'projectorLr' | 'weightDecay'>,
): ParamGroup[] {
  const group = (name: string, projector: boolean, decay: boolean): ParamGroup => ({
    name,
    match: (n) => isProjector(n) === projector && isDecayed(n) === decay,
    lr: projector ? h.projectorLr : h.lr,
    weightDecay: decay ? h.weightDecay : 0,
  });
  return [
    group('decay', false, true),
    group('no_decay', false, false),
    group('projector_decay', true, true),
    group('projector_no_decay', true, false),
  ];
}

/** LoRA targets on the LLM only: attention and MLP projections of the decoder layers. */
export const LLM_LORA_TARGETS = String.raw`model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)`;

export interface SftStep extends StepResult {
  /** Mean CE of each micro-batch (before the 1/gradAccum scaling), as upstream logs per micro-batch. */
  microLosses: number[];
  /** Mean of microLosses: upstream's logged loss for the step. */
  loss: number;
  /** min(maxGradNorm / (norm + 1e-6), 1) in float32, as torch computes it. */
  clipCoef?: number;
  labelTokens: number[];
  frozenCached: number;
}

const QUANT = {
  int4: { bits: 4 as const, blockSize: 32 },
  int8: { bits: 8 as const, blockSize: 32 },
};

/** The LLM linear layers' format: float32, or block-quantized frozen weights (LoRA). */
const linearFormat = (o: Pick<SftOptions, 'frozenQuant'>): LinearFormat => ({
  dtype: 'float32',
  quant: o.frozenQuant ? QUANT[o.frozenQuant] : undefined,
});

export class SftModel {
  private constructor(
    readonly checkpoint: SpatialMllmCheckpoint,
    readonly tokenizer: QwenTokenizer,
    readonly processor: ProcessorConfig,
    readonly trainer: Trainer,
    readonly frozen: FrozenEncoders,
    readonly options: SftOptions,
    readonly lora: { config: LoraConfig; modules: LoraModule[] } | undefined,
    /**
     * The graph before LoRA (the reference policy's) and the starting value of every parameter it reads (frozen
     * ones only without a custom head: nothing needs the reference then).
     */
    readonly base: { graph: E.Graph; weights: Map<string, HostTensor> },
  ) {}

  static async load(dir: string, options: SftOptions): Promise<SftModel> {
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new InputError(
        `model folder not found: ${dir} (pass --model with a Spatial-MLLM checkpoint folder)`,
      );
    if (options.frozenQuant && !options.lora)
      throw new InputError(
        'a quantized frozen base needs LoRA (--lora-rank): full SFT trains every LLM weight',
      );
    const checkpoint = openSpatialMllm(dir);
    const cfg = checkpoint.config;
    const format = linearFormat(options);
    const quant = format.quant;
    const llmWeights: E.WeightSource = quant
      ? quantizedSource(checkpoint.weights, quant)
      : checkpoint.weights;
    const baseGraph = (options.head?.build ?? buildSftGraph)(cfg, {
      format,
      allLogits: options.allLogits,
      fullAttention: options.fullAttention,
    });
    let graph = baseGraph;
    let lora: SftModel['lora'];
    const weights = new Map<string, HostTensor>();
    if (options.lora) {
      const config: LoraConfig = {
        r: options.lora.rank,
        alpha: options.lora.alpha ?? 2 * options.lora.rank,
        targets: LLM_LORA_TARGETS,
      };
      const applied = applyLora(graph, config);
      graph = applied.graph;
      lora = { config, modules: applied.modules };
      for (const [k, v] of initLora(applied.modules, config, new Rng(options.lora.seed ?? 0)))
        weights.set(k, v);
    }
    // Checkpoints store bf16 (as published) or fp32; parameters are fed in the dtype the graph declares.
    for (const [name, decl] of graph.params)
      if (!weights.has(name)) {
        const t = (isProjector(name) ? checkpoint.weights : llmWeights).read(name);
        weights.set(
          name,
          t.dtype === decl.dtype || !isFloat(t.dtype) ? t : castTensor(t, decl.dtype as FloatDType),
        );
      }
    const h = options.hyper;
    const trainable = options.lora ? (n: string) => isProjector(n) || n.includes('.lora_') : () => true;
    const trainer = Trainer.create(graph, weights, {
      trainable,
      optimizer: { kind: 'adamw', betas: h.betas, eps: h.eps },
      lr: h.lr,
      weightDecay: h.weightDecay,
      groups: upstreamParamGroups(h),
      schedule: {
        kind: h.schedule,
        warmupSteps: Math.ceil(h.totalSteps * h.warmupRatio),
        totalSteps: h.totalSteps,
      },
      maxGradNorm: h.maxGradNorm > 0 ? h.maxGradNorm : undefined,
      session: { threads: options.threads, device: options.device },
      keepGradients: options.keepGradients,
      outputs: options.head?.outputs,
      adopt: !options.head,
      recompute: gradientCheckpointingOf(options),
    });
    // The starting values of trainable tensors are only kept for a head that needs the reference model (GRPO);
    // otherwise the trainer updates them in place (adopt).
    if (!options.head) for (const n of trainer.trainable) weights.delete(n);
    const processor = Qwen25VLProcessor.load(dir, ropeIndexConfig(cfg.qwen));
    const frozen = new FrozenEncoders(checkpoint, {
      cacheDir: options.encoderCache,
      device: options.device,
      threads: options.threads,
    });
    return new SftModel(checkpoint, processor.tokenizer, processor.config, trainer, frozen, options, lora, {
      graph: baseGraph,
      weights,
    });
  }

  get config() {
    return this.checkpoint.config;
  }

  /**
   * Another graph of this model (`build` with the frozen linears' format) carrying the same LoRA adapters: it reads
   * the trainer's current parameters (`trainer.parameters()`), e.g. the KV-cache decoder GRPO samples with.
   */
  policyGraph(build: (cfg: SpatialMllmConfig, o: SftGraphOptions) => E.Graph): E.Graph {
    const g = build(this.config, { format: linearFormat(this.options) });
    return this.lora ? applyLora(g, this.lora.config).graph : g;
  }

  loadExample(record: SftRecord): Promise<SftExample> {
    return loadSftExample(record, {
      tokenizer: this.tokenizer,
      processor: this.processor,
      config: this.config.qwen,
      video: this.options.video ?? UPSTREAM_VIDEO_ARGS,
    });
  }

  /** The training graph's feeds for one sample. */
  async feeds(
    ex: SftExample,
    scale = this.options.hyper.gradAccum,
  ): Promise<{ feeds: Record<string, HostTensor>; labelTokens: number; cached: boolean }> {
    const labels = shiftLabels(ex.labels);
    const labelTokens = labels.filter((l) => l !== IGNORE_INDEX).length;
    if (labelTokens === 0)
      throw new InputError(`${ex.record.where}: every answer token is masked; the answer turn is too short`);
    const { feeds, cached } = await this.sequenceFeeds(ex, ex.inputIds, ex.positionIds);
    feeds.labels = i64([1, labels.length], labels);
    feeds.loss_denominator = f32([], [labelTokens * scale]);
    return { feeds, labelTokens, cached };
  }

  /**
   * The model inputs for token ids `inputIds` over the video of `ex` (the frozen encoders' outputs, pad positions,
   * M-RoPE positions computed unless given): the common part of the SFT and GRPO feeds.
   */
  async sequenceFeeds(
    ex: SftExample,
    inputIds: readonly number[],
    positionIds?: HostTensor,
  ): Promise<{ feeds: Record<string, HostTensor>; cached: boolean }> {
    const { vitHidden, spatialMerged, cached } = await this.frozen.encode(ex);
    const videoPad = this.config.qwen.videoTokenId;
    const visual = inputIds.flatMap((id, i) => (id === videoPad ? [i] : []));
    const positions =
      positionIds ??
      ropeIndex(
        { inputIds: [inputIds], videoGridThw: [ex.grid], secondPerGridTs: [ex.secondPerGridTs] },
        ropeIndexConfig(this.config.qwen),
      ).positionIds;
    return {
      feeds: {
        vit_hidden: vitHidden,
        spatial_merged: spatialMerged,
        input_ids: i64([1, inputIds.length], inputIds),
        position_ids: positions,
        visual_index: i64([visual.length, 1], visual),
      },
      cached,
    };
  }

  /** One optimizer step over `examples` (one micro-batch each). */
  async step(examples: readonly SftExample[]): Promise<SftStep> {
    const prepared = [];
    for (const ex of examples) prepared.push(await this.feeds(ex));
    const r = await this.trainer.step(prepared.map((p) => p.feeds));
    const ga = this.options.hyper.gradAccum;
    const microLosses = r.losses.map((l) => Math.fround(l * ga));
    const max = this.options.hyper.maxGradNorm;
    return {
      ...r,
      microLosses,
      loss: microLosses.reduce((a, b) => a + b, 0) / microLosses.length,
      clipCoef:
        r.gradNorm === undefined ? undefined : Math.min(Math.fround(max / Math.fround(r.gradNorm + 1e-6)), 1),
      labelTokens: prepared.map((p) => p.labelTokens),
      frozenCached: prepared.filter((p) => p.cached).length,
    };
  }

  /** Mean over samples of each sample's mean token cross-entropy, at the current weights. */
  async evalLoss(examples: readonly SftExample[]): Promise<number> {
    let total = 0;
    for (const ex of examples) {
      const { feeds } = await this.feeds(ex, 1);
      total += (await this.trainer.evaluate(feeds)).loss.data[0] as number;
    }
    return total / examples.length;
  }

  async release(): Promise<void> {
    await this.trainer.release();
    await this.frozen.release();
    this.checkpoint.checkpoint.close();
  }
}
