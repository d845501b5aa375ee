// Route planning: "You are a robot beginning at the A and facing the B. You want to navigate to the C. …
// 1. [please fill in] 2. Go forward until the D 3. [please fill in] 4. Go forward until the C." — the answer is the
// sequence of turns (VSI-Bench wording: VLM-3R `src/question_templates.py` ROUTE_PLAN_TEMPLATE; options
// "Turn Left, Turn Back"). VSI-Bench's routes were written by annotators; we derive them from the floor polygon:
// 1. A shortest path on the navigation grid (src/data/navigation.ts) from the free spot nearest A to the nearest
//    spot within reach of C, straightened, with bends under 30° merged away; at most 3 bends, and every leg between
//    two bends at least 0.5 m long.
// 2. Each bend is named after the object nearest to it, which must be a unique category within 1 m, and not
//    A, C or another bend's landmark.
// 3. Turns are classified from their signed angle (left = counter-clockwise, z up): under 30° straight, 60–120°
//    left/right, over 150° back; 30–60° and 120–150° are ambiguous and drop the question.
// 4. The description must read the same from object centres alone (facing = B − A, legs between consecutive
//    landmark centres): both classifications must agree, so the oracle, which sees only the text and the
//    metadata, recovers the answer.
// 5. B is any other unique object (it may be the first landmark). A straight opening drops the opening blank; a
//    question needs at least one blank, and a one-blank route has only three possible answers, so three options.
import { footprint, pointPolygonDistance, signedTurn, toBox } from '../geometry.ts';
import { NavGrid } from '../navigation.ts';
import type { Rng } from '../rng.ts';
import type { OrientedBox, Vec2 } from '../scene.ts';
import type { SceneContext } from './context.ts';
import type { RouteStep } from './templates.ts';
import { routeQuestion } from './templates.ts';
import type { Draft } from './types.ts';

export const ROUTE_RULES = {
  mergeBelow: 30,
  sideFrom: 60,
  sideTo: 120,
  backFrom: 150,
  /** How far from an object's footprint the robot may start or stop, metres. */
  reach: 0.6,
  landmarkReach: 1.0,
  minLeg: 0.5,
  maxBends: 3,
  /** Objects block the floor when their box starts below this height above the floor… */
  obstacleBottomBelow: 0.5,
  /** …and rises above this one (rugs do not block). */
  obstacleTopAbove: 0.1,
};

export type Turn = 'straight' | 'left' | 'right' | 'back';

/** Classifies a signed turn in degrees; null inside the ambiguous bands. */
export function classifyTurn(deg: number): Turn | null {
  const a = Math.abs(deg);
  if (a < ROUTE_RULES.mergeBelow) return 'straight';
  if (a >= ROUTE_RULES.sideFrom && a <= ROUTE_RULES.sideTo) return deg > 0 ? 'left' : 'right';
  if (a > ROUTE_RULES.backFrom) return 'back';
  return null;
}

export const turnLabel = (t: Turn) => `Turn ${t[0].toUpperCase()}${t.slice(1)}`;

const xy = (b: OrientedBox): Vec2 => [b.centroid[0], b.centroid[1]];
const minus = (a: Vec2, b: Vec2): Vec2 => [a[0] - b[0], a[1] - b[1]];
const length = (v: Vec2) => Math.hypot(v[0], v[1]);

/**
 * Turns read from object centres: first the turn from facing `facing` at `start` towards the first landmark
 * (or the destination), then the turn at each landmark. Null when a point coincides with the next.
 */
export function describedTurns(
  start: Vec2,
  facing: Vec2,
  landmarks: readonly Vec2[],
  destination: Vec2,
): (Turn | null)[] | null {
  const pts = [start, ...landmarks, destination];
  const legs = pts.slice(1).map((p, i) => minus(p, pts[i]));
  const heading = minus(facing, start);
  if (length(heading) < 1e-9 || legs.some((l) => length(l) < 1e-9)) return null;
  return [signedTurn(heading, legs[0]), ...legs.slice(1).map((l, i) => signedTurn(legs[i], l))].map(
    classifyTurn,
  );
}

/** Removes bends gentler than `mergeBelow`, gentlest first, re-measuring after each removal. */
function mergeGentleBends(points: Vec2[]): Vec2[] {
  const pts = points.slice();
  for (;;) {
    let gentlest = -1;
    let best = ROUTE_RULES.mergeBelow;
    for (let k = 1; k < pts.length - 1; k++) {
      const a = Math.abs(signedTurn(minus(pts[k], pts[k - 1]), minus(pts[k + 1], pts[k])));
      if (a < best) {
        best = a;
        gentlest = k;
      }
    }
    if (gentlest < 0) return pts;
    pts.splice(gentlest, 1);
  }
}

interface RouteObject {
  category: string;
  box: OrientedBox;
  shape: Vec2[];
}

/** A planned route: straightened path points (robot start … stop) and the landmark category at each bend. */
export interface PlannedRoute {
  points: Vec2[];
  landmarks: string[];
}

export class RoutePlanner {
  readonly objects: RouteObject[];
  readonly grid: NavGrid;

  constructor(private readonly ctx: SceneContext) {
    const floor = ctx.meta.floor!;
    this.objects = ctx.categories.flatMap((category) =>
      ctx.boxes(category).map((box) => ({ category, box, shape: footprint(toBox(box)) })),
    );
    const blocking = this.objects.filter(
      (o) =>
        o.box.min[2] < floor.z + ROUTE_RULES.obstacleBottomBelow &&
        o.box.max[2] > floor.z + ROUTE_RULES.obstacleTopAbove,
    );
    this.grid = new NavGrid(
      floor,
      blocking.map((o) => o.shape),
    );
  }

  private shapeOf(category: string): Vec2[] {
    return this.objects.find((o) => o.category === category)!.shape;
  }

  /** The route between two unique categories, or null when there is none that can be described. */
  plan(start: string, destination: string): PlannedRoute | null {
    const from = this.grid.freeCellsNear(this.shapeOf(start), ROUTE_RULES.reach);
    const to = this.grid.freeCellsNear(this.shapeOf(destination), ROUTE_RULES.reach);
    if (from.length === 0 || to.length === 0) return null;
    const path = this.grid.shortestPath(from[0].index, new Set(to.map((c) => c.index)));
    if (path === null || path.length < 2) return null;
    const points = mergeGentleBends(this.grid.straighten(path));
    const bends = points.length - 2;
    if (bends > ROUTE_RULES.maxBends) return null;
    for (let k = 1; k < points.length - 2; k++)
      if (length(minus(points[k + 1], points[k])) < ROUTE_RULES.minLeg) return null;
    const landmarks: string[] = [];
    for (const bend of points.slice(1, -1)) {
      const near = this.objects
        .map((o) => ({ o, d: pointPolygonDistance(bend, o.shape) }))
        .sort((a, b) => a.d - b.d)[0];
      const c = near?.o.category;
      if (!near || near.d > ROUTE_RULES.landmarkReach || !this.ctx.unique.includes(c)) return null;
      if (c === start || c === destination || landmarks.includes(c)) return null;
      landmarks.push(c);
    }
    return { points, landmarks };
  }

  /** Turns along the planned path itself, the robot first facing the centre of `facing`. */
  pathTurns(route: PlannedRoute, facing: string): (Turn | null)[] {
    const p = route.points;
    const heading = minus(xy(this.ctx.boxes(facing)[0]), p[0]);
    const legs = p.slice(1).map((q, i) => minus(q, p[i]));
    return [signedTurn(heading, legs[0]), ...legs.slice(1).map((l, i) => signedTurn(legs[i], l))].map(
      classifyTurn,
    );
  }
}

/** The question's steps for a turn sequence: an opening turn unless it is straight, then leg, turn, leg, …. */
export function routeSteps(
  turns: readonly Turn[],
  landmarks: readonly string[],
  destination: string,
): RouteStep[] {
  const steps: RouteStep[] = turns[0] === 'straight' ? [] : [{ kind: 'turn' }];
  for (const l of landmarks) steps.push({ kind: 'forward', target: l }, { kind: 'turn' });
  steps.push({ kind: 'forward', target: destination });
  return steps;
}

/** All sequences of n turns other than `answer`, shuffled, at most 3. */
function routeDistractors(answer: string, n: number, rng: Rng): string[] {
  let seqs: string[][] = [[]];
  for (let i = 0; i < n; i++)
    seqs = seqs.flatMap((s) => (['left', 'right', 'back'] as Turn[]).map((t) => [...s, turnLabel(t)]));
  return rng.shuffled(seqs.map((s) => s.join(', ')).filter((s) => s !== answer)).slice(0, 3);
}

export function routePlanningDrafts(ctx: SceneContext, rng: Rng): Draft[] {
  if (!ctx.meta.floor) return [];
  const planner = new RoutePlanner(ctx);
  const out: Draft[] = [];
  for (const start of ctx.unique)
    for (const destination of ctx.unique) {
      if (start === destination) continue;
      const route = planner.plan(start, destination);
      if (!route) continue;
      for (const facing of ctx.unique) {
        if (facing === start || facing === destination) continue;
        const onPath = planner.pathTurns(route, facing);
        const described = describedTurns(
          xy(ctx.boxes(start)[0]),
          xy(ctx.boxes(facing)[0]),
          route.landmarks.map((l) => xy(ctx.boxes(l)[0])),
          xy(ctx.boxes(destination)[0]),
        );
        if (!described || onPath.some((t, i) => t === null || t !== described[i])) continue;
        const turns = onPath as Turn[];
        const asked = turns[0] === 'straight' ? turns.slice(1) : turns;
        if (asked.length === 0) continue;
        const answer = asked.map(turnLabel).join(', ');
        out.push({
          type: 'route_planning',
          question: routeQuestion(
            start,
            facing,
            destination,
            routeSteps(turns, route.landmarks, destination),
          ),
          answer,
          distractors: routeDistractors(answer, asked.length, rng),
        });
      }
    }
  return out;
}
