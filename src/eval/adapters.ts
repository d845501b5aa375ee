// Model adapters: the one interface the runner talks to, and the adapters that ship with the harness —
// our model (through the pipeline, loaded lazily), VSI-Bench's chance baselines, and any OpenAI-compatible
// chat endpoint.
import { InputError } from '../errors.ts';
import type { FrameSampling } from '../pipeline/frame_sampling.ts';
import { defaultFrameSource, type FrameSource } from './frames.ts';
import { OpenAIChatAdapter } from './openai_adapter.ts';
import type { EvalQuestion } from './questions.ts';
import { isMultipleChoice, type QuestionType } from './vsibench_metrics.ts';

/** Everything an adapter gets for one question. */
export interface ModelQuery {
  question: EvalQuestion;
  /** The full text prompt (question, options and answer-format instruction). */
  prompt: string;
  /** The scene's video: an .mp4 file or a folder of frame images. */
  video: string;
  /** How many frames to give the model, and how to pick them. */
  frames: number;
  sampling: FrameSampling;
}

export interface ModelAdapter {
  /** Recorded in the run's settings and in the report. */
  readonly name: string;
  /** The model's raw answer text. Throw InputError for problems no retry can fix (the run stops). */
  answer(query: ModelQuery, signal?: AbortSignal): Promise<string>;
  close?(): Promise<void>;
}

/** The part of the package's public API (`src/index.ts`) the Spatial-MLLM adapter uses. */
interface PipelineModule {
  SpatialMllm: { load(dir: string): unknown };
  ask(
    model: unknown,
    video: string,
    prompt: string,
    o: { frames: number; sampling: FrameSampling; signal?: AbortSignal },
  ): Promise<{ answer: string }>;
}

const PIPELINE_MODULE = new URL('../index.ts', import.meta.url).href;

/** Our model through the pipeline, imported only now (it brings ONNX Runtime). `moduleUrl` is for tests. */
export async function spatialMllmAdapter(
  checkpoint: string,
  moduleUrl = PIPELINE_MODULE,
): Promise<ModelAdapter> {
  let mod: Partial<PipelineModule> = {};
  try {
    mod = await import(moduleUrl);
  } catch (e) {
    if (
      (e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' ||
      !String(e).includes(moduleUrl.split('/').pop()!)
    )
      throw e;
  }
  if (typeof mod.SpatialMllm?.load !== 'function' || typeof mod.ask !== 'function')
    throw new InputError(
      'the Spatial-MLLM model pipeline (src/pipeline/ask.ts) is not available in this build; evaluate a baseline (--model baseline:chance) or an OpenAI-compatible endpoint (--model openai:NAME --endpoint URL) instead',
    );
  const { ask } = mod;
  const model = mod.SpatialMllm.load(checkpoint) as { release(): Promise<void> };
  return {
    name: `spatial-mllm:${checkpoint}`,
    answer: async (q, signal) =>
      (await ask(model, q.video, q.prompt, { frames: q.frames, sampling: q.sampling, signal })).answer,
    close: () => model.release(),
  };
}

/** FNV-1a of a string: a per-question seed, so that a resumed run draws exactly what it would have drawn. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const letterOf = (option: string) => option.trim().charAt(0);

/**
 * 'Chance Level (Random)' of the VSI-Bench paper: a uniformly random option letter, drawn from a hash of the
 * question id. The paper gives no random level for numeric questions; they get an empty answer (score 0).
 */
function chanceAdapter(): ModelAdapter {
  return {
    name: 'baseline:chance',
    async answer({ question }) {
      const options = question.options ?? [];
      return options.length ? letterOf(options[hash32(question.id) % options.length]) : '';
    },
  };
}

/** Most common value, ties going to the one nearest the median (continuous values are almost all ties). */
function mode(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const top = Math.max(...counts.values());
  const tied = [...counts.keys()].filter((v) => counts.get(v) === top);
  const nums = values.map(Number).sort((a, b) => a - b);
  const median = nums[Math.floor(nums.length / 2)];
  return tied.sort(
    (a, b) => Math.abs(Number(a) - median) - Math.abs(Number(b) - median) || a.localeCompare(b),
  )[0];
}

/**
 * 'Chance Level (Frequency)': the most frequent answer of each task over the evaluated questions (a test-set
 * prior, as in the paper). Multiple choice: the most frequent correct option text, answered with its letter
 * where the question offers it, else the most frequent correct letter. Numeric: the most frequent ground
 * truth. ScanQA/SQA3D: the most frequent first answer.
 */
function frequencyAdapter(questions: readonly EvalQuestion[]): ModelAdapter {
  const byType = new Map<string, EvalQuestion[]>();
  for (const q of questions) {
    if (!byType.has(q.questionType)) byType.set(q.questionType, []);
    byType.get(q.questionType)!.push(q);
  }
  const optionText = (o: string) => o.replace(/^\s*[A-Z][.)]\s*/, '');
  const correctOption = (q: EvalQuestion) => q.options?.find((o) => letterOf(o) === q.answers[0]) ?? '';
  const guess = new Map<string, { text?: string; answer: string }>();
  for (const [type, qs] of byType) {
    if (qs[0].benchmark === 'vsibench' && isMultipleChoice(type as QuestionType))
      guess.set(type, {
        text: mode(qs.map((q) => optionText(correctOption(q)))),
        answer: mode(qs.map((q) => q.answers[0])),
      });
    else guess.set(type, { answer: mode(qs.map((q) => q.answers[0])) });
  }
  return {
    name: 'baseline:frequency',
    async answer({ question }) {
      const g = guess.get(question.questionType);
      if (!g) return '';
      const option =
        g.text === undefined ? undefined : question.options?.find((o) => optionText(o) === g.text);
      return option ? letterOf(option) : g.answer;
    },
  };
}

export interface AdapterContext {
  /** The questions of the run, for baselines that need answer statistics. */
  questions: readonly EvalQuestion[];
  endpoint?: string;
  apiKeyEnv?: string;
  maxTokens?: number;
  frameSource?: FrameSource;
}

export const MODEL_SPEC_HELP =
  'spatial-mllm:CHECKPOINT_DIR | baseline:chance | baseline:frequency | openai:MODEL_NAME (with --endpoint)';

/** An adapter from a `--model` spec. */
export async function createAdapter(spec: string, ctx: AdapterContext): Promise<ModelAdapter> {
  const [kind, ...rest] = spec.split(':');
  const arg = rest.join(':');
  if (kind === 'baseline' && arg === 'chance') return chanceAdapter();
  if (kind === 'baseline' && arg === 'frequency') return frequencyAdapter(ctx.questions);
  if (kind === 'spatial-mllm' && arg) return spatialMllmAdapter(arg);
  if (kind === 'openai' && arg) {
    if (!ctx.endpoint)
      throw new InputError(
        '--model openai:NAME needs --endpoint (the base URL, e.g. http://127.0.0.1:8000/v1)',
      );
    const apiKey = ctx.apiKeyEnv ? process.env[ctx.apiKeyEnv] : undefined;
    if (ctx.apiKeyEnv && !apiKey)
      throw new InputError(
        `--api-key-env ${ctx.apiKeyEnv}: that environment variable is not set; export it first`,
      );
    return new OpenAIChatAdapter({
      endpoint: ctx.endpoint,
      model: arg,
      apiKey,
      maxTokens: ctx.maxTokens,
      frameSource: ctx.frameSource ?? defaultFrameSource,
    });
  }
  throw new InputError(`unknown --model ${JSON.stringify(spec)}; use ${MODEL_SPEC_HELP}`);
}
