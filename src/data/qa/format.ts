// The Qwen-VL fine-tuning conversation built from a VSI-Bench-layout question, with the prompt Spatial-MLLM v1.1
// trains and evaluates with (THU-SI/Spatial-MLLM `src/evaluation/vsibench/eval_vsibench.py`: the question, then
// "Options:" and one option per line for multiple choice, then the answer-format instruction). The video path
// follows VSI-Bench's layout `<dataset>/<scene_name>.mp4` (thinking-in-space `lmms_eval/tasks/vsibench/utils.py`).

import { isNumericType } from '../../vsibench.ts';
import type { Conversation, VsiQuestion } from './types.ts';

export const CHOICE_PROMPT = "Answer with the option's letter from the given choices directly.";
export const NUMERIC_PROMPT = 'Please answer the question using a single word or phrase.';

/** The user turn's text (without the video token). */
export function promptText(q: Pick<VsiQuestion, 'question' | 'question_type' | 'options'>): string {
  if (isNumericType(q.question_type) || !q.options) return `${q.question}\n${NUMERIC_PROMPT}`;
  return `${q.question}\nOptions:\n${q.options.join('\n')}\n${CHOICE_PROMPT}`;
}

export function toConversation(q: VsiQuestion): Conversation {
  return {
    id: `${q.dataset}/${q.scene_name}/${q.question_type}/${q.id}`,
    video: `${q.dataset}/${q.scene_name}.mp4`,
    conversations: [
      { from: 'human', value: `<video>\n${promptText(q)}` },
      { from: 'gpt', value: q.ground_truth },
    ],
    data_source: q.dataset,
    scene_name: q.scene_name,
    question_type: q.question_type,
  };
}
