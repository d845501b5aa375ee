// A toy spatial task for the training tests: tiny frame-folder videos of a black room with one red box on the
// left or on the right half of every frame; the question asks which side, the answer is the side. Only the video
// tells them apart, so learning it needs the visual path (merger, connector) as well as the LLM.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '../../src/media/image.ts';
import { findFixtures } from '../support/fixtures.ts';

export const QUESTION = '<video>\nIs the red box on the left or on the right?';

/** Writes `n` videos (alternating sides) and their conversations to `<dir>/media` and `<dir>/train.jsonl`. */
export function writeToyData(dir: string, n: number, side = 56): { data: string; media: string } {
  const media = join(dir, 'media');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const answer = i % 2 === 0 ? 'left' : 'right';
    const folder = join(media, `room${i}`);
    mkdirSync(folder, { recursive: true });
    for (let f = 0; f < 4; f++) {
      const data = new Uint8Array(side * side * 3);
      const x0 = (answer === 'left' ? 4 : side / 2 + 4) + f;
      for (let y = 10 + i; y < 30 + i; y++) for (let x = x0; x < x0 + 16; x++) data[(y * side + x) * 3] = 220;
      writeFileSync(
        join(folder, `${String(f).padStart(6, '0')}.png`),
        encodePng({ width: side, height: side, data }),
      );
    }
    writeFileSync(join(folder, 'video.json'), JSON.stringify({ avg_fps: 2 }));
    lines.push(
      JSON.stringify({
        id: `room${i}`,
        video: `room${i}`,
        conversations: [
          { from: 'human', value: QUESTION },
          { from: 'gpt', value: answer },
        ],
      }),
    );
  }
  const data = join(dir, 'train.jsonl');
  writeFileSync(data, `${lines.join('\n')}\n`);
  return { data, media };
}

/** The tiny Spatial-MLLM checkpoints the tests train: the SFT fixture folders' starting checkpoints. */
export const tinyModels = () => findFixtures('spatial_mllm_sft_step');

/** CLI arguments of a small fast run on the toy data. */
export const toyArgs = (
  model: string,
  data: string,
  media: string,
  out: string,
  command: 'sft' | 'grpo' = 'sft',
): string[] => [
  'train',
  command,
  '--model',
  model,
  '--data',
  data,
  '--media',
  media,
  '--out',
  out,
  '--frames',
  '4',
  '--min-pixels',
  '3136',
  '--max-pixels',
  '3136',
  '--threads',
  '1',
];

/**
 * Runs the CLI with `args` in a child process; with `killAfter`, SIGKILLs it once <out>/train.jsonl holds more
 * than that many lines. Resolves to the exit code (null when killed).
 */
export function runCli(args: string[], out: string, killAfter?: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/apps/cli.ts', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      const log = join(out, 'train.jsonl');
      if (killAfter && existsSync(log) && readFileSync(log, 'utf8').split('\n').length > killAfter)
        child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 || signal ? resolve(code) : reject(new Error(err))));
  });
}
