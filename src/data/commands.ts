// The work behind `spatial-mllm data …` (src/apps/commands/data.ts only declares the options).
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { readJsonFile } from '../json.ts';
import { isQuestionType, QUESTION_TYPES, type QuestionType } from '../vsibench.ts';
import { readRecords, writeRecordsAtomic } from './jsonl.ts';
import { mixDatasets, parseRecipe } from './mix/mix.ts';
import { scanqaConversations } from './mix/scanqa.ts';
import { sqa3dConversations } from './mix/sqa3d.ts';
import { toConversation } from './qa/format.ts';
import { generateQuestions } from './qa/generate.ts';
import { answerQuestions, type QuestionIn } from './qa/oracle.ts';
import type { Conversation, VsiQuestion } from './qa/types.ts';
import { readSceneMetaFile, type SceneMetaFile } from './scene.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);

function readScenes(paths: readonly string[]): SceneMetaFile {
  return Object.assign({}, ...paths.map(readSceneMetaFile));
}

export function parseSeed(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new InputError(`--seed must be an integer, got "${text}"`);
  return Number(text);
}

export function parseTypes(text: string | undefined): QuestionType[] | undefined {
  if (text === undefined) return undefined;
  const types = text.split(',').map((t) => t.trim());
  const bad = types.find((t) => !isQuestionType(t));
  if (bad) throw new InputError(`unknown question type "${bad}"; choose from ${QUESTION_TYPES.join(', ')}`);
  return types as QuestionType[];
}

export interface QaOptions {
  meta: string[];
  out: string;
  types?: string;
  seed: string;
  exhaustive?: boolean;
  format: string;
}

export function runQa(o: QaOptions): void {
  if (o.format !== 'vsi' && o.format !== 'conversation')
    throw new InputError(`--format must be vsi or conversation, got "${o.format}"`);
  const scenes = readScenes(o.meta);
  const counts = new Map<string, number>();
  const questions = generateQuestions(scenes, {
    types: parseTypes(o.types),
    seed: parseSeed(o.seed),
    exhaustive: o.exhaustive,
    progress: (type, _scene, kept) => counts.set(type, (counts.get(type) ?? 0) + kept),
  });
  writeRecordsAtomic(o.out, o.format === 'vsi' ? questions : questions.map(toConversation));
  for (const [type, n] of counts) log(`${type}: ${n}`);
  log(`${questions.length} questions from ${Object.keys(scenes).length} scenes → ${o.out}`);
}

export interface AnswerOptions {
  meta: string[];
  questions: string;
  out?: string;
}

export async function runAnswer(o: AnswerOptions): Promise<void> {
  const scenes = readScenes(o.meta);
  const records = await readRecords(o.questions);
  const bad = records.findIndex(
    (r) =>
      typeof r.scene_name !== 'string' ||
      typeof r.question !== 'string' ||
      typeof r.question_type !== 'string',
  );
  if (bad >= 0)
    throw new InputError(
      `${o.questions}: record ${bad} lacks scene_name, question_type or question (VSI-Bench layout)`,
    );
  const answers = answerQuestions(scenes, records as unknown as QuestionIn[]);
  if (o.out) writeRecordsAtomic(o.out, answers);
  else process.stdout.write(answers.map((a) => `${JSON.stringify(a)}\n`).join(''));
  const byType = new Map<string, { n: number; answered: number; agree: number; disagree: number }>();
  for (const a of answers) {
    const s = byType.get(a.question_type) ?? { n: 0, answered: 0, agree: 0, disagree: 0 };
    s.n++;
    if (a.answer !== null) s.answered++;
    if (a.agrees === true) s.agree++;
    if (a.agrees === false) s.disagree++;
    byType.set(a.question_type, s);
  }
  for (const [type, s] of byType)
    log(`${type}: ${s.n} questions, ${s.answered} answered, ${s.agree} agree, ${s.disagree} disagree`);
}

export interface MixCliOptions {
  out: string;
  in?: string[];
  scanqa?: string[];
  sqa3dQuestions?: string;
  sqa3dAnnotations?: string;
  recipe?: string;
  total?: string;
  seed: string;
  excludeScenes?: string[];
}

/** A sample of either layout: a conversation as is, a VSI-layout question converted. */
function asConversation(r: Record<string, unknown>, where: string): Conversation {
  if (Array.isArray(r.conversations)) return r as unknown as Conversation;
  if (typeof r.question === 'string' && typeof r.question_type === 'string')
    return toConversation(r as unknown as VsiQuestion);
  throw new InputError(`${where}: a record is neither a conversation nor a VSI-layout question`);
}

/** Scene names from a text list (one per line), a JSON array, or a meta_info JSON object (its keys). */
async function readSceneList(path: string): Promise<string[]> {
  if (!path.endsWith('.json')) {
    return readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
  }
  const value = readJsonFile(path, 'give a text list, a JSON list or a meta_info JSON file');
  if (Array.isArray(value)) return value.map(String);
  if (value && typeof value === 'object') return Object.keys(value);
  throw new InputError(`${path}: expected a list of scene names or a meta_info object`);
}

const readJson = (path: string) => readJsonFile(path, 'check the path and the file');

export async function runMix(o: MixCliOptions): Promise<void> {
  const samples: Conversation[] = [];
  for (const path of o.in ?? [])
    samples.push(...(await readRecords(path)).map((r) => asConversation(r, path)));
  for (const path of o.scanqa ?? []) samples.push(...scanqaConversations(readJson(path) as unknown[], path));
  if ((o.sqa3dQuestions === undefined) !== (o.sqa3dAnnotations === undefined)) {
    throw new InputError('give --sqa3d-questions and --sqa3d-annotations together (the same split)');
  }
  if (o.sqa3dQuestions && o.sqa3dAnnotations) {
    samples.push(
      ...sqa3dConversations(readJson(o.sqa3dQuestions), readJson(o.sqa3dAnnotations), [
        o.sqa3dQuestions,
        o.sqa3dAnnotations,
      ]),
    );
  }
  if (o.total !== undefined && !/^\d+$/.test(o.total))
    throw new InputError(`--total must be a whole number, got "${o.total}"`);
  const exclude = new Set((await Promise.all((o.excludeScenes ?? []).map(readSceneList))).flat());
  const { samples: mixed, report } = mixDatasets(samples, {
    recipe: o.recipe ? parseRecipe(readJson(o.recipe), o.recipe) : undefined,
    total: o.total === undefined ? undefined : Number(o.total),
    seed: parseSeed(o.seed),
    excludeScenes: exclude,
  });
  writeRecordsAtomic(o.out, mixed);
  log(
    `${report.input} samples in, ${report.excluded} in excluded scenes, ${report.duplicates} duplicates, ${report.unmatched} in no bucket`,
  );
  for (const b of report.buckets)
    log(
      `${b.name}: ${b.quota} of ${b.available} (${((100 * b.quota) / Math.max(1, mixed.length)).toFixed(1)}%)`,
    );
  log(`${mixed.length} samples → ${o.out}`);
}
