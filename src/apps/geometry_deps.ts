// What geometry jobs get from the app: space-aware sampling's candidate geometry with a checkpoint's VGGT, into
// the same per-video cache `ask` and `eval` read (src/queue knows no pipeline). Loaded only when asked for.
import { InputError } from '../errors.ts';
import type { GeometryPipeline } from '../queue/geometry_queue.ts';

export async function loadGeometryPipeline(checkpoint: string): Promise<GeometryPipeline> {
  const [{ SpatialMllm }, { candidateGeometry, defaultGeometryMode }, { openVideo }] = await Promise.all([
    import('../models/spatial_mllm/model.ts'),
    import('../pipeline/frame_sampling.ts'),
    import('../media/video.ts'),
  ]);
  // sessions off the main thread: a worker must keep renewing its job lock while VGGT runs
  const model = SpatialMllm.load(checkpoint, { offMainThread: true });
  return {
    async precomputeGeometry(path, sampling) {
      const video = await openVideo(path);
      if (video.frameCount < 1) throw new InputError(`${path}: the video has no frames`);
      // the cache key `ask` uses: the video path as given, the checkpoint folder and ask's geometry mode on this
      // device
      await candidateGeometry(video, sampling, {
        geometry: () => model.geometry(),
        modelKey: model.dir,
        geometryMode: defaultGeometryMode(model.options.device),
      });
    },
    release: () => model.release(),
  };
}
