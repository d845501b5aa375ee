// Token generation: sampling (greedy, temperature, top-k, top-p; seedable) and the decode loop over any model
// that maps "next token" to logits. Matches transformers' processing order: temperature, then top-k, then top-p.
import { sfc32 } from '../random.ts';
import type { HostTensor } from '../tensor.ts';
import type { KvCache, Qwen25VLModel } from './qwen2_5_vl/model.ts';
import { decodePositionIds } from './qwen2_5_vl/rope_index.ts';

export interface TokenSampling {
  /** 0 or undefined = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export interface GenerateOptions extends TokenSampling {
  maxNewTokens: number;
  stopTokens?: readonly number[];
  /** Called with each new token as soon as it is chosen (streaming). */
  onToken?: (token: number, index: number) => void;
  /** Keep every step's raw logits (parity tests). */
  keepLogits?: boolean;
  signal?: AbortSignal;
}

export interface GenerateResult {
  tokens: number[];
  stoppedBy: 'stop-token' | 'max-tokens' | 'aborted';
  stepLogits?: Float32Array[];
}

/** A seeded uniform generator in [0, 1) (sfc32). */
export function seededRandom(seed: number): () => number {
  const next = sfc32(0x9e3779b9, 0x243f6a88, 0xb7e15162, seed >>> 0);
  for (let i = 0; i < 12; i++) next();
  return () => next() / 4294967296;
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Chooses the next token from one position's logits. */
export function sampleToken(logits: ArrayLike<number>, o: TokenSampling, random: () => number): number {
  if (!o.temperature || o.temperature <= 0) return argmax(logits);
  const n = logits.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
  let keep = o.topK && o.topK > 0 ? Math.min(o.topK, n) : n;
  const scaled = order.slice(0, keep).map((i) => logits[i] / o.temperature!);
  const max = scaled[0];
  const probs = scaled.map((v) => Math.exp(v - max));
  let z = probs.reduce((a, b) => a + b, 0);
  if (o.topP !== undefined && o.topP < 1) {
    // Smallest prefix whose mass reaches top_p (at least one token), as transformers' TopPLogitsWarper.
    let mass = 0;
    for (let i = 0; i < keep; i++) {
      mass += probs[i] / z;
      if (mass >= o.topP) {
        keep = i + 1;
        break;
      }
    }
    z = probs.slice(0, keep).reduce((a, b) => a + b, 0);
  }
  let u = random() * z;
  for (let i = 0; i < keep; i++) {
    u -= probs[i];
    if (u <= 0) return order[i];
  }
  return order[keep - 1];
}

/**
 * The decode loop. `prefill` returns the logits of the prompt's last position; `step(token)` feeds one chosen token
 * and returns the logits after it.
 */
export async function generate(
  prefill: () => Promise<ArrayLike<number>>,
  step: (token: number) => Promise<ArrayLike<number>>,
  o: GenerateOptions,
): Promise<GenerateResult> {
  const random = seededRandom(o.seed ?? 0);
  const stop = new Set(o.stopTokens ?? []);
  const tokens: number[] = [];
  const stepLogits: Float32Array[] = [];
  let logits = await prefill();
  for (;;) {
    if (o.signal?.aborted) return { tokens, stoppedBy: 'aborted', stepLogits };
    if (o.keepLogits) stepLogits.push(Float32Array.from(logits));
    const token = sampleToken(logits, o, random);
    tokens.push(token);
    o.onToken?.(token, tokens.length - 1);
    if (stop.has(token))
      return { tokens, stoppedBy: 'stop-token', stepLogits: o.keepLogits ? stepLogits : undefined };
    if (tokens.length >= o.maxNewTokens)
      return { tokens, stoppedBy: 'max-tokens', stepLogits: o.keepLogits ? stepLogits : undefined };
    logits = await step(token);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Qwen2.5-VL generation: prefill the prompt (with its visual features), then one token per step with the KV cache
// and M-RoPE decode positions (cache position + rope delta on all three axes).

export interface PromptInput {
  inputIds: readonly number[];
  positionIds: HostTensor;
  ropeDelta: number;
  visualEmbeds?: HostTensor;
}

export async function generateQwen(
  model: Qwen25VLModel,
  prompt: PromptInput,
  o: GenerateOptions,
): Promise<GenerateResult> {
  let cache: KvCache | undefined;
  const last = (logits: HostTensor) =>
    logits.data.subarray(logits.data.length - model.config.text.vocabSize) as Float32Array;
  return generate(
    async () => {
      const out = await model.forward({
        inputIds: prompt.inputIds,
        positionIds: prompt.positionIds,
        visualEmbeds: prompt.visualEmbeds,
      });
      cache = out.cache;
      return last(out.logits);
    },
    async (token) => {
      const positionIds = decodePositionIds(cache!.length, 1, [prompt.ropeDelta]);
      const out = await model.forward({ inputIds: [token], positionIds, cache });
      cache = out.cache;
      return last(out.logits);
    },
    { stopTokens: model.config.eosTokenIds, ...o },
  );
}
