// What geometry jobs get from the app: the Spatial-MLLM pipeline on a checkpoint folder, loaded only when a
// `geometry precompute` run or a worker's geometry job asks for it (src/queue knows no pipeline).
import type { GeometryPipeline } from '../queue/geometry_queue.ts';

export async function loadGeometryPipeline(checkpoint: string): Promise<GeometryPipeline> {
  const { SpatialMllmPipeline } = await import('../pipeline/answer.ts');
  // sessions off the main thread: a worker must keep renewing its job lock while VGGT runs
  return SpatialMllmPipeline.load(checkpoint, { offMainThread: true });
}
