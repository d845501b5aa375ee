// The micro settings of the small recipe shared by the vision-stage test and its child process.
import { SMALL_DIMS } from '../../src/train/small/model_config.ts';
import { SMALL_RECIPE_DEFAULTS, type SmallRecipeOptions } from '../../src/train/small/recipe.ts';

export const microRecipe = (out: string): SmallRecipeOptions => ({
  ...SMALL_RECIPE_DEFAULTS,
  out,
  trainScenes: 2,
  evalScenes: 1,
  videoFrames: 4,
  frames: 4,
  merges: 60,
  visionSteps: 30,
  visionBatch: 2,
  sftSteps: 1,
  // A narrower ViT than the published model's keeps the vision stage's 30 steps quick; the code path is the same.
  dims: { ...SMALL_DIMS, visionHidden: 64, visionDepth: 2 },
});
