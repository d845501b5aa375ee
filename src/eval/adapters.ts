// The adapters that ship with the harness, chosen by a `--model` spec: our model (injected by the app, as it
// brings ONNX Runtime), VSI-Bench's chance baselines, and any OpenAI-compatible chat endpoint.
import { InputError } from '../errors.ts';
import type { AdapterDeps, ModelAdapter, SpatialMllmRunOptions } from './adapter.ts';
import { chanceAdapter, frequencyAdapter } from './baselines.ts';
import { OpenAIChatAdapter } from './openai_adapter.ts';
import type { EvalQuestion } from './questions.ts';

export interface AdapterContext extends AdapterDeps {
  /** The questions of the run, for baselines that need answer statistics. */
  questions: readonly EvalQuestion[];
  endpoint?: string;
  apiKeyEnv?: string;
  maxTokens?: number;
  /** spatial-mllm: how it runs. */
  spatialMllmOptions?: SpatialMllmRunOptions;
}

export const MODEL_SPEC_HELP =
  'spatial-mllm:CHECKPOINT_DIR | baseline:chance | baseline:frequency | openai:MODEL_NAME (with --endpoint)';

/** An adapter from a `--model` spec. */
export async function createAdapter(spec: string, ctx: AdapterContext): Promise<ModelAdapter> {
  const [kind, ...rest] = spec.split(':');
  const arg = rest.join(':');
  if (kind === 'baseline' && arg === 'chance') return chanceAdapter();
  if (kind === 'baseline' && arg === 'frequency') return frequencyAdapter(ctx.questions);
  if (kind === 'spatial-mllm' && arg) {
    if (!ctx.spatialMllm)
      throw new InputError(
        'the Spatial-MLLM model pipeline (src/pipeline/ask.ts) is not available in this build; evaluate a baseline (--model baseline:chance) or an OpenAI-compatible endpoint (--model openai:NAME --endpoint URL) instead',
      );
    return ctx.spatialMllm(arg, ctx.spatialMllmOptions);
  }
  if (kind === 'openai' && arg) {
    if (!ctx.endpoint)
      throw new InputError(
        '--model openai:NAME needs --endpoint (the base URL, e.g. http://127.0.0.1:8000/v1)',
      );
    if (!ctx.frameSource)
      throw new InputError(
        '--model openai:NAME sends video frames, and this build has no video decoder wired in; evaluate a baseline instead',
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
      frameSource: ctx.frameSource,
    });
  }
  throw new InputError(`unknown --model ${JSON.stringify(spec)}; use ${MODEL_SPEC_HELP}`);
}
