// SQA3D annotations (SilongYong/SQA3D: `v1_balanced_questions_<split>_scannetv2.json` = {questions: [{question_id,
// scene_id, situation, question}]} and `v1_balanced_sqa_annotations_<split>_scannetv2.json` = {annotations:
// [{question_id, answers: [{answer}]}]}) as training conversations: situation and question in one sentence pair
// (as the video-LLM instruction sets built on SQA3D do), answered with the first answer.
import { z } from 'zod';
import { InputError } from '../../errors.ts';
import { NUMERIC_PROMPT } from '../qa/format.ts';
import type { Conversation } from '../qa/types.ts';

const questionsFile = z.object({
  questions: z.array(
    z.object({
      question_id: z.union([z.string(), z.number()]),
      scene_id: z.string(),
      situation: z.string(),
      question: z.string(),
    }),
  ),
});
const annotationsFile = z.object({
  annotations: z.array(
    z.object({
      question_id: z.union([z.string(), z.number()]),
      answers: z.array(z.object({ answer: z.string() })).min(1),
    }),
  ),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string, expected: string): T {
  const p = schema.safeParse(value);
  if (!p.success) {
    const issue = p.error.issues[0];
    throw new InputError(`${where}: not ${expected} (${issue.path.join('.')}: ${issue.message})`);
  }
  return p.data;
}

export function sqa3dConversations(
  questions: unknown,
  annotations: unknown,
  where: [string, string],
): Conversation[] {
  const qs = parse(
    questionsFile,
    questions,
    where[0],
    'an SQA3D questions file ({questions: [...]})',
  ).questions;
  const anns = parse(
    annotationsFile,
    annotations,
    where[1],
    'an SQA3D annotations file ({annotations: [...]})',
  ).annotations;
  const answerOf = new Map(anns.map((a) => [String(a.question_id), a.answers[0].answer]));
  return qs.map((q) => {
    const answer = answerOf.get(String(q.question_id));
    if (answer === undefined) {
      throw new InputError(
        `${where[1]}: no answer for SQA3D question ${q.question_id}; pass the annotations file of the same split`,
      );
    }
    return {
      id: `sqa3d/${q.question_id}`,
      video: `scannet/${q.scene_id}.mp4`,
      conversations: [
        { from: 'human', value: `<video>\n${q.situation.trim()} ${q.question.trim()}\n${NUMERIC_PROMPT}` },
        { from: 'gpt', value: answer },
      ],
      data_source: 'sqa3d',
      scene_name: q.scene_id,
      question_type: 'sqa3d',
    };
  });
}
