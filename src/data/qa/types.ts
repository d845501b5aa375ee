// Question types and the output layouts: VSI-Bench's (thinking-in-space / HF nyu-visionx/VSI-Bench:
// id, dataset, scene_name, question_type, question, options, ground_truth) and the Qwen-VL fine-tuning
// conversation layout that Spatial-MLLM trains on (`{video, conversations: [{from: human}, {from: gpt}]}`).

import type { ChoiceType, NumericType } from '../../vsibench.ts';

/** A generated question before its options get letters. */
export type Draft =
  | { type: NumericType; question: string; answer: number /** printed ground truth */; text: string }
  | {
      type: ChoiceType;
      /** The text, or a function of the lettered option order for templates that list the options. */
      question: string | ((ordered: readonly string[]) => string);
      /** The correct option's text. */
      answer: string;
      /** Wrong options (their order is reshuffled when letters are assigned). */
      distractors: string[];
    };

/** One question in VSI-Bench's layout. */
export interface VsiQuestion {
  id: number;
  dataset: string;
  scene_name: string;
  question_type: string;
  question: string;
  /** "A. text" lines for multiple choice; null for numeric answers. */
  options: string[] | null;
  /** The option letter, or the number as text. */
  ground_truth: string;
}

/** One sample in the Qwen-VL fine-tuning layout. */
export interface Conversation {
  id: string;
  video: string;
  conversations: { from: 'human' | 'gpt'; value: string }[];
  data_source: string;
  scene_name: string;
  question_type: string;
}

export const OPTION_LETTERS = ['A', 'B', 'C', 'D'] as const;
