// VSI-Bench's question types and tasks (vision-x-nyu/thinking-in-space, `lmms_eval/tasks/vsibench`): one list,
// shared by the QA generator (src/data/qa) and the scorer (src/eval). QUESTION_TYPES is the generator's output
// order (numeric types first); TASKS is the paper's table order, the three relative-direction difficulties
// forming one task.

/** Numeric-answer types (scored with mean relative accuracy). */
export const NUMERIC_TYPES = [
  'object_counting',
  'object_size_estimation',
  'room_size_estimation',
  'object_abs_distance',
] as const;
/** The relative-direction sub-types, easy to hard (upstream averages them, in this order, into one task). */
export const REL_DIRECTION_TYPES = [
  'object_rel_direction_easy',
  'object_rel_direction_medium',
  'object_rel_direction_hard',
] as const;
/** Multiple-choice types (scored by the option letter). */
export const CHOICE_TYPES = [
  'object_rel_distance',
  ...REL_DIRECTION_TYPES,
  'obj_appearance_order',
  'route_planning',
] as const;
export const QUESTION_TYPES = [...NUMERIC_TYPES, ...CHOICE_TYPES] as const;

export type NumericType = (typeof NUMERIC_TYPES)[number];
export type ChoiceType = (typeof CHOICE_TYPES)[number];
export type QuestionType = (typeof QUESTION_TYPES)[number];

export const isNumericType = (t: string): t is NumericType =>
  (NUMERIC_TYPES as readonly string[]).includes(t);
export const isChoiceType = (t: string): t is ChoiceType => (CHOICE_TYPES as readonly string[]).includes(t);
export const isQuestionType = (t: unknown): t is QuestionType =>
  (QUESTION_TYPES as readonly unknown[]).includes(t);

/** The 8 tasks of VSI-Bench in the paper's (and the official tabulation's) order. */
export const TASKS = [
  'object_counting',
  'object_abs_distance',
  'object_size_estimation',
  'room_size_estimation',
  'object_rel_distance',
  'object_rel_direction',
  'route_planning',
  'obj_appearance_order',
] as const;
export type Task = (typeof TASKS)[number];

/** The task a question type counts towards (the relative-direction sub-types: one task). */
export function taskOf(t: QuestionType): Task {
  return (REL_DIRECTION_TYPES as readonly string[]).includes(t) ? 'object_rel_direction' : (t as Task);
}
