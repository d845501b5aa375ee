// The Qwen2.5 language model as a llama.cpp GGUF (architecture `qwen2`) from the same named weights our graphs
// read, so llama.cpp and our engine run identical random weights. Tensor names as llama.cpp's qwen2 loader expects
// them (ggml-org/llama.cpp src/llama-arch.cpp); the tied lm_head is left out (llama.cpp then reuses token_embd).
// The tokenizer is a minimal but valid BPE vocabulary of the model's size: ids 0–255 are GPT-2's byte symbols, the
// rest distinct strings over those symbols, and Qwen's three special tokens; no merges (the benchmark feeds ids).
import type { TextConfig } from '../../src/models/qwen2_5_vl/config.ts';
import type { HostTensor } from '../../src/tensor.ts';
import { type GgmlType, type GgufTensor, type GgufValue, writeGguf } from '../../src/weights/gguf.ts';

/** GPT-2's byte → printable symbol map (bytes that are printable map to themselves, the rest to U+0100…). */
function byteSymbols(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++));
}

/** Qwen's first special tokens at their ids (151643…), moved to the end of a smaller vocabulary. */
function specialTokens(size: number): Record<number, string> {
  const first = Math.min(151643, size - 3);
  return { [first]: '<|endoftext|>', [first + 1]: '<|im_start|>', [first + 2]: '<|im_end|>' };
}

function vocabulary(size: number): { tokens: string[]; types: Int32Array } {
  const SPECIAL = specialTokens(size);
  const sym = byteSymbols();
  const tokens = Array.from({ length: size }, (_, id) => {
    if (SPECIAL[id]) return SPECIAL[id];
    if (id < 256) return sym[id];
    const j = id - 256; // two symbols below 65,536, three above: all distinct
    return sym[j & 255] + sym[(j >> 8) & 255] + (j >= 65536 ? sym[j >> 16] : '');
  });
  const types = Int32Array.from(tokens, (_, id) => (SPECIAL[id] ? 3 : 1)); // 3 = control, 1 = normal
  return { tokens, types };
}

export interface Qwen2GgufOptions {
  /** Type of every 2-D weight (linears and the embedding table); norms and biases stay F32 as llama.cpp wants. */
  weightType: GgmlType;
  /** Float32 value of a weight by its checkpoint name (Hugging Face naming). */
  read: (name: string, shape: number[]) => HostTensor<'float32'>;
}

/** Writes `path`; returns its size in bytes. */
export function writeQwen2Gguf(path: string, c: TextConfig, o: Qwen2GgufOptions): number {
  const [H, D, I] = [c.hiddenSize, c.headDim, c.intermediateSize];
  const tensors: GgufTensor[] = [];
  const add = (gguf: string, hf: string, shape: number[]) => {
    const type = shape.length === 2 ? o.weightType : 'F32';
    tensors.push({ name: gguf, type, shape, values: () => o.read(hf, shape).data });
  };
  add('token_embd.weight', 'model.embed_tokens.weight', [c.vocabSize, H]);
  for (let i = 0; i < c.numLayers; i++) {
    const [b, p] = [`blk.${i}`, `model.layers.${i}`];
    add(`${b}.attn_norm.weight`, `${p}.input_layernorm.weight`, [H]);
    for (const [x, out] of [
      ['q', c.numHeads * D],
      ['k', c.numKvHeads * D],
      ['v', c.numKvHeads * D],
    ] as const) {
      add(`${b}.attn_${x}.weight`, `${p}.self_attn.${x}_proj.weight`, [out, H]);
      add(`${b}.attn_${x}.bias`, `${p}.self_attn.${x}_proj.bias`, [out]);
    }
    add(`${b}.attn_output.weight`, `${p}.self_attn.o_proj.weight`, [H, c.numHeads * D]);
    add(`${b}.ffn_norm.weight`, `${p}.post_attention_layernorm.weight`, [H]);
    add(`${b}.ffn_gate.weight`, `${p}.mlp.gate_proj.weight`, [I, H]);
    add(`${b}.ffn_up.weight`, `${p}.mlp.up_proj.weight`, [I, H]);
    add(`${b}.ffn_down.weight`, `${p}.mlp.down_proj.weight`, [H, I]);
  }
  add('output_norm.weight', 'model.norm.weight', [H]);
  if (!c.tieWordEmbeddings) add('output.weight', 'lm_head.weight', [c.vocabSize, H]);

  const u32 = (value: number): GgufValue => ({ type: 'uint32', value });
  const f32 = (value: number): GgufValue => ({ type: 'float32', value });
  // llama_ftype: 0 all F32, 1 mostly F16, 2 mostly Q4_0, 7 mostly Q8_0.
  const fileType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 }[o.weightType];
  const { tokens, types } = vocabulary(c.vocabSize);
  const [endOfText, , imEnd] = Object.keys(specialTokens(c.vocabSize)).map(Number);
  const metadata: Record<string, GgufValue> = {
    'general.architecture': { type: 'string', value: 'qwen2' },
    'general.name': { type: 'string', value: `random Qwen2.5 ${c.numLayers} layers` },
    'general.file_type': u32(fileType),
    'qwen2.context_length': u32(32768),
    'qwen2.embedding_length': u32(H),
    'qwen2.block_count': u32(c.numLayers),
    'qwen2.feed_forward_length': u32(I),
    'qwen2.attention.head_count': u32(c.numHeads),
    'qwen2.attention.head_count_kv': u32(c.numKvHeads),
    'qwen2.rope.freq_base': f32(c.ropeTheta),
    'qwen2.attention.layer_norm_rms_epsilon': f32(c.rmsNormEps),
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: 'qwen2' },
    'tokenizer.ggml.tokens': { type: 'array', of: 'string', values: tokens },
    'tokenizer.ggml.token_type': { type: 'array', of: 'int32', values: types },
    'tokenizer.ggml.merges': { type: 'array', of: 'string', values: [] },
    'tokenizer.ggml.bos_token_id': u32(endOfText),
    'tokenizer.ggml.eos_token_id': u32(imEnd),
    'tokenizer.ggml.padding_token_id': u32(endOfText),
    'tokenizer.ggml.add_bos_token': { type: 'bool', value: false },
  };
  return writeGguf(path, metadata, tensors);
}
