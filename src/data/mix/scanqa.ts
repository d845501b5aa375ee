// ScanQA annotations (ATR-DBI/ScanQA, `ScanQA_v1.0_{train,val}.json`: a list of {question_id, scene_id, question,
// answers, object_ids, object_names}) as training conversations: the question with the short-answer instruction,
// answered with the first reference answer. The test files carry no answers and are refused.
import { z } from 'zod';
import { InputError } from '../../errors.ts';
import { NUMERIC_PROMPT } from '../qa/format.ts';
import type { Conversation } from '../qa/types.ts';

const scanqaItem = z.object({
  question_id: z.union([z.string(), z.number()]),
  scene_id: z.string(),
  question: z.string(),
  answers: z.array(z.string()).min(1),
});

export function scanqaConversations(records: readonly unknown[], where: string): Conversation[] {
  return records.map((r, i) => {
    const p = scanqaItem.safeParse(r);
    if (!p.success) {
      throw new InputError(
        `${where}: record ${i} is not a ScanQA item with answers (${p.error.issues[0].path.join('.')}: ${p.error.issues[0].message}); ` +
          'pass ScanQA_v1.0_train.json or _val.json',
      );
    }
    const q = p.data;
    return {
      id: `scanqa/${q.question_id}`,
      video: `scannet/${q.scene_id}.mp4`,
      conversations: [
        { from: 'human', value: `<video>\n${q.question.trim()}\n${NUMERIC_PROMPT}` },
        { from: 'gpt', value: q.answers[0] },
      ],
      data_source: 'scanqa',
      scene_name: q.scene_id,
      question_type: 'scanqa',
    };
  });
}
