// The question type shared by loaders, runner and adapters, and the prompt each benchmark's reference code
// builds from it.
import { isChoiceType } from '../vsibench.ts';

export const BENCHMARKS = ['vsibench', 'scanqa', 'sqa3d'] as const;
export type Benchmark = (typeof BENCHMARKS)[number];

export interface EvalQuestion {
  /** Position in the loaded benchmark: the canonical order of results and of every mean. */
  index: number;
  /** Unique within the benchmark (VSI-Bench `id`, ScanQA/SQA3D `question_id`). */
  id: string;
  benchmark: Benchmark;
  /** Source dataset of the scene: arkitscenes | scannet | scannetpp. */
  dataset: string;
  /** Scene the video shows (VSI-Bench `scene_name`, ScanNet `scene_id`). */
  scene: string;
  /** VSI-Bench `question_type`; SQA3D question type (what/is/how/can/which/others); 'scanqa' for ScanQA. */
  questionType: string;
  question: string;
  /** SQA3D: the agent's situation, said before the question. */
  situation?: string;
  /** VSI-Bench multiple choice: 'A. …' lines. */
  options?: string[];
  /** VSI-Bench: `ground_truth`; ScanQA and SQA3D: every accepted answer. */
  answers: string[];
}

/** How the question text is turned into the prompt. */
export const PROMPT_STYLES = ['official', 'spatial-mllm'] as const;
export type PromptStyle = (typeof PROMPT_STYLES)[number];

const MC_SUFFIX = "Answer with the option's letter from the given choices directly.";
const NA_SUFFIX = 'Please answer the question using a single word or phrase.';

/**
 * VSI-Bench: 'official' is `vsibench_doc_to_text` with its default kwargs (a "These are frames of a video."
 * pre-prompt); 'spatial-mllm' is Spatial-MLLM's `build_user_message` (no pre-prompt, same suffixes).
 * ScanQA and SQA3D use Video-3D-LLM's templates (also Spatial-MLLM's) whatever the style.
 */
export function buildPrompt(q: EvalQuestion, style: PromptStyle): string {
  if (q.benchmark === 'scanqa') return `${q.question} Answer the question simply.`;
  if (q.benchmark === 'sqa3d')
    return [q.situation, q.question, 'Answer the question using a single word or phrase.']
      .filter(Boolean)
      .join(' ');
  const lines = style === 'official' ? ['These are frames of a video.', q.question] : [q.question];
  if (isChoiceType(q.questionType)) lines.push(`Options:\n${(q.options ?? []).join('\n')}`, MC_SUFFIX);
  else lines.push(NA_SUFFIX);
  return lines.join('\n');
}
