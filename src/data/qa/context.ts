// What every generator needs to know about one scene: its categories in metadata order, which are unique
// (VSI-Bench asks about a category by name only when exactly one instance exists), and cached distances.
import { categoryDistance } from '../geometry.ts';
import type { OrientedBox, SceneMeta } from '../scene.ts';

export class SceneContext {
  /** Categories in the order of `object_counts` (upstream iterates that dict). */
  readonly categories: string[];
  /** Categories counted exactly once that have a box. */
  readonly unique: string[];
  private readonly distances = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly meta: SceneMeta,
  ) {
    this.categories = Object.keys(meta.object_counts);
    this.unique = this.categories.filter((c) => meta.object_counts[c] === 1 && this.boxes(c).length > 0);
  }

  get dataset(): string {
    return this.meta.dataset ?? '';
  }

  boxes(category: string): OrientedBox[] {
    return this.meta.object_bbox[category] ?? [];
  }

  /** Closest-point distance between two categories (minimum over instances), cached. */
  distance(a: string, b: string): number {
    const key = a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
    let d = this.distances.get(key);
    if (d === undefined) {
      d = categoryDistance(this.boxes(a), this.boxes(b));
      this.distances.set(key, d);
    }
    return d;
  }
}

/** All k-element combinations of `items`, in lexicographic index order (Python's itertools.combinations). */
export function combinations<T>(items: readonly T[], k: number): T[][] {
  const out: T[][] = [];
  const pick: T[] = [];
  const rec = (start: number) => {
    if (pick.length === k) {
      out.push(pick.slice());
      return;
    }
    for (let i = start; i <= items.length - (k - pick.length); i++) {
      pick.push(items[i]);
      rec(i + 1);
      pick.pop();
    }
  };
  rec(0);
  return out;
}
