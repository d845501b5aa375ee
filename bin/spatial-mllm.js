#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576:glibc.malloc.hugetlb=1 node
// Launcher: registers the TypeScript loader, then runs the CLI. Two glibc malloc settings (Linux; other C
// libraries ignore the variable):
// - mmap_threshold: glibc keeps blocks below its mmap threshold in its heap after they are freed, and by default
//   that threshold rises to the largest block freed so far (up to 32 MB): a training step's many activation-sized
//   blocks then stay resident, fragmented (a real-length 3B LoRA step: 6.0 instead of 2.9 GB at 2 layers,
//   bench/sft.bench.ts --long). Fixed at 1 MB.
// - hugetlb=1: malloc asks for transparent huge pages (madvise) on the memory it maps. A first touch of fresh memory
//   costs ~15 µs per 4 KB page on the VM this was measured on (~3.7 s per GB): with 2 MB pages, a 36-layer int4
//   decode's first two steps took 0.5–0.7 s instead of 1.3–1.6 s, quantizing a weight ran ~2× faster and a prefill
//   6–15% faster.
import { register } from 'tsx/esm/api';

register();
await import('../src/apps/cli.ts');
