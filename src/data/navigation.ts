// A navigation grid of a room's floor for route-planning questions: cells inside the floor polygon, away from
// walls and from the footprints of objects standing on the floor, joined 8-ways; shortest paths by Dijkstra and
// straightened by line-of-sight string pulling. Our own construction: VSI-Bench's route questions were written by
// annotators, and VLM-3R's route data comes from simulator trajectories, neither of which metadata alone gives.
import { insidePolygon, pointPolygonDistance, pointSegmentDistance2 } from './geometry.ts';
import type { FloorInfo, Vec2 } from './scene.ts';

export interface NavOptions {
  /** Cell size, metres. */
  cell: number;
  /** Free space kept between the robot's centre and walls or obstacles, metres. */
  clearance: number;
}

export const DEFAULT_NAV: NavOptions = { cell: 0.1, clearance: 0.2 };

export class NavGrid {
  readonly nx: number;
  readonly ny: number;
  readonly free: Uint8Array;
  private readonly x0: number;
  private readonly y0: number;

  constructor(
    floor: FloorInfo,
    obstacles: readonly Vec2[][],
    readonly options: NavOptions = DEFAULT_NAV,
  ) {
    const xs = floor.polygon.map((p) => p[0]);
    const ys = floor.polygon.map((p) => p[1]);
    const c = options.cell;
    this.x0 = Math.min(...xs);
    this.y0 = Math.min(...ys);
    this.nx = Math.max(1, Math.ceil((Math.max(...xs) - this.x0) / c));
    this.ny = Math.max(1, Math.ceil((Math.max(...ys) - this.y0) / c));
    this.free = new Uint8Array(this.nx * this.ny);
    const poly = floor.polygon;
    for (let j = 0; j < this.ny; j++)
      for (let i = 0; i < this.nx; i++) {
        const p = this.center(j * this.nx + i);
        if (!insidePolygon(p, poly)) continue;
        let wall = Number.POSITIVE_INFINITY;
        for (let k = 0, l = poly.length - 1; k < poly.length; l = k++)
          wall = Math.min(wall, pointSegmentDistance2(p, poly[l], poly[k]));
        if (wall < options.clearance) continue;
        if (obstacles.some((o) => pointPolygonDistance(p, o) < options.clearance)) continue;
        this.free[j * this.nx + i] = 1;
      }
  }

  /** Centre of a cell (index = j·nx + i). */
  center(index: number): Vec2 {
    const i = index % this.nx;
    const j = (index - i) / this.nx;
    return [this.x0 + (i + 0.5) * this.options.cell, this.y0 + (j + 0.5) * this.options.cell];
  }

  /** Free cells ordered by distance to a polygon (ties by index), with their distances. */
  freeCellsNear(poly: readonly Vec2[], within: number): { index: number; distance: number }[] {
    const out: { index: number; distance: number }[] = [];
    for (let k = 0; k < this.free.length; k++) {
      if (!this.free[k]) continue;
      const d = pointPolygonDistance(this.center(k), poly);
      if (d <= within) out.push({ index: k, distance: d });
    }
    return out.sort((a, b) => a.distance - b.distance || a.index - b.index);
  }

  /** Shortest 8-connected path (no corner cutting) from `start` to the nearest of `goals`, as cell indices. */
  shortestPath(start: number, goals: ReadonlySet<number>): number[] | null {
    const n = this.free.length;
    const dist = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    const prev = new Int32Array(n).fill(-1);
    const heap = new MinHeap();
    dist[start] = 0;
    heap.push(0, start);
    while (heap.size > 0) {
      const [d, u] = heap.pop();
      if (d > dist[u]) continue;
      if (goals.has(u)) {
        const path = [u];
        for (let v = prev[u]; v !== -1; v = prev[v]) path.push(v);
        return path.reverse();
      }
      const ui = u % this.nx;
      const uj = (u - ui) / this.nx;
      for (let dj = -1; dj <= 1; dj++)
        for (let di = -1; di <= 1; di++) {
          if (di === 0 && dj === 0) continue;
          const i = ui + di;
          const j = uj + dj;
          if (i < 0 || j < 0 || i >= this.nx || j >= this.ny) continue;
          const v = j * this.nx + i;
          if (!this.free[v]) continue;
          if (di !== 0 && dj !== 0 && !(this.free[uj * this.nx + i] && this.free[j * this.nx + ui])) continue;
          const nd = d + (di !== 0 && dj !== 0 ? Math.SQRT2 : 1);
          if (nd < dist[v] - 1e-12) {
            dist[v] = nd;
            prev[v] = u;
            heap.push(nd, v);
          }
        }
    }
    return null;
  }

  /** Whether the straight segment a→b stays on free cells (sampled every quarter cell). */
  lineOfSight(a: Vec2, b: Vec2): boolean {
    const steps = Math.ceil((Math.hypot(b[0] - a[0], b[1] - a[1]) / this.options.cell) * 4);
    for (let s = 0; s <= steps; s++) {
      const t = steps === 0 ? 0 : s / steps;
      const i = Math.floor((a[0] + t * (b[0] - a[0]) - this.x0) / this.options.cell);
      const j = Math.floor((a[1] + t * (b[1] - a[1]) - this.y0) / this.options.cell);
      if (i < 0 || j < 0 || i >= this.nx || j >= this.ny || !this.free[j * this.nx + i]) return false;
    }
    return true;
  }

  /** String pulling: from each kept point, jump to the farthest later path cell still in sight. */
  straighten(path: readonly number[]): Vec2[] {
    const pts = path.map((k) => this.center(k));
    const out: Vec2[] = [pts[0]];
    let i = 0;
    while (i < pts.length - 1) {
      let j = pts.length - 1;
      while (j > i + 1 && !this.lineOfSight(pts[i], pts[j])) j--;
      out.push(pts[j]);
      i = j;
    }
    return out;
  }
}

/** Binary min-heap of (key, value), ties broken by the smaller value so paths are deterministic. */
class MinHeap {
  private readonly keys: number[] = [];
  private readonly values: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private less(a: number, b: number): boolean {
    return this.keys[a] < this.keys[b] || (this.keys[a] === this.keys[b] && this.values[a] < this.values[b]);
  }

  private swap(a: number, b: number): void {
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
    [this.values[a], this.values[b]] = [this.values[b], this.values[a]];
  }

  push(key: number, value: number): void {
    this.keys.push(key);
    this.values.push(value);
    for (let i = this.keys.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.keys[0], this.values[0]];
    const last = this.keys.length - 1;
    this.swap(0, last);
    this.keys.pop();
    this.values.pop();
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.keys.length && this.less(l, m)) m = l;
      if (r < this.keys.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}
