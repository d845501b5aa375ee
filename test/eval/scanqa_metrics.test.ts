// Parity with Spatial-MLLM's score_scanqa.main (coco-caption BLEU/ROUGE-L/CIDEr, EM) in every `scanqa_metrics`
// fixture: per-sample scores and corpus scores compared exactly.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bleu, cider, rougeL } from '../../src/eval/caption_metrics.ts';
import { scanqaQuestionKey, scoreScanQA } from '../../src/eval/qa3d_metrics.ts';
import { findFixtures } from '../support/fixtures.ts';

const fixtures = findFixtures('scanqa_metrics');

for (const fx of fixtures) {
  const expected = JSON.parse(readFileSync(join(fx.dir, 'expected.json'), 'utf8'));
  const refs = new Map<string, string[]>(
    expected.inputs['scanqa_val_llava_style.json'].map((r: any) => [r.id, r.metadata.answers]),
  );
  const items = expected.inputs['input_file (predictions)'].map((p: any) => {
    const id = scanqaQuestionKey(p.sample_id);
    return { id, prediction: p.pred_response, answers: refs.get(id)! };
  });
  const scores = scoreScanQA(items, 'video-3d-llm');
  let maxErr = 0;
  const track = (a: number, b: number) => {
    maxErr = Math.max(maxErr, Math.abs(a - b));
  };

  test(`${fx.name}: per-sample BLEU, ROUGE-L, CIDEr (exact)`, () => {
    const perSample = expected.per_sample;
    const pairs = perSample.map((s: any) => ({ hypothesis: s.res[0], references: s.gts }));
    // the scorers see one entry per rewritten id, in first-seen order, holding the last prediction
    const seen = new Map<string, string>();
    for (const it of items) seen.set(it.id, it.prediction.replace(/\.+$/, ''));
    assert.deepEqual(
      [...seen.keys()],
      perSample.map((s: any) => s.sample_id),
    );
    assert.deepEqual(
      [...seen.values()],
      perSample.map((s: any) => s.res[0]),
    );
    const b = bleu(pairs);
    const c = cider(pairs);
    perSample.forEach((s: any, i: number) => {
      for (const [k, v] of s.BLEU.entries()) track(b.perItem[i][k], v);
      track(c[i], s.CIDEr);
      track(rougeL(s.res[0], s.gts), s.ROUGE_L);
      assert.deepEqual(b.perItem[i], s.BLEU, `${s.sample_id} BLEU`);
      assert.equal(c[i], s.CIDEr, `${s.sample_id} CIDEr`);
      assert.equal(rougeL(s.res[0], s.gts), s.ROUGE_L, `${s.sample_id} ROUGE-L`);
    });
    assert.match(
      expected.printed_stdout,
      new RegExp(
        `'testlen': ${b.totals.testlen}, 'reflen': ${b.totals.reflen}, 'guess': \\[${b.totals.guess.join(', ')}\\], 'correct': \\[${b.totals.correct.join(', ')}\\]`,
      ),
    );
  });

  test(`${fx.name}: corpus scores (exact)`, () => {
    const c = expected.corpus;
    assert.equal(scores.count, c.count_len_gts);
    assert.deepEqual(scores.bleu, c.BLEU_1_4_x100);
    assert.equal(scores.cider, c.CIDEr_x100);
    assert.equal(scores.rougeL, c.ROUGE_L_x100);
    assert.equal(scores.em, c.EM_fraction * 100);
    assert.equal(scores.meteor, null);
    for (const [k, v] of scores.bleu.entries()) track(v, c.BLEU_1_4_x100[k]);
    track(scores.cider, c.CIDEr_x100);
    track(scores.rougeL, c.ROUGE_L_x100);
    console.log(`scanqa max abs error ${maxErr}`);
  });
}
