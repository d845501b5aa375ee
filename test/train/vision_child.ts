// Child process of the vision-stage resume test: runs the small recipe in <out> up to <until> with the micro
// settings of test/train/vision_stage.test.ts. Usage: vision_child.ts <out> <until>
import { evalDeps } from '../../src/apps/eval_deps.ts';
import { runSmallRecipe } from '../../src/train/small/recipe.ts';
import { microRecipe } from './vision_stage_micro.ts';

const [out, until] = [process.argv[2], process.argv[3] as 'vision' | 'sft'];
await runSmallRecipe({ ...microRecipe(out), until, log: (s) => process.stderr.write(`${s}\n`) }, evalDeps);
