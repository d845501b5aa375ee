#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576 node
// Launcher: registers the TypeScript loader, then runs the CLI.
// glibc's malloc (Linux) keeps blocks below its mmap threshold in its heap after they are freed, and by default
// that threshold rises to the largest block freed so far (up to 32 MB): a training step's many activation-sized
// blocks then stay resident, fragmented (a real-length 3B LoRA step: 6.0 instead of 2.9 GB at 2 layers,
// bench/sft.bench.ts --long). The shebang fixes it at 1 MB; other C libraries ignore the variable.
import { register } from 'tsx/esm/api';

register();
await import('../src/apps/cli.ts');
