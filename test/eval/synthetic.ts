// A small synthetic VSI-Bench folder in the released layout (test.jsonl, <dataset>/<scene>/ frame folders), so
// that runner tests need neither the real benchmark nor a model.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { CHOICE_TYPES, isChoiceType, NUMERIC_TYPES } from '../../src/vsibench.ts';

const DATASETS = ['arkitscenes', 'scannet', 'scannetpp'];

export function tinyPng(shade: number): Buffer {
  const png = new PNG({ width: 4, height: 3 });
  png.data.fill(shade);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  return PNG.sync.write(png);
}

/** `n` questions cycling through every question type and dataset, 4 scenes per dataset, 3 frames per scene. */
export function syntheticVsiBench(n: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsibench-'));
  const types = [...CHOICE_TYPES, ...NUMERIC_TYPES];
  const rows = Array.from({ length: n }, (_, i) => {
    const type = types[i % types.length];
    const dataset = DATASETS[i % DATASETS.length];
    const scene = `scene${Math.floor(i / 7) % 4}`;
    const mc = isChoiceType(type);
    return {
      id: i,
      dataset,
      scene_name: scene,
      question_type: type,
      question: `Synthetic ${type} question ${i}?`,
      options: mc ? ['A. left', 'B. right', 'C. back', 'D. front'].slice(0, 2 + (i % 3)) : null,
      ground_truth: mc ? 'ABCD'[i % (2 + (i % 3))] : String(1 + (i % 5) * 0.5),
    };
  });
  writeFileSync(join(dir, 'test.jsonl'), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  for (const ds of DATASETS)
    for (let s = 0; s < 4; s++) {
      const frames = join(dir, ds, `scene${s}`);
      mkdirSync(frames, { recursive: true });
      for (let f = 0; f < 3; f++) writeFileSync(join(frames, `${f}.png`), tinyPng(40 * s + 10 * f));
    }
  return dir;
}
