// Qwen2.5-VL processor: chat messages plus images / video frames in, model inputs out — the rendered prompt, its
// token ids with every vision placeholder expanded, the vision tower's patches and grids, and the M-RoPE position
// ids with the rope delta decoding continues from. One object for inference, SFT label building and the server.
// Upstream: transformers 4.51 `models/qwen2_5_vl/processing_qwen2_5_vl.py` (Qwen2_5_VLProcessor.__call__),
// qwen_vl_utils `vision_process.py` (fetch_video's frame size), Spatial-MLLM `src/qwenvl/data/data_qwen.py`
// (`preprocess_qwen_2_visual`: SFT renders and tokenizes each message on its own).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import type { RgbImage } from '../../media/image.ts';
import { resize } from '../../media/resize.ts';
import type { HostTensor } from '../../tensor.ts';
import {
  checkpointVideoBounds,
  type ProcessorConfig,
  processImages,
  processVideos,
  readProcessorConfig,
  smartResize,
  videoFrameSize,
} from './image_processor.ts';
import { type GridThw, type RopeIndexConfig, ropeIndex } from './rope_index.ts';
import {
  type ChatMessage,
  expandVisionPlaceholders,
  IMAGE_PAD,
  QwenTokenizer,
  VIDEO_PAD,
} from './tokenizer.ts';

/** One video: decoded RGB frames in time order and the rate they were sampled at. */
export interface VideoInput {
  frames: readonly RgbImage[];
  /** Frames per second of the sampled frames; second_per_grid_ts = temporal_patch_size / fps. Default 2, what
   * Qwen2_5_VLProcessor assumes when none is given (Spatial-MLLM's inference passes none). */
  fps?: number;
}

/** Images and videos in the order their placeholders appear in the messages. */
export interface VisionInputs {
  images?: readonly RgbImage[];
  videos?: readonly VideoInput[];
}

export interface ProcessOptions {
  /** Append the assistant turn header ("<|im_start|>assistant\n"), for generation. */
  addGenerationPrompt?: boolean;
  /**
   * How video frames are sized: `qwen-vl-utils` (default, inference) first resizes them as fetch_video does (the
   * clip's pixel budget shared by its frames); `processor` leaves sizing to the processor's smart_resize within
   * its min/max pixels, as the SFT data pipeline (data_qwen.py) and the reference fixtures do.
   */
  videoSizing?: 'qwen-vl-utils' | 'processor';
}

/** A video as the model sees it. */
export interface ProcessedVideo {
  /** The resized frames, padded to an even count by repeating the last (what the spatial encoder sees too). */
  frames: RgbImage[];
  grid: GridThw;
  secondPerGridTs: number;
}

export interface ModelInputs {
  /** The prompt before placeholder expansion. */
  text: string;
  inputIds: number[];
  /** [3, 1, S] int64 M-RoPE positions. */
  positionIds: HostTensor<'int64'>;
  /** Max position + 1 − S: what decode steps add to the cache position. */
  ropeDelta: number;
  /** `pixel_values` [Σ t·h·w, 1176] of all images, absent without images. */
  pixelValues?: HostTensor<'float32'>;
  imageGridThw: GridThw[];
  /** `pixel_values_videos` of all videos, absent without videos. */
  pixelValuesVideos?: HostTensor<'float32'>;
  videos: ProcessedVideo[];
}

/** Where one message's tokens sit in `inputIds`: [start, end). */
export interface TurnSpan {
  role: string;
  start: number;
  end: number;
}

export interface ConversationInputs extends ModelInputs {
  /** One span per message, in order, covering `inputIds` end to end. */
  turns: TurnSpan[];
}

/** Vision markers of the upstream annotation format (`<image>` / `<video>` in a message's text). */
const MARKERS = { '<image>': IMAGE_PAD, '<video>': VIDEO_PAD } as const;
const visionBlock = (pad: string) => `<|vision_start|>${pad}<|vision_end|>`;

/** Tokenizer files sit in the checkpoint folder (hub layout) or a `tokenizer/` sub-folder. */
function tokenizerDir(dir: string): string {
  if (existsSync(join(dir, 'tokenizer_config.json'))) return dir;
  if (existsSync(join(dir, 'tokenizer', 'tokenizer_config.json'))) return join(dir, 'tokenizer');
  throw new InputError(
    `${dir} has no tokenizer_config.json (nor tokenizer/): copy the tokenizer files of the checkpoint there`,
  );
}

const count = (text: string, token: string) => text.split(token).length - 1;

export class Qwen25VLProcessor {
  constructor(
    readonly tokenizer: QwenTokenizer,
    readonly config: ProcessorConfig,
    readonly rope: RopeIndexConfig,
  ) {}

  /** Tokenizer, chat template and preprocessor_config.json of a checkpoint folder; `rope` from its config.json,
   * and `vision` (its vision encoder), when given, must agree with the preprocessor's patch sizes. */
  static load(
    dir: string,
    rope: RopeIndexConfig,
    vision?: Parameters<typeof readProcessorConfig>[1],
  ): Qwen25VLProcessor {
    return new Qwen25VLProcessor(
      QwenTokenizer.load(tokenizerDir(dir)),
      readProcessorConfig(dir, vision),
      rope,
    );
  }

  /** The same processor with other settings (e.g. SFT's per-frame pixel limits). */
  withConfig(config: Partial<ProcessorConfig>): Qwen25VLProcessor {
    return new Qwen25VLProcessor(this.tokenizer, { ...this.config, ...config }, this.rope);
  }

  /** A conversation rendered with the checkpoint's chat template (inference and serving). */
  process(
    messages: readonly ChatMessage[],
    vision: VisionInputs = {},
    options: ProcessOptions = {},
  ): ModelInputs {
    const text = this.tokenizer.applyChatTemplate(messages, {
      addGenerationPrompt: options.addGenerationPrompt,
    });
    const v = this.vision(vision, options);
    const inputIds = this.tokenizer.encode(expandVisionPlaceholders(text, this.grids(v)));
    return { text, inputIds, ...v, ...this.positions(inputIds, v) };
  }

  /**
   * A conversation for training: each message rendered alone as `<|im_start|>{role}\n{content}<|im_end|>\n`,
   * tokenized alone and concatenated (data_qwen.py), with the span of every message, from which the trainer
   * builds its label mask. `<image>` / `<video>` in a message's text and image / video content items both
   * become vision blocks. No system message is added: pass it as the first message.
   */
  processTurns(
    messages: readonly ChatMessage[],
    vision: VisionInputs = {},
    options: Pick<ProcessOptions, 'videoSizing'> = {},
  ): ConversationInputs {
    const v = this.vision(vision, options);
    const grids = this.grids(v);
    const used = { image: 0, video: 0 };
    const inputIds: number[] = [];
    const turns: TurnSpan[] = [];
    let text = '';
    for (const m of messages) {
      const rendered = `<|im_start|>${m.role}\n${this.content(m)}<|im_end|>\n`;
      const [ni, nv] = [count(rendered, IMAGE_PAD), count(rendered, VIDEO_PAD)];
      const expanded = expandVisionPlaceholders(rendered, {
        mergeSize: grids.mergeSize,
        imageGridThw: grids.imageGridThw.slice(used.image, used.image + ni),
        videoGridThw: grids.videoGridThw.slice(used.video, used.video + nv),
      });
      used.image += ni;
      used.video += nv;
      const ids = this.tokenizer.encode(expanded);
      turns.push({ role: m.role, start: inputIds.length, end: inputIds.length + ids.length });
      inputIds.push(...ids);
      text += rendered;
    }
    if (used.image !== grids.imageGridThw.length || used.video !== grids.videoGridThw.length)
      throw new InputError(
        `the messages hold ${used.image} image and ${used.video} video placeholder(s) but ${grids.imageGridThw.length} image(s) and ${grids.videoGridThw.length} video(s) were given; pass one per placeholder`,
      );
    return { text, inputIds, turns, ...v, ...this.positions(inputIds, v) };
  }

  /** Generated text: special tokens (stop tokens included) dropped. */
  decode(tokens: readonly number[]): string {
    return this.tokenizer.decode(tokens, { skipSpecialTokens: true });
  }

  private content(m: ChatMessage): string {
    if (typeof m.content === 'string')
      return m.content.replace(/<image>|<video>/g, (k) => visionBlock(MARKERS[k as keyof typeof MARKERS]));
    return m.content
      .map((c) =>
        c.type === 'text' ? (c.text as string) : visionBlock(c.type === 'image' ? IMAGE_PAD : VIDEO_PAD),
      )
      .join('');
  }

  /** Sizes videos (see ProcessOptions.videoSizing) and patchifies images and videos. */
  private vision(inputs: VisionInputs, o: Pick<ProcessOptions, 'videoSizing'>) {
    const images = inputs.images ?? [];
    const img = images.length ? processImages(images, this.config) : undefined;
    const videos = (inputs.videos ?? []).map((v) => this.sizeVideo(v.frames, o.videoSizing));
    const vid = videos.length
      ? processVideos(
          videos,
          this.config,
          (inputs.videos ?? []).map((v) => v.fps ?? 2),
        )
      : undefined;
    return {
      pixelValues: img?.pixelValues,
      imageGridThw: img?.imageGridThw ?? [],
      pixelValuesVideos: vid?.pixelValuesVideos,
      videos: videos.map((frames, i) => ({
        frames,
        grid: vid!.videoGridThw[i],
        secondPerGridTs: vid!.secondPerGridTs[i],
      })),
    };
  }

  /** Frames padded to whole temporal patches (repeating the last, as the processor does) and resized to the size
   * both encoders see. */
  private sizeVideo(frames: readonly RgbImage[], sizing: ProcessOptions['videoSizing']): RgbImage[] {
    if (frames.length === 0)
      throw new InputError('a video without frames was given; decode some frames first');
    const padded = [...frames];
    while (padded.length % this.config.temporalPatchSize) padded.push(padded[padded.length - 1]);
    const { height, width } = padded[0];
    const factor = this.config.patchSize * this.config.mergeSize;
    let [h, w] =
      sizing === 'processor'
        ? [height, width]
        : videoFrameSize(height, width, padded.length, checkpointVideoBounds(this.config));
    [h, w] = smartResize(h, w, {
      factor,
      minPixels: this.config.minPixels,
      maxPixels: this.config.maxPixels,
    });
    return padded.map((img) => (img.width === w && img.height === h ? img : resize(img, w, h)));
  }

  private grids(v: { imageGridThw: GridThw[]; videos: ProcessedVideo[] }) {
    return {
      imageGridThw: v.imageGridThw,
      videoGridThw: v.videos.map((x) => x.grid),
      mergeSize: this.config.mergeSize,
    };
  }

  private positions(inputIds: number[], v: { imageGridThw: GridThw[]; videos: ProcessedVideo[] }) {
    const rope = ropeIndex(
      {
        inputIds: [inputIds],
        imageGridThw: v.imageGridThw,
        videoGridThw: v.videos.map((x) => x.grid),
        secondPerGridTs: v.videos.map((x) => x.secondPerGridTs),
      },
      this.rope,
    );
    return { positionIds: rope.positionIds, ropeDelta: rope.ropeDeltas[0] };
  }
}
