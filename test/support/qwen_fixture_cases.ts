// The prompt cases of a `qwen2_5_vl` fixture's io.safetensors (`<case>.input_ids`, with `<case>.pixel_values` and
// `<case>.image_grid_thw` for an image, `<case>.pixel_values_videos`, `<case>.video_grid_thw` and
// `<case>.second_per_grid_ts` for a video), read as the model and the rope index take them.
import type { GridThw } from '../../src/models/qwen2_5_vl/rope_index.ts';
import { type HostTensor, toFloat32 } from '../../src/tensor.ts';
import type { SafetensorsFile } from '../../src/weights/safetensors.ts';

const ints = (t: HostTensor) => Array.from(t.data as BigInt64Array, Number);

/** One case: spread it into `ropeIndex({ inputIds: [c.ids], ...c }, …)`. */
export interface QwenFixtureCase {
  ids: number[];
  imageGridThw: GridThw[];
  videoGridThw: GridThw[];
  secondPerGridTs?: number[];
  /** The image's or video's processor output and grid; absent for a text prompt. */
  visual?: { grid: GridThw; pixels: HostTensor };
}

/** The names of the cases of a fixture's io.safetensors, in file order. */
export const qwenFixtureCaseNames = (io: SafetensorsFile): string[] =>
  io
    .names()
    .filter((n) => n.endsWith('.input_ids'))
    .map((n) => n.split('.')[0]);

export function readQwenFixtureCase(io: SafetensorsFile, c: string): QwenFixtureCase {
  const has = (n: string) => io.names().includes(`${c}.${n}`);
  const kind = has('pixel_values_videos') ? 'video' : has('pixel_values') ? 'image' : 'text';
  const out: QwenFixtureCase = { ids: ints(io.read(`${c}.input_ids`)), imageGridThw: [], videoGridThw: [] };
  if (has('second_per_grid_ts')) out.secondPerGridTs = [toFloat32(io.read(`${c}.second_per_grid_ts`))[0]];
  if (kind === 'text') return out;
  const grid = ints(io.read(`${c}.${kind}_grid_thw`)) as unknown as GridThw;
  (kind === 'video' ? out.videoGridThw : out.imageGridThw).push(grid);
  out.visual = { grid, pixels: io.read(`${c}.${kind === 'video' ? 'pixel_values_videos' : 'pixel_values'}`) };
  return out;
}
