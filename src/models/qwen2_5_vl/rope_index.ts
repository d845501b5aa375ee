// Multimodal RoPE (M-RoPE) position ids of Qwen2.5-VL: three position components (temporal, height, width) per
// token. Text advances all three together; an image/video block lays its merged tokens on a (t, h, w) grid whose
// temporal index is scaled to absolute time; the text after a block resumes at the block's max + 1.
// Upstream: transformers 4.51 `models/qwen2_5_vl/modeling_qwen2_5_vl.py`,
// `Qwen2_5_VLForConditionalGeneration.get_rope_index` and the decode branch of `forward`.

import { InputError } from '../../errors.ts';
import { type HostTensor, tensor } from '../../tensor.ts';

/** Token ids (or attention-mask values) of one sequence. */
export type TokenIds = readonly number[] | Int32Array | BigInt64Array;

/** [t, h, w] of an image or video in 14-px patches (before the 2×2 spatial merge). */
export type GridThw = readonly [number, number, number];

/** The config values get_rope_index reads (top-level config.json and its vision_config). */
export interface RopeIndexConfig {
  imageTokenId: number;
  videoTokenId: number;
  visionStartTokenId: number;
  spatialMergeSize: number;
  tokensPerSecond: number;
}

export interface RopeIndexInput {
  /** One row per batch element, all the same length. */
  inputIds: readonly TokenIds[];
  /** 1 = real token, 0 = padding; same shape as inputIds. */
  attentionMask?: readonly TokenIds[];
  /** Grids of all images / videos of the batch, in prompt order. Absent (or empty) means none. */
  imageGridThw?: readonly GridThw[];
  videoGridThw?: readonly GridThw[];
  /** Seconds per temporal grid step of each video (temporal_patch_size / fps); 1 when absent. */
  secondPerGridTs?: readonly number[];
}

export interface RopeIndex {
  /** [3, B, S] int64: rows temporal, height, width. Padding positions hold 1, as upstream. */
  positionIds: HostTensor<'int64'>;
  /** Per batch row: max position + 1 − S, the offset decode steps add to the cache position. */
  ropeDeltas: number[];
}

const rowValues = (row: TokenIds): number[] => Array.from(row as ArrayLike<number | bigint>, Number);

/** M-RoPE position ids and rope deltas for a prefill. */
export function ropeIndex(input: RopeIndexInput, config: RopeIndexConfig): RopeIndex {
  const rows = input.inputIds.map(rowValues);
  const [batch, seq] = [rows.length, rows[0]?.length ?? 0];
  if (rows.some((r) => r.length !== seq))
    throw new Error('ropeIndex: every input_ids row must have the same length');
  const masks = input.attentionMask?.map(rowValues);
  const positions = new BigInt64Array(3 * batch * seq);
  const ropeDeltas: number[] = [];
  const hasVision = (input.imageGridThw?.length ?? 0) + (input.videoGridThw?.length ?? 0) > 0;

  if (!hasVision) {
    // Text only: positions count the real tokens; padding gets 1. Without a mask, plain aranges and delta 0.
    for (let b = 0; b < batch; b++) {
      let [next, max] = [0, Number.NEGATIVE_INFINITY];
      for (let i = 0; i < seq; i++) {
        const real = masks?.[b][i] !== 0;
        const p = masks ? (real ? next++ : 1) : i;
        max = Math.max(max, p);
        for (let axis = 0; axis < 3; axis++) positions[(axis * batch + b) * seq + i] = BigInt(p);
      }
      ropeDeltas.push(masks ? max + 1 - seq : 0);
    }
    return { positionIds: tensor('int64', [3, batch, seq], positions), ropeDeltas };
  }

  const cursor = { image: 0, video: 0 };
  for (let b = 0; b < batch; b++) {
    const keep = rows[b].map((_, i) => !masks || masks[b][i] === 1);
    const tokens = rows[b].filter((_, i) => keep[i]);
    const seqPositions = sequencePositions(tokens, input, config, cursor);
    let [k, max] = [0, Number.NEGATIVE_INFINITY];
    for (let i = 0; i < seq; i++) {
      for (let axis = 0; axis < 3; axis++) {
        const p = keep[i] ? seqPositions[axis][k] : 1;
        positions[(axis * batch + b) * seq + i] = BigInt(p);
        if (keep[i]) max = Math.max(max, p);
      }
      if (keep[i]) k++;
    }
    ropeDeltas.push(max + 1 - seq);
  }
  return { positionIds: tensor('int64', [3, batch, seq], positions), ropeDeltas };
}

/** Positions [t[], h[], w[]] of the real tokens of one sequence; advances the shared image/video cursors. */
function sequencePositions(
  tokens: number[],
  input: RopeIndexInput,
  config: RopeIndexConfig,
  cursor: { image: number; video: number },
): number[][] {
  const { imageTokenId, videoTokenId, visionStartTokenId, spatialMergeSize: m } = config;
  let [images, videos] = [0, 0];
  tokens.forEach((tok, i) => {
    if (tok !== visionStartTokenId) return;
    if (tokens[i + 1] === imageTokenId) images++;
    if (tokens[i + 1] === videoTokenId) videos++;
  });
  const out: number[][] = [[], [], []];
  const push = (t: number, h: number, w: number) => {
    out[0].push(t);
    out[1].push(h);
    out[2].push(w);
  };
  let [st, nextStart] = [0, 0];
  for (let block = 0; block < images + videos; block++) {
    const edImage = images > 0 ? tokens.indexOf(imageTokenId, st) : -1;
    const edVideo = videos > 0 ? tokens.indexOf(videoTokenId, st) : -1;
    const isImage = edImage >= 0 && (edVideo < 0 || edImage < edVideo);
    const ed = isImage ? edImage : edVideo;
    if (ed < 0)
      throw new InputError(
        'the prompt has a <|vision_start|> without its image/video tokens after it: build the prompt with the chat template',
      );
    const grids = isImage ? input.imageGridThw : input.videoGridThw;
    const index = isImage ? cursor.image++ : cursor.video++;
    const grid = grids?.[index];
    if (!grid)
      throw new InputError(
        `the prompt has more ${isImage ? 'image' : 'video'} blocks than ${isImage ? 'image' : 'video'} grids (${grids?.length ?? 0}): pass one grid per block`,
      );
    if (isImage) images--;
    else videos--;
    // Images sit at time 0; a video's grid step t lands at trunc(t · second_per_grid_t · tokens_per_second),
    // evaluated in float32 like upstream's tensors.
    const secondsPerStep = isImage ? 0 : Math.fround(input.secondPerGridTs?.[index] ?? 1);
    const [gt, gh, gw] = [grid[0], Math.floor(grid[1] / m), Math.floor(grid[2] / m)];
    for (let i = 0; i < ed - st; i++) push(nextStart + i, nextStart + i, nextStart + i);
    const base = nextStart + ed - st;
    let max = base;
    for (let t = 0; t < gt; t++) {
      const time = Math.trunc(Math.fround(Math.fround(t * secondsPerStep) * config.tokensPerSecond));
      for (let h = 0; h < gh; h++) for (let w = 0; w < gw; w++) push(base + time, base + h, base + w);
      max = Math.max(max, base + time, base + gh - 1, base + gw - 1);
    }
    nextStart = max + 1;
    st = ed + gt * gh * gw;
  }
  for (let i = 0; i < tokens.length - st; i++) push(nextStart + i, nextStart + i, nextStart + i);
  return out;
}

/**
 * Positions of `length` tokens fed during decoding after `cacheStart` cached ones: cacheStart + i + delta on all
 * three axes ([3, B, length] int64), as upstream's forward does once rope_deltas is known.
 */
export function decodePositionIds(
  cacheStart: number,
  length: number,
  ropeDeltas: readonly number[],
): HostTensor<'int64'> {
  const batch = ropeDeltas.length;
  const out = new BigInt64Array(3 * batch * length);
  for (let axis = 0; axis < 3; axis++)
    for (let b = 0; b < batch; b++)
      for (let i = 0; i < length; i++)
        out[(axis * batch + b) * length + i] = BigInt(cacheStart + i + ropeDeltas[b]);
  return tensor('int64', [3, batch, length], out);
}
