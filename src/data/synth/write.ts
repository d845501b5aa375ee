// Writes one synthetic scene: `<name>.mp4` (H.264, frames rendered and encoded one at a time),
// `<name>.safetensors` (exact per-frame maps and cameras) and `<name>.json` (the scene metadata, written last, so
// its presence marks a complete scene), optionally `<name>.png` (a preview). Every file appears atomically
// (temporary file + rename).
//
// Tensors in `<name>.safetensors`, T frames of H×W pixels:
//   depth       float32 [T,H,W]  camera-space z in metres (0 where nothing was hit)
//   instance    uint8   [T,H,W]  instance id per pixel (0 = floor, walls, ceiling; ids as in the metadata boxes)
//   intrinsics  float32 [T,3,3]  K = [[fx,0,cx],[0,fy,cy],[0,0,1]], pixel centres at integer coordinates
//   extrinsics  float32 [T,3,4]  world-to-camera [R|t], OpenCV axes (VGGT's `extrinsic` layout)
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RgbImage, writeImage } from '../../media/image.ts';
import { writeVideo } from '../../media/video.ts';
import { writeSafetensors } from '../../weights/safetensors.ts';
import type { FrameInfo, SceneMeta } from '../scene.ts';
import { worldToCamera } from './camera.ts';
import { previewTriptych } from './preview.ts';
import { type Render, render } from './render.ts';
import { frameInfo, type SynthScene, sceneMeta, visibleInstances } from './world.ts';

/** Writes JSON atomically. */
export function writeJson(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value)}\n`);
  renameSync(tmp, path);
}

export interface WriteSceneOptions {
  /** Called after each rendered frame. */
  onFrame?: (index: number) => void;
  /** Also write `<name>.png`: colour | depth | instances of the frame showing the most objects. */
  preview?: boolean;
}

/** Renders and writes a scene into `dir`. */
export async function writeScene(
  scene: SynthScene,
  dir: string,
  o: WriteSceneOptions = {},
): Promise<SceneMeta> {
  const T = scene.cameras.length;
  const { width: W, height: H } = scene.cameras[0];
  if (scene.objects.length > 255)
    throw new Error(`${scene.name}: more than 255 instances do not fit uint8 masks`);
  const depth = new Float32Array(T * W * H);
  const instance = new Uint8Array(T * W * H);
  const frames: FrameInfo[] = [];
  let best: { shown: number; render: Render } | undefined;
  async function* images(): AsyncGenerator<RgbImage> {
    for (let i = 0; i < T; i++) {
      const r = render(scene.mesh, scene.materials, scene.lighting, scene.cameras[i]);
      depth.set(r.depth, i * W * H);
      instance.set(r.instance, i * W * H);
      const visible = visibleInstances(r.instance, W, H);
      frames.push(frameInfo(scene, i, visible));
      if (o.preview && (!best || visible.length > best.shown)) best = { shown: visible.length, render: r };
      o.onFrame?.(i);
      yield r.image;
    }
  }
  await writeVideo(join(dir, `${scene.name}.mp4`), images(), scene.fps);

  const intrinsics = new Float32Array(T * 9);
  const extrinsics = new Float32Array(T * 12);
  scene.cameras.forEach((c, i) => {
    intrinsics.set([c.fx, 0, c.cx, 0, c.fy, c.cy, 0, 0, 1], i * 9);
    extrinsics.set(worldToCamera(c).flat(), i * 12);
  });
  writeSafetensors(
    join(dir, `${scene.name}.safetensors`),
    {
      depth: { dtype: 'float32', shape: [T, H, W], data: depth },
      instance: { dtype: 'uint8', shape: [T, H, W], data: instance },
      intrinsics: { dtype: 'float32', shape: [T, 3, 3], data: intrinsics },
      extrinsics: { dtype: 'float32', shape: [T, 3, 4], data: extrinsics },
    },
    { scene: scene.name, fps: String(scene.fps) },
  );
  if (best) writeImage(join(dir, `${scene.name}.png`), previewTriptych(best.render));
  const meta = sceneMeta(scene, frames);
  writeJson(join(dir, `${scene.name}.json`), meta);
  return meta;
}
