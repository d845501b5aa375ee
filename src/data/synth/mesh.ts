// Triangle meshes of the synthetic world, in world coordinates (metres, z up). Every triangle carries the
// instance it belongs to (0 = the room itself: floor, walls, ceiling) and a material index. Triangles wind
// counter-clockwise seen from the side their normal points to (outside of furniture, into the room for walls).

export type Vec3 = [number, number, number];

/** Where an object stands: a point on the floor (or on its support) and a turn about z. */
export interface Pose {
  x: number;
  y: number;
  z: number;
  yaw: number;
}

export interface Mesh {
  /** xyz per vertex. */
  positions: Float64Array;
  /** Three vertex indices per triangle. */
  indices: Uint32Array;
  /** Unit normal per triangle (xyz). */
  normals: Float64Array;
  instance: Uint16Array;
  material: Uint16Array;
}

export class MeshBuilder {
  private readonly positions: number[] = [];
  private readonly indices: number[] = [];
  private readonly instance: number[] = [];
  private readonly material: number[] = [];

  triangle(a: Vec3, b: Vec3, c: Vec3, instance: number, material: number): void {
    const i = this.positions.length / 3;
    this.positions.push(...a, ...b, ...c);
    this.indices.push(i, i + 1, i + 2);
    this.instance.push(instance);
    this.material.push(material);
  }

  /** A planar quad a→b→c→d (counter-clockwise seen from its front). */
  quad(a: Vec3, b: Vec3, c: Vec3, d: Vec3, instance: number, material: number): void {
    this.triangle(a, b, c, instance, material);
    this.triangle(a, c, d, instance, material);
  }

  /** The local box [x0,x1]×[y0,y1]×[z0,z1] of an object at `pose`, faces pointing out. */
  box(pose: Pose, lo: Vec3, hi: Vec3, instance: number, material: number): void {
    const p = (x: number, y: number, z: number) => toWorld(pose, x, y, z);
    const [x0, y0, z0] = lo;
    const [x1, y1, z1] = hi;
    const c = [p(x0, y0, z0), p(x1, y0, z0), p(x1, y1, z0), p(x0, y1, z0)];
    const t = [p(x0, y0, z1), p(x1, y0, z1), p(x1, y1, z1), p(x0, y1, z1)];
    this.quad(c[0], c[3], c[2], c[1], instance, material); // bottom (−z)
    this.quad(t[0], t[1], t[2], t[3], instance, material); // top (+z)
    this.quad(c[0], c[1], t[1], t[0], instance, material); // −y
    this.quad(c[1], c[2], t[2], t[1], instance, material); // +x
    this.quad(c[2], c[3], t[3], t[2], instance, material); // +y
    this.quad(c[3], c[0], t[0], t[3], instance, material); // −x
  }

  /**
   * A closed prism about the local vertical line through (cx, cy): `sides`-gon of radius r0 at z0 and r1 at z1
   * (r1 = 0 makes a cone). Inscribed in the circle, so the polygon never leaves the object's box.
   */
  prism(
    pose: Pose,
    cx: number,
    cy: number,
    r0: number,
    r1: number,
    z0: number,
    z1: number,
    sides: number,
    instance: number,
    material: number,
  ): void {
    const ring = (r: number, z: number) =>
      Array.from({ length: sides }, (_, k) => {
        const a = (2 * Math.PI * k) / sides;
        return toWorld(pose, cx + r * Math.cos(a), cy + r * Math.sin(a), z);
      });
    const lo = ring(r0, z0);
    const hi = ring(r1, z1);
    const bottom = toWorld(pose, cx, cy, z0);
    const top = toWorld(pose, cx, cy, z1);
    for (let k = 0; k < sides; k++) {
      const l = (k + 1) % sides;
      this.triangle(bottom, lo[l], lo[k], instance, material);
      if (r1 > 0) {
        this.quad(lo[k], lo[l], hi[l], hi[k], instance, material);
        this.triangle(top, hi[k], hi[l], instance, material);
      } else this.triangle(lo[k], lo[l], top, instance, material);
    }
  }

  build(): Mesh {
    const positions = Float64Array.from(this.positions);
    const indices = Uint32Array.from(this.indices);
    const normals = new Float64Array(indices.length);
    for (let t = 0; t < indices.length; t += 3) {
      const a = indices[t] * 3;
      const b = indices[t + 1] * 3;
      const c = indices[t + 2] * 3;
      const ux = positions[b] - positions[a];
      const uy = positions[b + 1] - positions[a + 1];
      const uz = positions[b + 2] - positions[a + 2];
      const vx = positions[c] - positions[a];
      const vy = positions[c + 1] - positions[a + 1];
      const vz = positions[c + 2] - positions[a + 2];
      const nx = uy * vz - uz * vy;
      const ny = uz * vx - ux * vz;
      const nz = ux * vy - uy * vx;
      const len = Math.hypot(nx, ny, nz) || 1;
      normals[t] = nx / len;
      normals[t + 1] = ny / len;
      normals[t + 2] = nz / len;
    }
    return {
      positions,
      indices,
      normals,
      instance: Uint16Array.from(this.instance),
      material: Uint16Array.from(this.material),
    };
  }
}

/** Local object coordinates (x right, y to the front, z up) to world coordinates. */
export function toWorld(pose: Pose, x: number, y: number, z: number): Vec3 {
  const c = Math.cos(pose.yaw);
  const s = Math.sin(pose.yaw);
  return [pose.x + c * x - s * y, pose.y + s * x + c * y, pose.z + z];
}
