// A short synthetic clip (tests, benchmarks): a smooth textured scene seen by a camera panning sideways (the kind of
// image VGGT's fixtures use), so the geometry stages have structure to work on.
import type { RgbImage } from '../../media/image.ts';
import { createImage } from '../../media/image.ts';
import { writeVideo } from '../../media/video.ts';

export function demoFrames(count = 12, width = 224, height = 168): RgbImage[] {
  const waves = [
    [0.031, 0.017, 0.0],
    [0.013, 0.041, 1.3],
    [0.027, -0.022, 2.1],
  ];
  return Array.from({ length: count }, (_, t) => {
    const img = createImage(width, height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const u = x + 6 * t;
        for (let c = 0; c < 3; c++) {
          const [a, b, p] = waves[c];
          const v = 0.5 + 0.25 * Math.sin(a * u + b * y + p) + 0.2 * Math.sin(0.11 * u * (c + 1) - 0.07 * y);
          img.data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v * 255)));
        }
      }
    return img;
  });
}

export async function writeDemoClip(path: string, count = 12): Promise<void> {
  await writeVideo(path, demoFrames(count), 6);
}
