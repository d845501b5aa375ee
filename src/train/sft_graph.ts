// The trainable part of Spatial-MLLM as one graph with the SFT loss. Upstream SFT (THU-SI/Spatial-MLLM
// `train_qwen.py` `set_model`, tune_mm_connector + tune_mm_llm) trains the vision PatchMerger, the connector and the
// whole LLM; the ViT blocks and VGGT are frozen. Their outputs do not depend on anything that trains, so they are
// computed beforehand (frozen_encoders.ts) and enter here as inputs:
//   vit_hidden [4·V, C]       the last ViT block's output, merge groups in merged-token order;
//   spatial_merged [V, M]     the selected VGGT aggregator layer after the 3D token merge;
//   input_ids [1, S], position_ids [3, 1, S], visual_index [V, 1] (positions of the <|video_pad|> tokens);
//   labels [1, S] int64 already shifted (label i is the target of logits i), IGNORE_INDEX where not scored;
//   loss_denominator []: scored tokens × gradient-accumulation steps (upstream: each micro-batch's token mean
//   divided by the accumulation steps).
// video embeds = merger(vit_hidden) + connector(spatial_merged) fill the pad tokens; the decoder is the inference
// graph (text_decoder.ts) inlined with an empty KV cache; output `loss`.
import * as E from '../engine/index.ts';
import { inline } from '../engine/lower.ts';
import type { LinearFormat } from '../models/layers.ts';
import { buildTextDecoder } from '../models/qwen2_5_vl/text_decoder.ts';
import { patchMerger } from '../models/qwen2_5_vl/vision_encoder.ts';
import type { SpatialMllmConfig } from '../models/spatial_mllm/config.ts';
import { connector } from '../models/spatial_mllm/connector.ts';
import { tensor } from '../tensor.ts';
import { IGNORE_INDEX, maskedCrossEntropy } from './losses.ts';

export interface SftGraphOptions {
  /** Format of the LLM's linear layers (frozen LLM weights may be quantized when LoRA trains adapters). */
  format?: LinearFormat;
  /**
   * SFT: logits at every position instead of the labelled ones only (same loss and gradients; S × vocab floats per
   * copy: the benchmark's baseline).
   */
  allLogits?: boolean;
  /**
   * The decoder's attention as the primitive one ([heads, S, S] probabilities kept for the backward pass) instead
   * of one head at a time (engine/blocked_attention.ts): the benchmark's baseline.
   */
  fullAttention?: boolean;
}

/**
 * The trainable model up to the logits: inputs vit_hidden, spatial_merged, input_ids, position_ids, visual_index;
 * returns the graph and logits [1, S, V] float32 (a loss head is added by the caller), or [1, N, V] at the N
 * positions `rows` computes from the graph's inputs. The merger and connector always run in float32: they train.
 */
export function buildTrainableLogits(
  cfg: SpatialMllmConfig,
  name: string,
  o: SftGraphOptions = {},
  rows?: (g: E.Graph) => E.Tensor,
): { graph: E.Graph; logits: E.Tensor } {
  const { graph, outputs } = trainableModel(cfg, name, o, { rows });
  return { graph, logits: outputs.logits };
}

/**
 * The same model as an incremental decoder for sampling from the policy (GRPO rollouts): inputs as
 * buildTrainableLogits plus past_key.i / past_value.i [1, KVH, P, D]; outputs `logits` [1, 1, V] of the last
 * position and present_key.i / present_value.i. The prompt runs once with an empty cache and its video, each new
 * token with the cache and no video (0 visual rows).
 */
export function buildPolicyDecoder(cfg: SpatialMllmConfig, o: SftGraphOptions = {}): E.Graph {
  const { graph, outputs } = trainableModel(cfg, 'policy', o, { cache: true });
  for (const [k, t] of Object.entries(outputs)) graph.output(k, t);
  return graph;
}

/** The decoder inlined after the merger and connector (the video embeddings fill the pad positions). */
function trainableModel(
  cfg: SpatialMllmConfig,
  name: string,
  o: SftGraphOptions,
  d: { rows?: (g: E.Graph) => E.Tensor; cache?: boolean },
): { graph: E.Graph; outputs: Record<string, E.Tensor> } {
  const text = cfg.qwen.text;
  const decoder = buildTextDecoder(text, {
    allLogits: !d.cache,
    logitsIndex: !!d.rows,
    format: o.format,
    layerBoundaries: !d.cache,
    blockedAttention: !d.cache && !o.fullAttention,
  });
  // Continue the decoder's fresh-dim numbering so inlined shapes never collide with ours.
  const g = new E.Graph(`spatial_mllm_${cfg.version}_${name}`, decoder.freshCount);
  const C = cfg.qwen.vision.hiddenSize;
  const vit = g.input('vit_hidden', 'float32', ['patches', C]);
  const spatial = g.input('spatial_merged', 'float32', ['visual', cfg.connector.mergedDim]);
  const inputs: Record<string, E.Tensor> = {
    input_ids: g.input('input_ids', 'int64', [1, 'seq']),
    position_ids: g.input('position_ids', 'int64', [3, 1, 'seq']),
    visual_index: g.input('visual_index', 'int64', ['visual', 1]),
  };
  const video = patchMerger(g, vit, cfg.qwen.vision);
  inputs.visual_embeds = E.add(video, connector(g, spatial, cfg.connector).projection);
  const dtype = o.format?.dtype ?? 'float32';
  const cacheShape = [1, text.numKvHeads, 'past', text.headDim];
  const empty = E.constant(g, tensor(dtype, [1, text.numKvHeads, 0, text.headDim]));
  for (let i = 0; i < text.numLayers; i++)
    for (const kv of ['key', 'value'])
      inputs[`past_${kv}.${i}`] = d.cache ? g.input(`past_${kv}.${i}`, dtype, cacheShape) : empty;
  if (d.rows) inputs.logits_index = d.rows(g);
  const out = inline(decoder, g, inputs);
  if (!d.cache) return { graph: g, outputs: { logits: out.logits } };
  const { hidden_states: _, ...kept } = out;
  return { graph: g, outputs: kept };
}

/**
 * The SFT graph: buildTrainableLogits + labels, loss_denominator → `loss`. Logits are computed only where a label
 * counts (the assistant tokens: tens of rows instead of a whole ~3k-token sequence × 151,936): upstream's
 * cross-entropy ignores the other positions, so the loss and every gradient are the same.
 */
export function buildSftGraph(cfg: SpatialMllmConfig, o: SftGraphOptions = {}): E.Graph {
  if (o.allLogits) {
    const { graph: g, logits } = buildTrainableLogits(cfg, 'sft', o);
    const labels = g.input('labels', 'int64', [1, 'seq']);
    g.output('loss', maskedCrossEntropy(logits, labels, g.input('loss_denominator', 'float32', [])));
    return g;
  }
  let labels: E.Tensor | undefined;
  let scored: E.Tensor | undefined;
  const { graph: g, logits } = buildTrainableLogits(cfg, 'sft', o, (g) => {
    labels = E.squeeze(g.input('labels', 'int64', [1, 'seq']), [0]);
    scored = labelledPositions(labels);
    return scored;
  });
  const denominator = g.input('loss_denominator', 'float32', []);
  const target = E.unsqueeze(E.gather(labels!, scored!, 0), [0]);
  g.output('loss', maskedCrossEntropy(logits, target, denominator));
  return g;
}

/** Positions whose label is not IGNORE_INDEX: labels [S] int64 → int64 [N]. */
export function labelledPositions(labels: E.Tensor): E.Tensor {
  const g = labels.graph;
  const [nz] = g.node(
    'NonZero',
    [E.not(E.equal(labels, IGNORE_INDEX))],
    [{ dtype: 'int64', shape: [1, g.freshDim('labelled')] }],
  );
  return E.squeeze(nz, [0]);
}
