// A z-buffered triangle rasterizer with Lambert shading, in plain TypeScript.
//
// Geometry pass: triangles facing the camera are clipped against the near plane, projected, and scanned with
// integer edge functions (vertices snapped to 1/256 pixel, so edges shared by two triangles are decided the same
// way on both sides: no cracks, no double cover; ties go to one side by a top-left style rule). Pixel centres sit
// at integer coordinates (OpenCV). 1/z is interpolated linearly in screen space, which is exact for planar
// triangles, so the depth buffer holds each pixel's true camera-space z.
//
// Shading pass: each covered pixel is unprojected with its depth to the exact world point, whose solid-texture
// albedo is lit by an ambient term, a directional "sun" and a ceiling point light (flat per-triangle normals).
import type { RgbImage } from '../../media/image.ts';
import type { Camera } from './camera.ts';
import { albedo, type Material, type Rgb } from './materials.ts';
import type { Mesh, Vec3 } from './mesh.ts';

export interface Lighting {
  ambient: number;
  /** Unit direction towards the sun, and its strength. */
  sun: Vec3;
  sunPower: number;
  lamp: Vec3;
  lampPower: number;
}

export interface Render {
  image: RgbImage;
  /** Camera-space z per pixel, metres (0 where nothing was hit: never inside a closed room). */
  depth: Float32Array;
  /** Instance id per pixel (0: room surfaces or nothing). */
  instance: Uint16Array;
}

export const NEAR = 0.02;
const SUB = 256; // sub-pixel steps of the snapped vertex coordinates

/** The geometry pass: per pixel, the nearest camera-space z and the triangle it belongs to (−1: none). */
export interface Raster {
  zbuf: Float64Array;
  owner: Int32Array;
}

export function rasterize(mesh: Mesh, cam: Camera): Raster {
  const { width: W, height: H, fx, fy, cx, cy } = cam;
  const m = cam.cameraToWorld;
  const zbuf = new Float64Array(W * H).fill(Number.POSITIVE_INFINITY);
  const owner = new Int32Array(W * H).fill(-1);

  // World → camera for every vertex.
  const P = mesh.positions;
  const nv = P.length / 3;
  const vc = new Float64Array(P.length);
  const [ox, oy, oz] = [m[0][3], m[1][3], m[2][3]];
  for (let v = 0; v < nv; v++) {
    const dx = P[3 * v] - ox;
    const dy = P[3 * v + 1] - oy;
    const dz = P[3 * v + 2] - oz;
    for (let r = 0; r < 3; r++) vc[3 * v + r] = m[0][r] * dx + m[1][r] * dy + m[2][r] * dz;
  }

  // Scan one camera-space triangle (already in front of the near plane).
  const sx = [0, 0, 0];
  const sy = [0, 0, 0];
  const iz = [0, 0, 0];
  const scan = (a: Vec3, b: Vec3, c: Vec3, tri: number) => {
    const pts = [a, b, c];
    for (let k = 0; k < 3; k++) {
      const [x, y, z] = pts[k];
      sx[k] = Math.round((fx * (x / z) + cx) * SUB);
      sy[k] = Math.round((fy * (y / z) + cy) * SUB);
      iz[k] = 1 / z;
    }
    let area = (sx[1] - sx[0]) * (sy[2] - sy[0]) - (sy[1] - sy[0]) * (sx[2] - sx[0]);
    if (area === 0) return;
    if (area < 0) {
      [sx[1], sx[2]] = [sx[2], sx[1]];
      [sy[1], sy[2]] = [sy[2], sy[1]];
      [iz[1], iz[2]] = [iz[2], iz[1]];
      area = -area;
    }
    const x0 = Math.max(0, Math.ceil(Math.min(sx[0], sx[1], sx[2]) / SUB));
    const x1 = Math.min(W - 1, Math.floor(Math.max(sx[0], sx[1], sx[2]) / SUB));
    const y0 = Math.max(0, Math.ceil(Math.min(sy[0], sy[1], sy[2]) / SUB));
    const y1 = Math.min(H - 1, Math.floor(Math.max(sy[0], sy[1], sy[2]) / SUB));
    if (x0 > x1 || y0 > y1) return;
    // Edge k is opposite vertex k: from vertex k+1 to vertex k+2. E(p) = (bx−ax)(py−ay) − (by−ay)(px−ax).
    const ax = [sx[1], sx[2], sx[0]];
    const ay = [sy[1], sy[2], sy[0]];
    const ex = [sx[2] - sx[1], sx[0] - sx[2], sx[1] - sx[0]];
    const ey = [sy[2] - sy[1], sy[0] - sy[2], sy[1] - sy[0]];
    // A pixel exactly on an edge belongs to the triangle only for one direction of that edge.
    const bias = ex.map((dx, k) => (ey[k] > 0 || (ey[k] === 0 && dx < 0) ? 0 : -1));
    const row = [0, 0, 0];
    for (let k = 0; k < 3; k++) row[k] = ex[k] * (y0 * SUB - ay[k]) - ey[k] * (x0 * SUB - ax[k]);
    for (let y = y0; y <= y1; y++) {
      let w0 = row[0];
      let w1 = row[1];
      let w2 = row[2];
      for (let x = x0; x <= x1; x++) {
        if (w0 + bias[0] >= 0 && w1 + bias[1] >= 0 && w2 + bias[2] >= 0) {
          const z = area / (w0 * iz[0] + w1 * iz[1] + w2 * iz[2]);
          const p = y * W + x;
          if (z < zbuf[p]) {
            zbuf[p] = z;
            owner[p] = tri;
          }
        }
        w0 -= ey[0] * SUB;
        w1 -= ey[1] * SUB;
        w2 -= ey[2] * SUB;
      }
      for (let k = 0; k < 3; k++) row[k] += ex[k] * SUB;
    }
  };

  const I = mesh.indices;
  const N = mesh.normals;
  for (let t = 0; t < I.length / 3; t++) {
    const [ia, ib, ic] = [I[3 * t], I[3 * t + 1], I[3 * t + 2]];
    // Back faces (seen from behind) cannot be visible in closed shapes or from inside the room.
    const facing =
      N[3 * t] * (ox - P[3 * ia]) + N[3 * t + 1] * (oy - P[3 * ia + 1]) + N[3 * t + 2] * (oz - P[3 * ia + 2]);
    if (facing <= 0) continue;
    const verts: Vec3[] = [ia, ib, ic].map((v) => [vc[3 * v], vc[3 * v + 1], vc[3 * v + 2]]);
    const inFront = verts.filter((v) => v[2] >= NEAR).length;
    if (inFront === 3) scan(verts[0], verts[1], verts[2], t);
    else if (inFront > 0) {
      const poly = clipNear(verts);
      for (let k = 1; k + 1 < poly.length; k++) scan(poly[0], poly[k], poly[k + 1], t);
    }
  }

  return { zbuf, owner };
}

/** Rasterizes and shades one view. */
export function render(mesh: Mesh, materials: readonly Material[], light: Lighting, cam: Camera): Render {
  const { width: W, height: H, fx, fy, cx, cy } = cam;
  const m = cam.cameraToWorld;
  const [ox, oy, oz] = [m[0][3], m[1][3], m[2][3]];
  const N = mesh.normals;
  const { zbuf, owner } = rasterize(mesh, cam);
  const image: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  const depth = new Float32Array(W * H);
  const instance = new Uint16Array(W * H);
  const rgb: Rgb = [0, 0, 0];
  const n: Rgb = [0, 0, 0];
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const p = y * W + x;
      const t = owner[p];
      if (t < 0) continue;
      depth[p] = zbuf[p];
      instance[p] = mesh.instance[t];
      const z = zbuf[p];
      const xc = ((x - cx) / fx) * z;
      const yc = ((y - cy) / fy) * z;
      const wx = m[0][0] * xc + m[0][1] * yc + m[0][2] * z + ox;
      const wy = m[1][0] * xc + m[1][1] * yc + m[1][2] * z + oy;
      const wz = m[2][0] * xc + m[2][1] * yc + m[2][2] * z + oz;
      n[0] = N[3 * t];
      n[1] = N[3 * t + 1];
      n[2] = N[3 * t + 2];
      albedo(materials[mesh.material[t]], wx, wy, wz, n, rgb);
      const lx = light.lamp[0] - wx;
      const ly = light.lamp[1] - wy;
      const lz = light.lamp[2] - wz;
      const dist = Math.hypot(lx, ly, lz);
      const lamp = Math.max(0, (n[0] * lx + n[1] * ly + n[2] * lz) / dist) / (1 + 0.08 * dist * dist);
      const sun = Math.max(0, n[0] * light.sun[0] + n[1] * light.sun[1] + n[2] * light.sun[2]);
      const k = light.ambient + light.sunPower * sun + light.lampPower * lamp;
      for (let c = 0; c < 3; c++) image.data[3 * p + c] = Math.min(255, Math.round(255 * rgb[c] * k));
    }
  return { image, depth, instance };
}

/**
 * The part of a camera-space triangle in front of the near plane (Sutherland–Hodgman). The crossing point of
 * an edge is always computed from its front vertex, so triangles sharing that edge get bit-identical points.
 */
function clipNear(v: Vec3[]): Vec3[] {
  const out: Vec3[] = [];
  for (let k = 0; k < 3; k++) {
    const a = v[k];
    const b = v[(k + 1) % 3];
    const aIn = a[2] >= NEAR;
    const bIn = b[2] >= NEAR;
    if (aIn) out.push(a);
    if (aIn !== bIn) {
      const [p, q] = aIn ? [a, b] : [b, a];
      const s = (NEAR - p[2]) / (q[2] - p[2]);
      out.push([p[0] + s * (q[0] - p[0]), p[1] + s * (q[1] - p[1]), NEAR]);
    }
  }
  return out;
}
