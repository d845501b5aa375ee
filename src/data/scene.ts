import { z } from 'zod';
import { InputError } from '../errors.ts';
import { readJsonFile } from '../json.ts';

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
  return parseSceneMetaFile(readJsonFile(path, 'pass a meta_info .json file'), path);
}
