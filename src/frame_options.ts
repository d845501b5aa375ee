// How many frames of a video the model sees and how they are picked: the one list of sampling modes, the one
// default frame count and the one check of it, for the CLI, eval, the server and training alike. Top-level (no
// heavy imports) so that eval, which may not import the pipeline, uses the same facts; the sampling itself is
// pipeline/frame_sampling.ts, which re-exports these.
import { InputError } from './errors.ts';

/** uniform: evenly spaced (qwen_vl_utils); space-aware: voxel coverage of VGGT's point-head world points
 * (upstream sa_sampling.py); space-aware-depth: the paper's variant, world points unprojected from VGGT's depth
 * maps with its predicted cameras. */
export const FRAME_SAMPLINGS = ['uniform', 'space-aware', 'space-aware-depth'] as const;
export type FrameSampling = (typeof FRAME_SAMPLINGS)[number];
export const DEFAULT_FRAME_SAMPLING: FrameSampling = 'uniform';

/** Frames given to the model, as upstream's inference and evaluation. */
export const DEFAULT_FRAME_COUNT = 16;
/** Frames pair up into temporal patches, so at least 2 (qwen_vl_utils smart_nframes refuses fewer). */
export const MIN_FRAME_COUNT = 2;

/** The frame count of a request (number or command-line text), checked: a whole number ≥ 2. */
export function checkFrameCount(value: number | string, name = '--frames'): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < MIN_FRAME_COUNT)
    throw new InputError(
      `${name} ${value}: give a whole number of frames ≥ ${MIN_FRAME_COUNT} (default ${DEFAULT_FRAME_COUNT})`,
    );
  return n;
}

/** A sampling mode by name, checked. */
export function checkFrameSampling(value: string, name = '--sampling'): FrameSampling {
  if (!(FRAME_SAMPLINGS as readonly string[]).includes(value))
    throw new InputError(`${name} ${value}: choose one of ${FRAME_SAMPLINGS.join(', ')}`);
  return value as FrameSampling;
}

/**
 * How space-aware sampling reconstructs its candidate frames (pipeline/frame_sampling.ts GEOMETRY_PLANS):
 * exact = upstream (128 candidates at 518 px in one VGGT call: a GPU's work, hours on a CPU); cpu = fewer
 * candidates at a lower resolution in frame chunks that share an anchor frame (minutes on a CPU).
 */
export const GEOMETRY_MODES = ['exact', 'cpu'] as const;
export type GeometryMode = (typeof GEOMETRY_MODES)[number];

/** A geometry mode by name, checked. */
export function checkGeometryMode(value: string, name = '--geometry'): GeometryMode {
  if (!(GEOMETRY_MODES as readonly string[]).includes(value))
    throw new InputError(`${name} ${value}: choose one of ${GEOMETRY_MODES.join(', ')}`);
  return value as GeometryMode;
}

/** The geometry mode a device gets when none is asked for: exact on a GPU, cpu on the CPU (see GEOMETRY_MODES). */
export const defaultGeometryMode = (device: string | undefined): GeometryMode =>
  device === undefined || device === 'cpu' ? 'cpu' : 'exact';
