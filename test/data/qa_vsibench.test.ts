// The generators on VSI-Bench's released scene metadata: answers recomputed here independently of the
// generator code (own angle and corner math, own rounding bounds, surface-sampled distances).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { categoryDistance } from '../../src/data/geometry.ts';
import { generateQuestions } from '../../src/data/qa/generate.ts';
import { answerQuestions } from '../../src/data/qa/oracle.ts';
import { parseQuestion } from '../../src/data/qa/templates.ts';
import type { VsiQuestion } from '../../src/data/qa/types.ts';
import { type OrientedBox, readSceneMetaFile, type SceneMetaFile } from '../../src/data/scene.ts';
import { CHOICE_TYPES } from '../../src/vsibench.ts';

const DIR = '../shared/data/vsibench/meta_info';
const FILES = ['scannet', 'arkitscenes', 'scannetpp'].map((d) => `${DIR}/${d}_meta_info_val.json`);
const available = FILES.every((f) => existsSync(f));

describe('QA generation on VSI-Bench meta_info', {
  skip: !available && 'VSI-Bench meta_info not found',
}, () => {
  const scenes: SceneMetaFile = available ? Object.assign({}, ...FILES.map(readSceneMetaFile)) : {};
  const questions = available ? generateQuestions(scenes, { seed: 7 }) : [];
  const ofType = (t: string) => questions.filter((q) => q.question_type === t);
  const parsed = (q: VsiQuestion) => {
    const p = parseQuestion(q.question_type, q.question);
    assert.ok(p, `unparsable: ${q.question}`);
    return p as any;
  };
  const optionText = (q: VsiQuestion) => q.options![q.ground_truth.charCodeAt(0) - 65].slice(3);

  it('covers the six metadata-only task types on 288 scenes', () => {
    assert.equal(Object.keys(scenes).length, 288);
    for (const t of [
      'object_counting',
      'object_size_estimation',
      'room_size_estimation',
      'object_abs_distance',
      'object_rel_distance',
      'object_rel_direction_easy',
      'object_rel_direction_medium',
      'object_rel_direction_hard',
    ])
      assert.ok(ofType(t).length > 100, `${t}: ${ofType(t).length}`);
    // No frames or floors in VSI-Bench metadata: appearance order and route planning need the extended schema.
    assert.equal(ofType('obj_appearance_order').length + ofType('route_planning').length, 0);
  });

  it('counts: categories seen more than once, answer = object_counts', () => {
    for (const q of ofType('object_counting')) {
      const n = scenes[q.scene_name].object_counts[parsed(q).category];
      assert.ok(n > 1);
      assert.equal(q.ground_truth, String(n));
      assert.equal(q.options, null);
    }
  });

  it('object sizes: the longest side of a unique object, in whole centimetres', () => {
    for (const q of ofType('object_size_estimation')) {
      const s = scenes[q.scene_name];
      const c = parsed(q).category;
      assert.equal(s.object_counts[c], 1);
      const cm = Math.max(...s.object_bbox[c][0].axesLengths) * 100;
      assert.match(q.ground_truth, /^\d+$/);
      assert.ok(Math.abs(Number(q.ground_truth) - cm) <= 0.5, `${q.ground_truth} vs ${cm}`);
    }
  });

  it('room sizes: m² to one decimal', () => {
    const rooms = ofType('room_size_estimation');
    assert.equal(new Set(rooms.map((q) => q.scene_name)).size, rooms.length); // one per scene
    for (const q of rooms) {
      assert.match(q.ground_truth, /^\d+\.\d$/);
      assert.ok(Math.abs(Number(q.ground_truth) - scenes[q.scene_name].room_size) <= 0.05 + 1e-12);
    }
  });

  it('absolute distances: closest box points, metres to one decimal, at least 0.2 m', () => {
    for (const q of ofType('object_abs_distance')) {
      const { a, b } = parsed(q);
      const s = scenes[q.scene_name];
      assert.equal(s.object_counts[a], 1);
      assert.equal(s.object_counts[b], 1);
      assert.match(q.ground_truth, /^\d+\.\d$/);
      const m = Number(q.ground_truth);
      assert.ok(m >= 0.2);
      // Independent bound: the centre distance minus both half-diagonals ≤ d ≤ centre distance.
      const [x, y] = [s.object_bbox[a][0], s.object_bbox[b][0]];
      const centres = Math.hypot(...[0, 1, 2].map((i) => x.centroid[i] - y.centroid[i]));
      const radius = (o: OrientedBox) => Math.hypot(...o.axesLengths) / 2;
      assert.ok(m <= centres + 0.05 && m >= centres - radius(x) - radius(y) - 0.05);
      assert.ok(Math.abs(m - categoryDistance([x], [y])) <= 0.05 + 1e-12);
    }
  });

  it('relative distances: the closest choice, clear of the ambiguity thresholds', () => {
    for (const q of ofType('object_rel_distance')) {
      const { choices, category } = parsed(q);
      const s = scenes[q.scene_name];
      assert.equal(s.object_counts[category], 1);
      assert.deepEqual(
        choices,
        q.options!.map((o) => o.slice(3)),
      ); // the question lists the options in letter order
      const d = choices.map((c: string) => categoryDistance(s.object_bbox[c], s.object_bbox[category]));
      const sorted = d.slice().sort((x: number, y: number) => x - y);
      assert.ok(sorted[0] >= 0.15);
      assert.ok(sorted[1] - sorted[0] > (s.room_size > 40 ? 0.3 : 0.15));
      for (let i = 1; i < 3; i++) assert.ok(sorted[i + 1] - sorted[i] > (s.room_size > 40 ? 0.3 : 0.15));
      assert.equal(optionText(q), choices[d.indexOf(sorted[0])]);
    }
  });

  // Our own angle: atan2 of (cross, dot), counter-clockwise from the facing direction, in [0, 360).
  const angleTo = (from: number[], to: number[]) => {
    const a =
      (Math.atan2(from[0] * to[1] - from[1] * to[0], from[0] * to[0] + from[1] * to[1]) * 180) / Math.PI;
    return a < 0 ? a + 360 : a;
  };
  const cornersOf = (o: OrientedBox) => {
    const out: number[][] = [];
    for (const sx of [-0.5, 0.5])
      for (const sy of [-0.5, 0.5])
        for (const sz of [-0.5, 0.5])
          out.push(
            [0, 1, 2].map(
              (c) =>
                o.centroid[c] +
                sx * o.axesLengths[0] * o.normalizedAxes[c] +
                sy * o.axesLengths[1] * o.normalizedAxes[3 + c] +
                sz * o.axesLengths[2] * o.normalizedAxes[6 + c],
            ),
          );
    return out;
  };

  for (const level of ['easy', 'medium', 'hard'] as const) {
    it(`relative direction (${level}): every question passes its ambiguity filters and has the right answer`, () => {
      const qs = ofType(`object_rel_direction_${level}`);
      for (const q of qs) {
        const { positioning, orienting, querying } = parsed(q);
        const s = scenes[q.scene_name];
        for (const c of [positioning, orienting, querying]) assert.equal(s.object_counts[c], 1);
        for (const [u, v] of [
          [positioning, orienting],
          [positioning, querying],
          [orienting, querying],
        ]) {
          const d = categoryDistance(s.object_bbox[u], s.object_bbox[v]);
          assert.ok(d >= 0.3 && d <= 5, `spacing ${d}`);
        }
        const [p, o, t] = [positioning, orienting, querying].map((c) => s.object_bbox[c][0]);
        const facing = [o.centroid[0] - p.centroid[0], o.centroid[1] - p.centroid[1]];
        const at = (pt: number[]) => angleTo(facing, [pt[0] - p.centroid[0], pt[1] - p.centroid[1]]);
        const centre = at(t.centroid);
        const corners = cornersOf(t).map(at);
        let want: string;
        if (level === 'hard') {
          const quad = Math.floor(centre / 90);
          assert.ok(
            corners.filter((a) => Math.floor(a / 90) !== quad).length <= 2,
            `${q.id} ${centre} ${corners}`,
          );
          assert.ok(90 - (centre % 90) >= 10, `hard margin ${centre}`);
          want = ['front-left', 'back-left', 'back-right', 'front-right'][quad];
        } else {
          const sector = (a: number) => (a < 135 ? 'left' : a < 225 ? 'back' : 'right');
          assert.ok(corners.filter((a) => sector(a) !== sector(centre)).length <= 2);
          for (const b of [0, 135, 225, 360]) assert.ok(Math.abs(centre - b) >= 10, `margin ${centre}`);
          want = sector(centre);
          if (level === 'easy') assert.notEqual(want, 'back');
        }
        assert.equal(optionText(q), want);
        assert.equal(q.options!.length, level === 'hard' ? 4 : level === 'medium' ? 3 : 2);
      }
    });
  }

  it('balances answer letters within ±1 per question type', () => {
    for (const t of CHOICE_TYPES) {
      const qs = ofType(t);
      if (qs.length === 0) continue;
      const counts = new Map<string, number>();
      for (const q of qs) counts.set(q.ground_truth, (counts.get(q.ground_truth) ?? 0) + 1);
      const n = qs[0].options!.length;
      const values = 'ABCD'
        .slice(0, n)
        .split('')
        .map((l) => counts.get(l) ?? 0);
      assert.ok(Math.max(...values) - Math.min(...values) <= 1, `${t}: ${values}`);
    }
  });

  it('gives distinct options and sequential ids', () => {
    questions.forEach((q, i) => {
      assert.equal(q.id, i);
      if (q.options) assert.equal(new Set(q.options.map((o) => o.slice(3))).size, q.options.length);
    });
  });

  it('is byte-identical for the same seed and differs for another', () => {
    const again = generateQuestions(scenes, { seed: 7 });
    assert.equal(JSON.stringify(again), JSON.stringify(questions));
    assert.notEqual(JSON.stringify(generateQuestions(scenes, { seed: 8 })), JSON.stringify(questions));
  });

  it('the oracle recomputes every generated answer', () => {
    const answers = answerQuestions(scenes, questions);
    const off = answers.filter((a) => a.agrees !== true || a.note);
    assert.equal(off.length, 0, JSON.stringify(off.slice(0, 3)));
  });

  it('exhaustive mode emits a superset of the sampled questions', () => {
    // The 3 scenes with the most categories, where the per-scene caps bite.
    const small = Object.fromEntries(
      Object.entries(scenes)
        .sort((a, b) => Object.keys(b[1].object_counts).length - Object.keys(a[1].object_counts).length)
        .slice(0, 3),
    );
    // Option order (and so the choice order in rel-distance wording) depends on lettering: compare sorted.
    const key = (q: VsiQuestion) =>
      `${q.scene_name}|${q.question_type}|${JSON.stringify(parsed(q), (_k, v) => (Array.isArray(v) ? v.slice().sort() : v))}`;
    const all = new Set(generateQuestions(small, { seed: 1, exhaustive: true }).map(key));
    const sampled = generateQuestions(small, { seed: 1 });
    assert.ok(all.size > sampled.length);
    for (const q of sampled) assert.ok(all.has(key(q)), key(q));
  });
});
