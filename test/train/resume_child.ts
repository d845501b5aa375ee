// Child process of the kill-and-resume test: trains the toy LM, writing a checkpoint (with the data RNG state)
// after every step and printing "saved <step>", until killed. Usage: resume_child.ts <checkpoint> <total steps>
import { Rng } from '../../src/train/rng.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { buildLm, copyFeeds, initLm, TOY, toyOptions } from './tiny_lm.ts';

const [path, total] = [process.argv[2], Number(process.argv[3])];
const g = buildLm(TOY);
const trainer = Trainer.create(g, initLm(g, new Rng(1)), toyOptions(total));
const rng = new Rng(7);
for (let s = 0; s < total; s++) {
  await trainer.step([copyFeeds(TOY, 16, rng)]);
  trainer.save(path, { rng: rng.state });
  process.stdout.write(`saved ${trainer.stepsDone}\n`);
}
// Wait to be killed: the parent decides when.
setInterval(() => {}, 1000);
