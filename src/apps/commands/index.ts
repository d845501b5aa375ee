// Command groups of the CLI, in help order. Add one line per new group.
import type { Command } from 'commander';
import { register as ask } from './ask.ts';
import { register as data } from './data.ts';
import { register as demo } from './demo.ts';
import { register as doctor } from './doctor.ts';
import { register as evaluate } from './eval.ts';
import { register as geometry } from './geometry.ts';
import { register as serve } from './serve.ts';
import { register as train } from './train.ts';
import { register as weights } from './weights.ts';
import { register as worker } from './worker.ts';

export const commands: ((program: Command) => void)[] = [
  demo,
  ask,
  serve,
  doctor,
  weights,
  data,
  evaluate,
  train,
  geometry,
  worker,
];
