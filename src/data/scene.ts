// Scene metadata: the layout of VSI-Bench's released meta_info files (vision-x-nyu/thinking-in-space
// `data/meta_info/*_meta_info_val.json`), which every QA generator reads, plus optional extensions that the
// appearance-order and route-planning generators need and VSI-Bench's files lack (per-frame visibility, cameras,
// the floor outline). Field names stay snake_case so a VSI-Bench file parses unchanged.
//
// Conventions (the synthetic world writes these too):
// - World frame in metres, z up (ScanNet axis-aligned, ARKitScenes and ScanNet++ metadata all put gravity on −z).
// - An oriented box's `normalizedAxes` is a row-major 3×3 whose ROWS are the box's unit axes; `axesLengths[i]` is
//   the full extent along row i; `min`/`max` are the axis-aligned bounds of the oriented box.
// - `camera_to_world` is a 4×4 row-major matrix mapping OpenCV camera coordinates (x right, y down, z forward)
//   to world coordinates (the ScanNet pose convention). Intrinsics are in pixels of a `width`×`height` frame.
// - `bbox_2d` is [xmin, ymin, xmax, ymax] in pixels; `instance_id` refers to `object_bbox[*][*].instance_id`.
// - Frame `timestamp` is in seconds from the start of the video.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../errors.ts';

const finite = z.number().finite();
const vec2 = z.tuple([finite, finite]);
const vec3 = z.tuple([finite, finite, finite]);
const nonNegInt = z.number().int().nonnegative();

const orientedBox = z.object({
  centroid: vec3,
  axesLengths: z.tuple([finite.nonnegative(), finite.nonnegative(), finite.nonnegative()]),
  normalizedAxes: z.array(finite).length(9),
  min: vec3,
  max: vec3,
  /** Links the box to per-frame visibility (extension; VLM-3R's metadata carries the same key). */
  instance_id: nonNegInt.optional(),
});

const intrinsics = z.object({
  fx: finite.positive(),
  fy: finite.positive(),
  cx: finite,
  cy: finite,
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});

const visibleInstance = z.object({
  instance_id: nonNegInt,
  bbox_2d: z.tuple([finite, finite, finite, finite]),
});

const frame = z.object({
  timestamp: finite.nonnegative(),
  /** Index of the frame in the source video, when known. */
  frame_index: nonNegInt.optional(),
  intrinsics: intrinsics.optional(),
  camera_to_world: z.array(z.array(finite).length(4)).length(4).optional(),
  instances: z.array(visibleInstance).optional(),
});

const floor = z.object({
  /** Floor outline in the world xy plane, metres, in order (either winding), not closed (first ≠ last). */
  polygon: z.array(vec2).min(3),
  /** Height of the floor plane (world z). */
  z: finite,
});

export const sceneMetaSchema = z.object({
  /** Floor area in m² (VSI-Bench: alpha shape of the floor). */
  room_size: finite.positive(),
  room_center: vec3.optional(),
  object_counts: z.record(z.string(), nonNegInt),
  object_bbox: z.record(z.string(), z.array(orientedBox)),
  video_path: z.string().optional(),
  dataset: z.string().optional(),
  frames: z.array(frame).optional(),
  floor: floor.optional(),
});

export type Vec2 = z.infer<typeof vec2>;
export type Vec3 = z.infer<typeof vec3>;
export type OrientedBox = z.infer<typeof orientedBox>;
export type CameraIntrinsics = z.infer<typeof intrinsics>;
export type VisibleInstance = z.infer<typeof visibleInstance>;
export type FrameInfo = z.infer<typeof frame>;
export type FloorInfo = z.infer<typeof floor>;
export type SceneMeta = z.infer<typeof sceneMetaSchema>;
/** A meta_info file: scene name → metadata. */
export type SceneMetaFile = Record<string, SceneMeta>;

/** Validates one scene's metadata; `where` names it in errors (file and scene). */
export function parseSceneMeta(value: unknown, where: string): SceneMeta {
  const r = sceneMetaSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InputError(
      `${where}: invalid scene metadata at ${issue.path.join('.') || '(root)'}: ${issue.message}. ` +
        'Expected the VSI-Bench meta_info layout (room_size, object_counts, object_bbox, …); see src/data/scene.ts',
    );
  }
  return r.data;
}

/** Validates a whole meta_info object (scene name → metadata). */
export function parseSceneMetaFile(value: unknown, where: string): SceneMetaFile {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(`${where}: expected a JSON object mapping scene names to scene metadata`);
  }
  const out: SceneMetaFile = {};
  for (const [name, meta] of Object.entries(value)) out[name] = parseSceneMeta(meta, `${where} [${name}]`);
  return out;
}

/** Reads and validates a meta_info JSON file. */
export function readSceneMetaFile(path: string): SceneMetaFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new InputError(`cannot read scene metadata file ${path}: check the path`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path} is not valid JSON (${(e as Error).message}): pass a meta_info .json file`);
  }
  return parseSceneMetaFile(json, path);
}
