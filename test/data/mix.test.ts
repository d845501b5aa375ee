import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apportion, mixDatasets, parseRecipe, SPATIAL_MLLM_120K } from '../../src/data/mix/mix.ts';
import { scanqaConversations } from '../../src/data/mix/scanqa.ts';
import { sqa3dConversations } from '../../src/data/mix/sqa3d.ts';
import { promptText, toConversation } from '../../src/data/qa/format.ts';
import type { Conversation } from '../../src/data/qa/types.ts';
import { InputError } from '../../src/errors.ts';

/** n samples of one question type spread over `scenes` scenes, all different questions. */
function samples(type: string, n: number, scenes = 10): Conversation[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${type}/${i}`,
    video: `scannet/scene${i % scenes}.mp4`,
    conversations: [
      {
        from: 'human' as const,
        value: `<video>\n${type} question ${i}\nPlease answer the question using a single word or phrase.`,
      },
      { from: 'gpt' as const, value: String(i) },
    ],
    data_source: 'test',
    scene_name: `scene${i % scenes}`,
    question_type: type,
  }));
}

describe('ScanQA and SQA3D loaders', () => {
  it('turns ScanQA items into conversations with the first answer', () => {
    const [c] = scanqaConversations(
      [
        {
          answers: ['brown wooden', 'brown'],
          object_ids: [8],
          object_names: ['cabinet'],
          question: 'What color is the cabinet near the door? ',
          question_id: 'train-scene0000-0',
          scene_id: 'scene0000_00',
        },
      ],
      'scanqa.json',
    );
    assert.equal(c.id, 'scanqa/train-scene0000-0');
    assert.equal(c.video, 'scannet/scene0000_00.mp4');
    assert.equal(
      c.conversations[0].value,
      '<video>\nWhat color is the cabinet near the door?\nPlease answer the question using a single word or phrase.',
    );
    assert.equal(c.conversations[1].value, 'brown wooden');
    assert.equal(c.question_type, 'scanqa');
  });

  it('refuses ScanQA test items (no answers) with a clear error', () => {
    assert.throws(
      () =>
        scanqaConversations(
          [{ question: 'q', question_id: 'test-1', scene_id: 'scene0001_00' }],
          'ScanQA_v1.0_test_w_obj.json',
        ),
      (e: Error) => e instanceof InputError && /ScanQA item with answers/.test(e.message),
    );
  });

  it('joins SQA3D questions and annotations by question id', () => {
    const out = sqa3dConversations(
      {
        questions: [
          {
            question_id: 220602000000,
            scene_id: 'scene0380_00',
            situation: 'I am facing a window.',
            question: 'What is on my left?',
          },
          {
            question_id: 220602000001,
            scene_id: 'scene0380_00',
            situation: 'I sit on the bed.',
            question: 'Can I see the door?',
          },
        ],
      },
      {
        annotations: [
          { question_id: 220602000001, answers: [{ answer: 'yes', answer_confidence: 'yes', answer_id: 1 }] },
          { question_id: 220602000000, answers: [{ answer: 'table' }] },
        ],
      },
      ['q.json', 'a.json'],
    );
    assert.deepEqual(
      out.map((c) => [c.id, c.conversations[0].value, c.conversations[1].value]),
      [
        [
          'sqa3d/220602000000',
          '<video>\nI am facing a window. What is on my left?\nPlease answer the question using a single word or phrase.',
          'table',
        ],
        [
          'sqa3d/220602000001',
          '<video>\nI sit on the bed. Can I see the door?\nPlease answer the question using a single word or phrase.',
          'yes',
        ],
      ],
    );
    assert.throws(
      () => sqa3dConversations({ questions: out.length }, { annotations: [] }, ['q.json', 'a.json']),
      InputError,
    );
  });
});

describe('conversation layout', () => {
  it('builds the Spatial-MLLM prompt for both answer kinds', () => {
    const mc = toConversation({
      id: 3,
      dataset: 'scannet',
      scene_name: 'scene0000_00',
      question_type: 'object_rel_direction_easy',
      question: 'Is it left or right?',
      options: ['A. left', 'B. right'],
      ground_truth: 'B',
    });
    assert.equal(
      mc.conversations[0].value,
      "<video>\nIs it left or right?\nOptions:\nA. left\nB. right\nAnswer with the option's letter from the given choices directly.",
    );
    assert.equal(mc.conversations[1].value, 'B');
    assert.equal(mc.video, 'scannet/scene0000_00.mp4');
    assert.equal(
      promptText({
        question: 'How many chair(s) are in this room?',
        question_type: 'object_counting',
        options: null,
      }),
      'How many chair(s) are in this room?\nPlease answer the question using a single word or phrase.',
    );
  });
});

describe('mixing', () => {
  it('apportions by largest remainder', () => {
    assert.deepEqual(apportion([1, 1, 1], 10), [4, 3, 3]);
    assert.deepEqual(apportion([21, 21, 58], 100), [21, 21, 58]);
    assert.deepEqual(apportion([2, 1], 0), [0, 0]);
  });

  it('reaches the Spatial-MLLM-120k proportions, limited by the scarcest bucket', () => {
    const pool = [
      ...samples('scanqa', 500),
      ...samples('sqa3d', 500),
      ...samples('object_rel_direction_easy', 400),
      ...samples('object_rel_direction_hard', 400),
      ...samples('object_rel_distance', 400),
      ...samples('object_abs_distance', 400),
      ...samples('obj_appearance_order', 300),
      ...samples('object_size_estimation', 300),
      ...samples('object_counting', 100), // counting: 100 ≥ 5.5/100.5·58% of the total → total ≤ 3150.6
      ...samples('route_planning', 50), // in no bucket of the default recipe
    ];
    const { samples: mixed, report } = mixDatasets(pool, { seed: 1 });
    // scanqa 500 / 0.21 = 2380.9 is the binding limit (counting allows 3150): total = 2380.
    assert.equal(mixed.length, 2380);
    const share = (name: string) => report.buckets.find((b) => b.name === name)!.quota / mixed.length;
    assert.ok(Math.abs(share('scanqa') - 0.21) < 1e-3);
    assert.ok(Math.abs(share('sqa3d') - 0.21) < 1e-3);
    assert.ok(Math.abs(share('relative_direction') - (0.58 * 32) / 100.5) < 1e-3);
    assert.ok(Math.abs(share('distance') - (0.58 * 31) / 100.5) < 1e-3);
    assert.ok(Math.abs(share('counting') - (0.58 * 5.5) / 100.5) < 1e-3);
    assert.equal(report.unmatched, 50);
    assert.ok(!mixed.some((s) => s.question_type === 'route_planning'));
    assert.equal(new Set(mixed.map((s) => s.id)).size, mixed.length);
  });

  it('excludes scenes, drops duplicate questions, and is deterministic by seed', () => {
    const a = samples('scanqa', 20, 4);
    const dup = {
      ...a[0],
      id: 'copy',
      conversations: [
        { ...a[0].conversations[0], value: a[0].conversations[0].value.toUpperCase() },
        a[0].conversations[1],
      ],
    };
    const recipe = parseRecipe({ buckets: [{ name: 'all', weight: 1, types: ['scanqa'] }] }, 'recipe.json');
    const { samples: out, report } = mixDatasets([...a, dup], {
      recipe,
      seed: 3,
      excludeScenes: new Set(['scene1']),
    });
    assert.equal(report.excluded, 5);
    assert.equal(report.duplicates, 1);
    assert.equal(out.length, 15);
    assert.ok(!out.some((s) => s.scene_name === 'scene1'));
    const again = mixDatasets([...a, dup], { recipe, seed: 3, excludeScenes: new Set(['scene1']) }).samples;
    assert.deepEqual(again, out);
    assert.notDeepEqual(
      mixDatasets([...a, dup], { recipe, seed: 4, excludeScenes: new Set(['scene1']) }).samples,
      out,
    );
  });

  it('refuses a total the data cannot fill, and bad recipes', () => {
    assert.throws(
      () => mixDatasets(samples('scanqa', 10), { recipe: SPATIAL_MLLM_120K, total: 100 }),
      (e: Error) => e instanceof InputError && /needs 21 samples but only 10/.test(e.message),
    );
    assert.throws(() => parseRecipe({ buckets: [] }, 'r.json'), InputError);
    assert.throws(
      () =>
        parseRecipe(
          {
            buckets: [
              { name: 'a', weight: 1, types: ['x'] },
              { name: 'b', weight: 1, types: ['x'] },
            ],
          },
          'r.json',
        ),
      /in two buckets/,
    );
  });
});
