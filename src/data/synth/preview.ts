// A quick look at a rendered frame: colour | depth | instances side by side, for eyeballing generated data.
import type { RgbImage } from '../../media/image.ts';
import { hash3 } from './noise.ts';
import type { Render } from './render.ts';

/** Depth runs from warm (near) to cool (far), normalised by the frame's farthest pixel; instance 0 stays dark. */
export function previewTriptych(r: Render): RgbImage {
  const { width: W, height: H } = r.image;
  const out: RgbImage = { width: 3 * W, height: H, data: new Uint8Array(9 * W * H) };
  let far = 0;
  for (const d of r.depth) far = Math.max(far, d);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const p = y * W + x;
      const o = 3 * (3 * W * y + x);
      const t = far > 0 ? r.depth[p] / far : 0;
      const depth = [255 * (1 - t), 255 * (1 - Math.abs(2 * t - 1)) * 0.8, 255 * t];
      const id = r.instance[p];
      for (let c = 0; c < 3; c++) {
        out.data[o + c] = r.image.data[3 * p + c];
        out.data[o + 3 * W + c] = Math.round(depth[c]);
        out.data[o + 6 * W + c] = id === 0 ? 40 : Math.round(70 + 185 * hash3(id, c, 0, 7));
      }
    }
  return out;
}
