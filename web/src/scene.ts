// The 3D view: VGGT's coloured point cloud of the frames the model saw, and each frame's camera as a frustum.
// Cameras are OpenCV camera-from-world [R|t] (x right, y down, z forward), the first camera at the origin; the
// whole world is shown turned by diag(1, −1, −1) so that "up" in the first frame is up on screen.
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { PLYLoader } from 'three/addons/loaders/PLYLoader.js';
import type { Camera } from './api.ts';

/** OpenCV axes to three.js axes (y up, looking down −z), applied on both sides of the camera pose. */
const FLIP = new THREE.Matrix4().makeScale(1, -1, -1);

/** World-from-camera of an OpenCV camera-from-world extrinsic, as a three.js camera's matrix (in the flipped
 * world). */
export function cameraPose(e: number[][]): THREE.Matrix4 {
  return FLIP.clone().multiply(worldFromCamera(e)).multiply(FLIP);
}

/** The inverse of a 3×4 camera-from-world extrinsic, as a 4×4 matrix (OpenCV world coordinates). */
function worldFromCamera(e: number[][]): THREE.Matrix4 {
  const m = new THREE.Matrix4();
  const [a, b, c] = e;
  m.set(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], c[0], c[1], c[2], c[3], 0, 0, 0, 1);
  return m.invert();
}

export class SpaceView {
  readonly renderer: THREE.WebGLRenderer;
  private readonly scene = new THREE.Scene();
  private readonly camera = new THREE.PerspectiveCamera(60, 1, 0.001, 1000);
  private readonly controls: OrbitControls;
  private readonly world = new THREE.Group();
  private cameras: Camera[] = [];
  private radius = 1;
  private flight?: { from: THREE.Matrix4; to: THREE.Matrix4; target: THREE.Vector3; t0: number };

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(2, window.devicePixelRatio));
    this.scene.background = new THREE.Color(0x10131a);
    this.world.matrixAutoUpdate = false;
    this.world.matrix.copy(FLIP);
    this.scene.add(this.world);
    this.scene.add(new THREE.AxesHelper(0.2));
    this.camera.position.set(0, 0.5, 2);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = true;
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
    this.renderer.setAnimationLoop((t) => this.frame(t));
  }

  private resize(): void {
    const { clientWidth: w, clientHeight: h } = this.canvas;
    if (w === 0 || h === 0) return;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
  }

  private frame(t: number): void {
    if (this.flight) {
      const { from, to, target, t0 } = this.flight;
      const k = Math.min(1, (t - t0) / 900);
      const ease = k * k * (3 - 2 * k);
      const [p0, q0, p1, q1] = [
        new THREE.Vector3(),
        new THREE.Quaternion(),
        new THREE.Vector3(),
        new THREE.Quaternion(),
      ];
      from.decompose(p0, q0, new THREE.Vector3());
      to.decompose(p1, q1, new THREE.Vector3());
      this.camera.position.lerpVectors(p0, p1, ease);
      this.camera.quaternion.slerpQuaternions(q0, q1, ease);
      if (k >= 1) {
        this.controls.target.copy(target);
        this.flight = undefined;
      }
    } else this.controls.update();
    this.renderer.render(this.scene, this.camera);
  }

  /** Replaces the scene's content with a point cloud (binary PLY with colours) and the cameras. */
  show(ply: ArrayBuffer, cameras: Camera[]): void {
    this.world.clear();
    this.cameras = cameras;
    const geometry = new PLYLoader().parse(ply);
    geometry.computeBoundingSphere();
    const sphere = geometry.boundingSphere ?? new THREE.Sphere(new THREE.Vector3(), 1);
    this.radius = Math.max(1e-3, sphere.radius);
    const points = new THREE.Points(
      geometry,
      new THREE.PointsMaterial({ size: this.radius / 150, vertexColors: geometry.hasAttribute('color') }),
    );
    this.world.add(points);
    cameras.forEach((c, i) => {
      this.world.add(frustum(c, this.radius * 0.12, i === 0 ? 0xffc94d : 0x5ad1ff));
    });
    // Look at the cloud from above and behind the first camera.
    const centre = sphere.center.clone().applyMatrix4(FLIP);
    this.controls.target.copy(centre);
    this.camera.near = this.radius / 1000;
    this.camera.far = this.radius * 100;
    this.camera.updateProjectionMatrix();
    this.camera.position.copy(centre).add(new THREE.Vector3(0, this.radius * 0.8, this.radius * 2));
    this.camera.lookAt(centre);
  }

  /** Animates the view to the i-th camera, looking where it looked. */
  flyTo(i: number): void {
    const c = this.cameras[i];
    if (!c) return;
    const to = cameraPose(c.extrinsic);
    const forward = new THREE.Vector3(0, 0, -1).transformDirection(to);
    const position = new THREE.Vector3().setFromMatrixPosition(to);
    this.camera.updateMatrixWorld();
    this.flight = {
      from: this.camera.matrixWorld.clone(),
      to,
      target: position.clone().add(forward.multiplyScalar(this.radius * 0.5)),
      t0: performance.now(),
    };
    // Match the camera's vertical field of view.
    this.camera.fov = Math.min(
      100,
      Math.max(10, THREE.MathUtils.radToDeg(2 * Math.atan(c.height / 2 / focal(c)[1]))),
    );
    this.camera.updateProjectionMatrix();
  }
}

/** A camera's frustum as lines, in OpenCV world coordinates (the world group flips them). */
function frustum(c: Camera, depth: number, color: number): THREE.LineSegments {
  const [fx, fy] = focal(c);
  const [cx, cy] = [c.intrinsic[0][2] ?? c.width / 2, c.intrinsic[1][2] ?? c.height / 2];
  const corners = [
    [0, 0],
    [c.width, 0],
    [c.width, c.height],
    [0, c.height],
  ].map(([u, v]) => new THREE.Vector3(((u - cx) / fx) * depth, ((v - cy) / fy) * depth, depth));
  const o = new THREE.Vector3();
  const pts: THREE.Vector3[] = [];
  corners.forEach((p, k) => {
    pts.push(o, p, p, corners[(k + 1) % 4]);
  });
  const toWorld = worldFromCamera(c.extrinsic);
  const lines = new THREE.LineSegments(
    new THREE.BufferGeometry().setFromPoints(pts.map((p) => p.clone().applyMatrix4(toWorld))),
    new THREE.LineBasicMaterial({ color }),
  );
  return lines;
}

/** Focal lengths in pixels; a degenerate prediction (an untrained model's infinite focal length, written as null)
 * falls back to a 60° field of view so the frustum stays drawable. */
function focal(c: Camera): [number, number] {
  const fallback = c.height / 2 / Math.tan(Math.PI / 6);
  const ok = (f: number | null) => (typeof f === 'number' && Number.isFinite(f) && f > 0 ? f : fallback);
  return [ok(c.intrinsic[0][0]), ok(c.intrinsic[1][1])];
}
