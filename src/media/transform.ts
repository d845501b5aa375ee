// Exact pixel operations the Python loaders apply around resizing: Pillow's alpha compositing and 90° rotation,
// and the crops and constant pads done on the tensors (done here on uint8, which is exact because the pad value
// 1.0 is 255/255).
import type { RgbImage } from './image.ts';

/** `Image.alpha_composite(white RGBA, img).convert("RGB")` for RGBA pixels (width·height·4 bytes), with Pillow's
 * integer arithmetic (src/libImaging/AlphaComposite.c: 7 extra bits, divisions by 255 via shifts). */
export function compositeOverWhite(width: number, height: number, rgba: Uint8Array): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const shiftDiv255 = (a: number) => ((a >>> 8) + a) >>> 8;
  // The background is opaque, so Pillow's out-alpha is 255·255 and its blend weights reduce to α·128 for the
  // image and (255 − α)·128 for the white; a fully transparent pixel comes out white too.
  for (let i = 0; i < width * height; i++) {
    const a = rgba[i * 4 + 3];
    for (let c = 0; c < 3; c++)
      data[i * 3 + c] = shiftDiv255(rgba[i * 4 + c] * (a << 7) + 255 * ((255 - a) << 7) + (0x80 << 7)) >>> 7;
  }
  return { width, height, data };
}

/** 90° clockwise rotation (`Image.rotate(-90, expand=True)`, an exact transpose): a W×H image becomes H×W. */
export function rotateClockwise(image: RgbImage): RgbImage {
  const { width, height } = image;
  const data = new Uint8Array(width * height * 3);
  // Output pixel (row y, column x) is input pixel (row height − 1 − x, column y).
  for (let y = 0; y < width; y++)
    for (let x = 0; x < height; x++) {
      const src = ((height - 1 - x) * width + y) * 3;
      data.set(image.data.subarray(src, src + 3), (y * height + x) * 3);
    }
  return { width: height, height: width, data };
}

/** Rows [top, top + rows) of an image. */
export function cropRows(image: RgbImage, top: number, rows: number): RgbImage {
  const stride = image.width * 3;
  return { width: image.width, height: rows, data: image.data.slice(top * stride, (top + rows) * stride) };
}

/** Centres an image on a `width`×`height` canvas filled with `value` (extra pixel of an odd margin at the bottom /
 * right, as `pad // 2` on top/left). */
export function padCentered(image: RgbImage, width: number, height: number, value: number): RgbImage {
  if (width === image.width && height === image.height) return image;
  const top = (height - image.height) >> 1;
  const left = (width - image.width) >> 1;
  const data = new Uint8Array(width * height * 3).fill(value);
  const rowBytes = image.width * 3;
  for (let y = 0; y < image.height; y++)
    data.set(image.data.subarray(y * rowBytes, (y + 1) * rowBytes), ((top + y) * width + left) * 3);
  return { width, height, data };
}
