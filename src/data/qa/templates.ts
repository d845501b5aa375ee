// Question wording of the VSI-Bench task types, as written in VITA-Group/VLM-3R
// `vlm_3r_data_process/src/question_templates.py` (the public re-implementation of the VSI-Bench generator), and
// parsers that recover the objects a question is about (the answer oracle reads third-party questions with them).
// Parsers collapse whitespace first, so line breaks and doubled spaces in other copies of the wording still match.
import type { REL_DIRECTION_TYPES } from '../../vsibench.ts';

export const countingQuestion = (category: string) => `How many ${category}(s) are in this room?`;

export const sizeQuestion = (category: string) =>
  `What is the length of the longest dimension (length, width, or height) of the ${category}, measured in centimeters?`;

// The upstream template keeps a space before its line break.
export const ROOM_SIZE_QUESTION =
  'What is the size of this room (in square meters)? \nIf multiple rooms are shown, estimate the size of the combined space.';

export const absDistanceQuestion = (a: string, b: string) =>
  `Measuring from the closest point of each object, what is the direct distance between the ${a} and the ${b} (in meters)?`;

/** Lists the choices in their lettered order (upstream fills choice_a… after shuffling). */
export const relDistanceQuestion = (choices: readonly string[], category: string) =>
  `Measuring from the closest point of each object, which of these objects (${choices.join(', ')}) is the closest to the ${category}?\n` +
  'If there are multiple instances of an object category, measure to the closest.';

const standing = (positioning: string, orienting: string) =>
  `If I am standing by the ${positioning} and facing the ${orienting}`;

export const relDirectionQuestion = {
  /** VLM-3R v1: four quadrants. */
  hard: (p: string, o: string, q: string) =>
    `${standing(p, o)}, is the ${q} to my front-left, front-right, back-left, or back-right?\n` +
    'The directions refer to the quadrants of a Cartesian plane (if I am standing at the origin and facing along the positive y-axis).',
  /** VLM-3R v2: left, right, back. */
  medium: (p: string, o: string, q: string) =>
    `${standing(p, o)}, is the ${q} to my left, right, or back?\n` +
    'An object is to my back if I would have to turn at least 135 degrees in order to face it.',
  /** VLM-3R v3: left or right. */
  easy: (p: string, o: string, q: string) =>
    `${standing(p, o)}, is the ${q} to the left or the right of the ${o}?`,
};

export const appearanceOrderQuestion = (categories: readonly string[]) =>
  `What will be the first-time appearance order of the following categories in the video: ${categories.join(', ')}?`;

export const ROUTE_FILL = '[please fill in]';

/** One step of a route description: walk to a named object, or a turn the reader must fill in. */
export type RouteStep = { kind: 'forward'; target: string } | { kind: 'turn' };

/** Numbered steps, the last one ending in a full stop, then the closing sentence. */
export function routeActions(steps: readonly RouteStep[]): string {
  const items = steps.map(
    (s, i) => `${i + 1}. ${s.kind === 'turn' ? ROUTE_FILL : `Go forward until the ${s.target}`}`,
  );
  return `${items.join(' ')}. You have reached the final destination.`;
}

export const routeQuestion = (
  start: string,
  facing: string,
  destination: string,
  steps: readonly RouteStep[],
) =>
  `You are a robot beginning at the ${start} facing the ${facing}. You want to navigate to the ${destination}. ` +
  "You will perform the following actions (Note: for each [please fill in], choose either 'turn back,' 'turn left,' or 'turn right.'): " +
  routeActions(steps);

// ---- parsing -------------------------------------------------------------------------------------------------

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();
const match = (re: RegExp, question: string) => re.exec(squash(question));
const list = (s: string) => s.split(',').map((x) => x.trim());

export type ParsedQuestion =
  | { type: 'object_counting' | 'object_size_estimation'; category: string }
  | { type: 'room_size_estimation' }
  | { type: 'object_abs_distance'; a: string; b: string }
  | { type: 'object_rel_distance'; choices: string[]; category: string }
  | {
      type: (typeof REL_DIRECTION_TYPES)[number];
      positioning: string;
      orienting: string;
      querying: string;
    }
  | { type: 'obj_appearance_order'; categories: string[] }
  | { type: 'route_planning'; start: string; facing: string; destination: string; steps: RouteStep[] };

const STANDING = '^If I am standing by the (.+?) and facing the (.+?), is the (.+?) ';
/** What follows the querying object in each level's wording. */
const DIRECTION_TAIL = {
  object_rel_direction_hard: 'to my front-left, front-right, back-left, or back-right\\?',
  object_rel_direction_medium: 'to my left, right, or back\\?',
  object_rel_direction_easy: 'to the left or the right of the .+?\\?',
};

/** Recovers the objects of a question of the given type, or null when the wording is not one of ours. */
export function parseQuestion(type: string, question: string): ParsedQuestion | null {
  switch (type) {
    case 'object_counting': {
      const m = match(/^How many (.+?)\(s\) are in this room\?$/, question);
      return m ? { type, category: m[1] } : null;
    }
    case 'object_size_estimation': {
      const m = match(
        /^What is the length of the longest dimension \(length, width, or height\) of the (.+?), measured in centimeters\?$/,
        question,
      );
      return m ? { type, category: m[1] } : null;
    }
    case 'room_size_estimation':
      return /^What is the size of this room \(in square meters\)\?/.test(squash(question)) ? { type } : null;
    case 'object_abs_distance': {
      const m = match(
        /what is the direct distance between the (.+?) and the (.+?) \(in meters\)\?$/,
        question,
      );
      return m ? { type, a: m[1], b: m[2] } : null;
    }
    case 'object_rel_distance': {
      const m = match(/which of these objects \((.+?)\) is the closest to the (.+?)\?/, question);
      return m ? { type, choices: list(m[1]), category: m[2] } : null;
    }
    case 'object_rel_direction_hard':
    case 'object_rel_direction_medium':
    case 'object_rel_direction_easy': {
      const m = match(new RegExp(STANDING + DIRECTION_TAIL[type]), question);
      return m ? { type, positioning: m[1], orienting: m[2], querying: m[3] } : null;
    }
    case 'obj_appearance_order': {
      const m = match(/the following categories in the video: (.+)\?$/, question);
      return m ? { type, categories: list(m[1]) } : null;
    }
    case 'route_planning': {
      const q = squash(question);
      const m = /beginning at the (.+?) facing the (.+?)\. You want to navigate to the (.+?)\. /.exec(q);
      const actions = /\): (.+?)\.? You have reached the final destination/.exec(q);
      if (!m || !actions) return null;
      const steps: RouteStep[] = [];
      for (const item of actions[1].split(/\s*\d+\.\s+/).filter((s) => s.length > 0)) {
        const body = item.trim().replace(/\.$/, '');
        if (body.toLowerCase() === ROUTE_FILL) steps.push({ kind: 'turn' });
        else {
          const f = /^Go forward until the (.+)$/i.exec(body);
          if (!f) return null;
          steps.push({ kind: 'forward', target: f[1] });
        }
      }
      return { type, start: m[1], facing: m[2], destination: m[3], steps };
    }
    default:
      return null;
  }
}
