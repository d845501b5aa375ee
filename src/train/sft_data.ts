// SFT training records: the conversation layout that `data qa --format conversation` and `data mix` write (JSON
// Lines) and upstream's annotation files (a JSON list, THU-SI/Spatial-MLLM `src/qwenvl/data/__init__.py` entries):
// `{id?, video, conversations: [{from: human|gpt, value}]}` with `<video>` where the video goes. Every record is
// checked before training starts (upstream's dataset silently substitutes the next sample when one fails; we
// refuse, naming the file and line), so a run never stops half-way on bad data.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { InputError } from '../errors.ts';
import type { JsonObject } from '../json.ts';
import { type Turn, VIDEO_TAG } from './sft_labels.ts';

export interface SftRecord {
  id: string;
  /** The record's `video` field, relative to the media folder. */
  video: string;
  /** Resolved path of the video file or frame folder. */
  videoPath: string;
  turns: Turn[];
  /** `"blind": true`: every frame is replaced by mid-grey, as the blind control of the eval harness (`--blind`),
   * so that a model trained with some blind samples answers a grey video from the question alone. */
  blind: boolean;
  /** `file:line` (JSON Lines) or `file record N` (JSON list), for messages. */
  where: string;
  /** Free fields carried along (question_type, ground truth for GRPO…). */
  extra: Record<string, unknown>;
}

function parseLines(path: string, text: string): { value: unknown; where: string }[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (e) {
      throw new InputError(`${path} is not valid JSON (${(e as Error).message}); fix the file`);
    }
    return (list as unknown[]).map((value, i) => ({ value, where: `${path} record ${i + 1}` }));
  }
  return text.split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    const where = `${path}:${i + 1}`;
    try {
      return [{ value: JSON.parse(line) as unknown, where }];
    } catch (e) {
      throw new InputError(
        `${where}: malformed line, not a JSON object (${(e as Error).message}); fix the line`,
      );
    }
  });
}

function parseTurns(value: unknown, where: string): Turn[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new InputError(`${where}: "conversations" must be a non-empty list of {from, value} turns`);
  return value.map((t, i) => {
    const turn = t as JsonObject;
    const from = turn?.from ?? turn?.role;
    const text = turn?.value ?? turn?.content;
    const role = from === 'user' ? 'human' : from === 'assistant' ? 'gpt' : from;
    if ((role !== 'human' && role !== 'gpt') || typeof text !== 'string')
      throw new InputError(
        `${where}: turn ${i + 1} must be {"from": "human"|"gpt", "value": "<text>"}, got ${JSON.stringify(t).slice(0, 80)}`,
      );
    return { from: role, value: text };
  });
}

/** One record checked: a video that exists, one `<video>` tag in a human turn, an assistant answer to train on. */
export function parseRecord(value: unknown, where: string, mediaDir: string): SftRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError(`${where}: expected a JSON object with "video" and "conversations"`);
  const { id, video, conversations, blind, ...extra } = value as JsonObject;
  if (typeof video !== 'string' || video === '')
    throw new InputError(`${where}: no "video" field; each sample needs the video it asks about`);
  const turns = parseTurns(conversations, where);
  const body = turns[0].from === 'human' ? turns : turns.slice(1);
  if (!body.some((t) => t.from === 'gpt'))
    throw new InputError(`${where}: no assistant ("gpt") turn, so nothing to train on; add the answer turn`);
  const tags = body.reduce((n, t) => n + (t.from === 'human' ? t.value.split(VIDEO_TAG).length - 1 : 0), 0);
  if (tags !== 1)
    throw new InputError(
      `${where}: the human turns hold ${tags} "${VIDEO_TAG}" tags; put exactly one where the video goes`,
    );
  const videoPath = isAbsolute(video) ? video : join(mediaDir, video);
  if (!existsSync(videoPath))
    throw new InputError(`${where}: video ${videoPath} not found; check --media and the "video" field`);
  if (blind !== undefined && typeof blind !== 'boolean')
    throw new InputError(`${where}: "blind" must be true or false`);
  const record = { id: typeof id === 'string' ? id : String(id ?? where), video, videoPath, turns, where };
  return { ...record, blind: blind === true, extra };
}

/** Reads and checks every record of a .jsonl or .json annotation file; media paths resolve under `mediaDir`. */
export function readSftRecords(path: string, mediaDir: string): SftRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new InputError(`cannot read training data ${path}: check the path`);
  }
  const records = parseLines(path, text).map(({ value, where }) => parseRecord(value, where, mediaDir));
  if (records.length === 0) throw new InputError(`${path} holds no training samples`);
  return records;
}
