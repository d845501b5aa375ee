// Image preprocessing in front of VGGT. Upstream: facebookresearch/vggt `vggt/utils/load_fn.py`
// (load_and_preprocess_images, crop and pad modes) and Spatial-MLLM `src/sampling/sa_sampling.py` (its own
// load_and_preprocess_images, used before space-aware frame sampling). Everything up to the final division is
// done on uint8 pixels: resizing is Pillow's bicubic, and the white padding 1.0 is exactly 255 / 255.
import { InputError } from '../../errors.ts';
import type { RgbImage } from '../../media/image.ts';
import { resize } from '../../media/resize.ts';
import { cropRows, padCentered, rotateClockwise } from '../../media/transform.ts';
import { roundHalfEven } from '../../python_compat.ts';
import { type HostTensor, tensor } from '../../tensor.ts';

/** Side VGGT was trained at (37 patches of 14 px). */
export const VGGT_IMAGE_SIZE = 518;

/** crop: width 518, height scaled and centre-cropped to at most 518. pad: the longer side 518, the other scaled,
 * then padded white to 518×518. */
export type VggtMode = 'crop' | 'pad';

const WHITE = 255;

/** [width, height] the loader resizes a width×height image to: one side 518 (or `side`, a multiple of 14: the
 * CPU geometry mode's lower resolution), the other scaled and rounded to a multiple of 14 with Python's round
 * (ties to even: 296×84 → height 140, not 154). */
export function vggtResizeSize(
  width: number,
  height: number,
  mode: VggtMode,
  side = VGGT_IMAGE_SIZE,
): [number, number] {
  const s = side;
  const size: [number, number] =
    mode === 'pad' && height > width
      ? [roundHalfEven((width * (s / height)) / 14) * 14, s]
      : [s, roundHalfEven((height * (s / width)) / 14) * 14];
  if (size[0] === 0 || size[1] === 0)
    throw new InputError(
      `a ${width}×${height} image is too elongated for VGGT (a side would become 0 px); crop it`,
    );
  return size;
}

/** One image as the loader leaves it before batching: resized, then centre-cropped (crop) or padded (pad). */
export function vggtPrepareImage(image: RgbImage, mode: VggtMode, side = VGGT_IMAGE_SIZE): RgbImage {
  const s = side;
  const [width, height] = vggtResizeSize(image.width, image.height, mode, side);
  const resized = resize(image, width, height, 'bicubic');
  if (mode === 'pad') return padCentered(resized, s, s, WHITE);
  return height > s ? cropRows(resized, (height - s) >> 1, s) : resized;
}

/** torchvision ToTensor of same-size images: [N, 3, H, W] float32 = v / 255. */
export function toUnitTensor(images: readonly RgbImage[]): HostTensor<'float32'> {
  const { width, height } = images[0];
  const plane = width * height;
  const out = new Float32Array(images.length * 3 * plane);
  images.forEach((img, n) => {
    if (img.width !== width || img.height !== height)
      throw new Error(`toUnitTensor: image ${n} is ${img.width}×${img.height}, expected ${width}×${height}`);
    for (let i = 0; i < plane; i++)
      for (let c = 0; c < 3; c++) out[(n * 3 + c) * plane + i] = img.data[i * 3 + c] / 255;
  });
  return tensor('float32', [images.length, 3, height, width], out);
}

/** Images of different sizes are centred on the largest height and width, padded white (upstream warns). */
function batch(images: readonly RgbImage[]): HostTensor<'float32'> {
  const height = Math.max(...images.map((i) => i.height));
  const width = Math.max(...images.map((i) => i.width));
  return toUnitTensor(images.map((img) => padCentered(img, width, height, WHITE)));
}

/** vggt.utils.load_fn.load_and_preprocess_images on decoded RGB images (RGBA already composited on white):
 * [N, 3, H, W] float32 in [0, 1]. */
export function vggtPreprocess(images: readonly RgbImage[], mode: VggtMode = 'crop'): HostTensor<'float32'> {
  if (images.length === 0) throw new InputError('VGGT needs at least one image');
  return batch(images.map((img) => vggtPrepareImage(img, mode)));
}

/** Spatial-MLLM's loader before space-aware sampling: portrait frames (height > width) are first rotated 90°
 * clockwise, so a portrait video is processed lying on its side; then VGGT's crop mode (at width `side`). */
export function spatialMllmSamplingPreprocess(
  images: readonly RgbImage[],
  side = VGGT_IMAGE_SIZE,
): HostTensor<'float32'> {
  if (images.length === 0) throw new InputError('space-aware sampling needs at least one frame');
  return batch(
    images.map((img) => vggtPrepareImage(img.height > img.width ? rotateClockwise(img) : img, 'crop', side)),
  );
}
