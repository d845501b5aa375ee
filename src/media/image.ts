// 8-bit RGB images in memory and the PNG / JPEG files they come from (pngjs and jpeg-js: pure JavaScript).
// PNG decoding is exact; jpeg-js's IDCT and chroma upsampling differ from libjpeg-turbo's (which Pillow uses) by
// a level or two on some pixels, so JPEG frames are not bit-identical to what upstream's Python loaders see.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { InputError } from '../errors.ts';

/** An 8-bit RGB image; `data` is row-major HWC (r, g, b per pixel), length width·height·3. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A black image of the given size. */
/** Mid-grey (128) image of the same size: the frames of the blind control (eval `--blind`, blind SFT samples). */
export function greyLike(img: RgbImage): RgbImage {
  return { width: img.width, height: img.height, data: new Uint8Array(img.data.length).fill(128) };
}

export function createImage(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3) };
}

/** File extensions `readImage` understands (lower case, with the dot). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

/** Decodes a PNG or JPEG file (told apart by its magic bytes) to RGB; alpha is dropped like Pillow's convert('RGB'). */
export function readImage(path: string): RgbImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read image ${path}: ${(e as Error).message}`);
  }
  try {
    if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
      const png = PNG.sync.read(bytes); // RGBA, 16-bit samples rescaled to 8-bit
      return dropAlpha(png.width, png.height, png.data);
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (e) {
    throw new InputError(`image ${path} is corrupt: ${(e as Error).message}`);
  }
  throw new InputError(`${path} is neither a PNG nor a JPEG image: convert it to one of these formats`);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function dropAlpha(width: number, height: number, rgba: Uint8Array): RgbImage {
  const img = createImage(width, height);
  for (let p = 0, q = 0; q < img.data.length; p += 4, q += 3) {
    img.data[q] = rgba[p];
    img.data[q + 1] = rgba[p + 1];
    img.data[q + 2] = rgba[p + 2];
  }
  return img;
}

function withAlpha(img: RgbImage): Buffer {
  const rgba = Buffer.alloc(img.width * img.height * 4, 255);
  for (let p = 0, q = 0; q < img.data.length; p += 4, q += 3) {
    rgba[p] = img.data[q];
    rgba[p + 1] = img.data[q + 1];
    rgba[p + 2] = img.data[q + 2];
  }
  return rgba;
}

/** Lossless 8-bit RGB PNG bytes (deterministic: same pixels, same bytes). */
export function encodePng(img: RgbImage): Buffer {
  const png = new PNG({ width: img.width, height: img.height, colorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputHasAlpha: false });
}

/** Baseline JPEG bytes at `quality` (1–100). */
export function encodeJpeg(img: RgbImage, quality = 90): Buffer {
  return jpeg.encode({ width: img.width, height: img.height, data: withAlpha(img) }, quality).data;
}

/** Writes a PNG or JPEG (chosen by the extension) atomically: a temporary file renamed into place. */
export function writeImage(path: string, img: RgbImage): void {
  const ext = extname(path).toLowerCase();
  const bytes = ext === '.png' ? encodePng(img) : ext === '.jpg' || ext === '.jpeg' ? encodeJpeg(img) : null;
  if (!bytes) throw new InputError(`cannot write ${path}: use a .png, .jpg or .jpeg file name`);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
