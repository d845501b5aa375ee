// Appearance order and route planning need per-frame visibility and a floor polygon, which VSI-Bench's metadata
// lacks: these scenes are built by hand so every answer can be worked out on paper.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NavGrid } from '../../src/data/navigation.ts';
import { generateQuestions } from '../../src/data/qa/generate.ts';
import { answerQuestions } from '../../src/data/qa/oracle.ts';
import { classifyTurn, describedTurns } from '../../src/data/qa/route_planning.ts';
import { parseQuestion } from '../../src/data/qa/templates.ts';
import type { VsiQuestion } from '../../src/data/qa/types.ts';
import { type OrientedBox, parseSceneMeta, type SceneMeta } from '../../src/data/scene.ts';

/** An axis-aligned box from its bounds. */
function box(
  min: [number, number, number],
  max: [number, number, number],
  instance_id?: number,
): OrientedBox {
  return {
    centroid: [0, 1, 2].map((i) => (min[i] + max[i]) / 2) as [number, number, number],
    axesLengths: [0, 1, 2].map((i) => max[i] - min[i]) as [number, number, number],
    normalizedAxes: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    min,
    max,
    ...(instance_id === undefined ? {} : { instance_id }),
  };
}

const optionText = (q: VsiQuestion) => q.options![q.ground_truth.charCodeAt(0) - 65].slice(3);

describe('appearance order on a hand-built video', () => {
  // First sightings: sofa 0.0 s, chair 2.5 s (→ 2: Python rounds halves to even), tv 4.4 s (→ 4), lamp 6.0 s,
  // desk 9.6 s (→ 10), plant 11.0 s; the window is never seen. Desk and plant are 1 s apart, so no group holds
  // both: 15 − C(4,2) = 9 groups of four. (Rounding 2.5 up would put chair 1 s from tv and drop 3 more groups.)
  const cube = (x: number, id: number) => box([x, 0, 0], [x + 0.5, 0.5, 0.5], id);
  const scene = parseSceneMeta(
    {
      room_size: 20,
      object_counts: { sofa: 1, chair: 2, tv: 1, lamp: 1, desk: 1, plant: 1, window: 1 },
      object_bbox: {
        sofa: [cube(0, 10)],
        chair: [cube(1, 11), cube(2, 12)],
        tv: [cube(3, 13)],
        lamp: [cube(4, 14)],
        desk: [cube(5, 15)],
        plant: [cube(6, 16)],
        window: [cube(7, 17)],
      },
      frames: [
        // Deliberately out of order: first appearances go by time.
        { timestamp: 11.0, instances: [{ instance_id: 16, bbox_2d: [0, 0, 10, 10] }] },
        { timestamp: 0.0, instances: [{ instance_id: 10, bbox_2d: [0, 0, 10, 10] }] },
        {
          timestamp: 2.5,
          instances: [
            { instance_id: 10, bbox_2d: [0, 0, 10, 10] },
            { instance_id: 12, bbox_2d: [5, 5, 9, 9] },
          ],
        },
        { timestamp: 4.4, instances: [{ instance_id: 13, bbox_2d: [0, 0, 10, 10] }] },
        { timestamp: 6.0, instances: [{ instance_id: 14, bbox_2d: [0, 0, 10, 10] }] },
        {
          timestamp: 9.6,
          instances: [
            { instance_id: 15, bbox_2d: [0, 0, 10, 10] },
            { instance_id: 11, bbox_2d: [0, 0, 3, 3] },
          ],
        },
        { timestamp: 12.0, instances: [] },
      ],
    },
    'appearance scene',
  );
  const first: Record<string, number> = { sofa: 0, chair: 2, tv: 4, lamp: 6, desk: 10, plant: 11 };
  const qs = generateQuestions(
    { room: scene },
    { types: ['obj_appearance_order'], exhaustive: true, seed: 5 },
  );

  it('asks every group of four whose first sightings are more than 1 s apart', () => {
    assert.equal(qs.length, 9);
    for (const q of qs) {
      const { categories } = parseQuestion(q.question_type, q.question) as { categories: string[] };
      assert.equal(new Set(categories).size, 4);
      assert.ok(!(categories.includes('desk') && categories.includes('plant')));
      assert.ok(!categories.includes('window'));
      const expected = categories.slice().sort((a, b) => first[a] - first[b]);
      assert.equal(optionText(q), expected.join(', '));
      // Options: four different orders of the same four categories.
      assert.equal(q.options!.length, 4);
      assert.equal(new Set(q.options!.map((o) => o.slice(3))).size, 4);
      for (const o of q.options!) assert.deepEqual(o.slice(3).split(', ').sort(), categories.slice().sort());
    }
  });

  it('defaults to a sample of 6 per scene and the oracle agrees', () => {
    assert.equal(generateQuestions({ room: scene }, { types: ['obj_appearance_order'], seed: 5 }).length, 6);
    assert.ok(answerQuestions({ room: scene }, qs).every((a) => a.agrees === true));
  });
});

describe('route planning on a hand-built L-shaped room', () => {
  // Floor: a corridor along x (y 0–0.8) that turns north at its east end (x 4.2–5, y 0–5). The sofa closes the
  // west end, the bed the north end; a picture hangs at the inner corner, a window on the east wall, a door on
  // the west wall, a clock on the south wall. Hung objects do not block the floor; sofa, bed and door do.
  const scene = parseSceneMeta(
    {
      room_size: 7.2,
      object_counts: { sofa: 1, bed: 1, picture: 1, window: 1, door: 1, clock: 1 },
      object_bbox: {
        sofa: [box([0, 0.1, 0], [0.3, 0.7, 0.8])],
        bed: [box([4.3, 4.3, 0], [4.9, 5.0, 0.6])],
        picture: [box([3.7, 0.8, 1.3], [4.2, 0.85, 1.8])],
        window: [box([4.95, 0.1, 1.0], [5.0, 0.7, 2.0])],
        door: [box([-0.1, 0.1, 0], [0, 0.7, 2.0])],
        clock: [box([1.8, -0.05, 2.0], [2.2, 0, 2.3])],
      },
      floor: {
        polygon: [
          [0, 0],
          [5, 0],
          [5, 5],
          [4.2, 5],
          [4.2, 0.8],
          [0, 0.8],
        ],
        z: 0,
      },
    },
    'L room',
  );
  const qs = generateQuestions({ room: scene }, { types: ['route_planning'], exhaustive: true, seed: 2 });
  const find = (start: string, facing: string, destination: string) =>
    qs.find((q) => {
      const p = parseQuestion(q.question_type, q.question) as {
        start: string;
        facing: string;
        destination: string;
      };
      return p.start === start && p.facing === facing && p.destination === destination;
    });
  const steps = (q: VsiQuestion) => q.question.slice(q.question.indexOf("'turn right.'): ") + 16);

  it('walks east, turns left at the picture, and reaches the bed', () => {
    // Facing anything roughly east (window, clock, picture) the first leg is straight ahead: one turn, left.
    for (const facing of ['window', 'clock', 'picture']) {
      const q = find('sofa', facing, 'bed');
      assert.ok(q, `sofa → bed facing ${facing}`);
      assert.equal(
        steps(q),
        '1. Go forward until the picture 2. [please fill in] 3. Go forward until the bed. You have reached the final destination.',
      );
      assert.equal(optionText(q), 'Turn Left');
      assert.equal(q.options!.length, 3); // one blank: only three sequences exist
    }
    // Facing the door behind the sofa, the robot first turns back.
    const q = find('sofa', 'door', 'bed');
    assert.ok(q);
    assert.equal(
      steps(q),
      '1. [please fill in] 2. Go forward until the picture 3. [please fill in] 4. Go forward until the bed. You have reached the final destination.',
    );
    assert.equal(optionText(q), 'Turn Back, Turn Left');
    assert.equal(q.options!.length, 4);
  });

  it('comes back from the bed turning right', () => {
    const q = find('bed', 'window', 'sofa');
    assert.ok(q);
    assert.equal(
      steps(q),
      '1. Go forward until the picture 2. [please fill in] 3. Go forward until the sofa. You have reached the final destination.',
    );
    assert.equal(optionText(q), 'Turn Right');
  });

  it('every route question is answered the same by the oracle, with letters balanced', () => {
    assert.ok(answerQuestions({ room: scene }, qs).every((a) => a.agrees === true && !a.note));
    for (const n of [3, 4]) {
      const counts = 'ABCD'
        .slice(0, n)
        .split('')
        .map((l) => qs.filter((q) => q.options!.length === n && q.ground_truth === l).length);
      if (counts.some((c) => c > 0)) assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${counts}`);
    }
  });
});

describe('route geometry', () => {
  it('classifies turns by angle bands', () => {
    assert.equal(classifyTurn(10), 'straight');
    assert.equal(classifyTurn(45), null);
    assert.equal(classifyTurn(90), 'left');
    assert.equal(classifyTurn(-75), 'right');
    assert.equal(classifyTurn(135), null);
    assert.equal(classifyTurn(-170), 'back');
  });

  it('reads turns from object centres', () => {
    // Start at the origin facing north; the landmark is due east, the destination north of it.
    assert.deepEqual(describedTurns([0, 0], [0, 1], [[2, 0]], [2, 2]), ['right', 'left']);
    // Facing the landmark: straight, then a left.
    assert.deepEqual(describedTurns([0, 0], [5, 0], [[2, 0]], [2, 2]), ['straight', 'left']);
  });

  it('finds straight paths in an empty room and bends around a wall', () => {
    const room = {
      polygon: [
        [0, 0],
        [3, 0],
        [3, 1],
        [0, 1],
      ] as [number, number][],
      z: 0,
    };
    const grid = new NavGrid(room, []);
    const at = (x: number, y: number) => Math.floor(y / 0.1) * grid.nx + Math.floor(x / 0.1);
    const path = grid.shortestPath(at(0.25, 0.45), new Set([at(2.75, 0.45)]))!;
    assert.equal(path.length, 26); // 25 steps east
    assert.deepEqual(grid.straighten(path).length, 2);
    // A wall from the south edge up to y = 0.5 at x = 1.5 forces the path over its end.
    const walled = new NavGrid(room, [
      [
        [1.45, 0],
        [1.55, 0],
        [1.55, 0.5],
        [1.45, 0.5],
      ],
    ]);
    const bent = walled.straighten(walled.shortestPath(at(0.25, 0.25), new Set([at(2.75, 0.25)]))!);
    assert.ok(bent.length >= 3);
    // The legs stay on free floor, and one bend clears the wall's end (y ≥ 0.5 + 0.2 clearance, next to x = 1.5).
    for (let i = 1; i < bent.length; i++) assert.ok(walled.lineOfSight(bent[i - 1], bent[i]));
    assert.ok(bent.some((p) => p[1] >= 0.7 - 1e-9 && Math.abs(p[0] - 1.5) <= 0.3));
  });
});

describe('the oracle on hand-written questions', () => {
  const scene: SceneMeta = parseSceneMeta(
    {
      room_size: 12.34,
      object_counts: { chair: 3, table: 1, tv: 1 },
      object_bbox: {
        chair: [
          box([0, 0, 0], [0.5, 0.5, 0.9]),
          box([1, 0, 0], [1.5, 0.5, 0.9]),
          box([2, 0, 0], [2.5, 0.5, 0.9]),
        ],
        table: [box([0, 2, 0], [1.2, 2.8, 0.75])],
        tv: [box([3, 2, 1], [4, 2.1, 1.6])],
      },
    },
    'oracle scene',
  );
  const scenes = { s: scene };

  it('answers numeric questions worded with different line breaks', () => {
    const [count, size, room, dist] = answerQuestions(scenes, [
      {
        scene_name: 's',
        question_type: 'object_counting',
        question: 'How many chair(s)  are in\nthis room?',
        ground_truth: 3,
      },
      {
        scene_name: 's',
        question_type: 'object_size_estimation',
        question:
          'What is the length of the longest dimension (length, width, or height) of the table, measured in centimeters?',
        ground_truth: '121',
      },
      {
        scene_name: 's',
        question_type: 'room_size_estimation',
        question:
          'What is the size of this room (in square meters)? If multiple rooms are shown, estimate the size of the combined space.',
      },
      {
        scene_name: 's',
        question_type: 'object_abs_distance',
        question:
          'Measuring from the closest point of each object, what is the direct distance between the table and the tv (in meters)?',
      },
    ]);
    assert.equal(count.answer, '3');
    assert.equal(count.agrees, true);
    assert.equal(size.answer, '120');
    assert.equal(size.agrees, false);
    assert.equal(room.answer, '12.3');
    assert.equal(room.agrees, null);
    // table x ≤ 1.2, tv x ≥ 3, y ranges overlap, z ranges overlap → 1.8 m.
    assert.equal(dist.answer, '1.8');
  });

  it('answers multiple choice with the option letter and explains what it cannot answer', () => {
    const [rel, missing, unknown] = answerQuestions(scenes, [
      {
        scene_name: 's',
        question_type: 'object_rel_distance',
        question:
          'Measuring from the closest point of each object, which of these objects (tv, chair) is the closest to the table?\nIf there are multiple instances of an object category, measure to the closest.',
        options: ['A. tv', 'B. chair'],
        ground_truth: 'B',
      },
      {
        scene_name: 'elsewhere',
        question_type: 'object_counting',
        question: 'How many tv(s) are in this room?',
      },
      { scene_name: 's', question_type: 'object_counting', question: 'Count the chairs.' },
    ]);
    // Chairs end at y = 0.5, the table starts at y = 2 → 1.5 m; the tv is 1.8 m away.
    assert.equal(rel.answer, 'B');
    assert.equal(rel.value, 'chair');
    assert.equal(rel.agrees, true);
    assert.equal(missing.answer, null);
    assert.match(missing.note!, /scene not in the metadata/);
    assert.equal(unknown.answer, null);
    assert.match(unknown.note!, /wording not recognised/);
  });
});
