// What `ask --save` and the demo write: the frames the model saw (PNG), VGGT's coloured point cloud of those frames
// (binary PLY, points above the 50th confidence percentile) and their cameras (JSON, OpenCV camera-from-world).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '../media/image.ts';
import type { SpatialMllm } from '../models/spatial_mllm/model.ts';
import {
  cameraRecords,
  confidenceMask,
  encodePly,
  maskedPointCloud,
  poseEncodingToCameras,
} from '../models/vggt/geometry.ts';
import { vggtWeights } from '../models/vggt/load.ts';
import { vggtPreprocess } from '../models/vggt/preprocess.ts';
import type { AskResult } from '../pipeline/ask.ts';

export interface SavedFiles {
  frames: string[];
  pointCloud?: string;
  cameras?: string;
  points?: number;
}

export async function saveAnswerArtifacts(
  model: SpatialMllm,
  result: AskResult,
  dir: string,
): Promise<SavedFiles> {
  mkdirSync(dir, { recursive: true });
  const seen = result.images.slice(0, result.frames.length);
  const frames = seen.map((img, i) => {
    const path = join(dir, `frame_${String(i).padStart(2, '0')}_${result.frames[i].index}.png`);
    writeFileSync(path, encodePng(img));
    return path;
  });
  const saved: SavedFiles = { frames };
  const w = vggtWeights(model.checkpoint.checkpoint);
  if (!w.available.point || !w.available.camera) return saved;
  const images = vggtPreprocess(seen, 'crop');
  const [, , H, W] = images.shape;
  const pred = await model.geometry().predict(images);
  const dims = { frames: seen.length, height: H, width: W };
  const { mask } = confidenceMask(pred.worldPointsConf!.data as Float32Array, 50, 1e-5);
  const cloud = maskedPointCloud(pred.worldPoints!.data as Float32Array, images.data, mask, dims);
  saved.pointCloud = join(dir, 'points.ply');
  writeFileSync(saved.pointCloud, encodePly(cloud));
  saved.points = cloud.positions.length / 3;
  const poses = pred.poseEncList![pred.poseEncList!.length - 1].data as Float32Array;
  const records = cameraRecords(poseEncodingToCameras(poses, H, W), H, W).map((r, i) => ({
    ...r,
    frame: result.frames[i].index,
    timestamp: result.frames[i].timestamp,
  }));
  saved.cameras = join(dir, 'cameras.json');
  writeFileSync(
    saved.cameras,
    `${JSON.stringify({ convention: 'OpenCV camera-from-world [R|t], first camera at origin, up to scale', cameras: records }, null, 2)}\n`,
  );
  return saved;
}
