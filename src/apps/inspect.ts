// `spatial-mllm weights inspect`: what a checkpoint holds (names, dtypes, shapes, parameter counts), as a table or
// JSON. Only headers are read, so it is instant even for multi-GB checkpoints.
import { openCheckpoint } from '../weights/safetensors.ts';

interface Row {
  name: string;
  dtype: string;
  shape: number[];
  params: number;
  bytes: number;
}

interface Group {
  prefix: string;
  tensors: number;
  params: number;
  bytes: number;
}

export interface WeightsSummary {
  path: string;
  files: string[];
  metadata: Record<string, string>;
  tensors: Row[];
  /** Totals per top-level name prefix ('model', 'visual', 'aggregator', ...), largest first. */
  groups: Group[];
  total: { tensors: number; params: number; bytes: number };
}

export function summarizeWeights(path: string): WeightsSummary {
  const ckpt = openCheckpoint(path);
  try {
    const tensors = ckpt.names().map((name): Row => {
      const { dtype, shape, byteLength } = ckpt.info(name);
      return { name, dtype, shape, params: shape.reduce((a, b) => a * b, 1), bytes: byteLength };
    });
    const groups = new Map<string, Group>();
    for (const t of tensors) {
      const prefix = t.name.split('.')[0];
      const g = groups.get(prefix) ?? { prefix, tensors: 0, params: 0, bytes: 0 };
      g.tensors++;
      g.params += t.params;
      g.bytes += t.bytes;
      groups.set(prefix, g);
    }
    const sum = (key: 'params' | 'bytes') => tensors.reduce((a, t) => a + t[key], 0);
    return {
      path,
      files: ckpt.files,
      metadata: ckpt.metadata,
      tensors,
      groups: [...groups.values()].sort((a, b) => b.params - a.params || a.prefix.localeCompare(b.prefix)),
      total: { tensors: tensors.length, params: sum('params'), bytes: sum('bytes') },
    };
  } finally {
    ckpt.close();
  }
}

/** The text `weights inspect` prints. Throws the reader's InputError for a missing or corrupt checkpoint. */
export function inspectWeights(path: string, opts: { json?: boolean } = {}): string {
  const s = summarizeWeights(path);
  if (opts.json) return `${JSON.stringify(s, null, 2)}\n`;
  const count = (n: number) => n.toLocaleString('en-US');
  const shape = (d: number[]) => `[${d.join(', ')}]`;
  const lines = [
    `${s.path}: ${count(s.total.tensors)} tensors, ${count(s.total.params)} parameters, ${bytes(s.total.bytes)}` +
      (s.files.length > 1 ? ` in ${s.files.length} shards` : ''),
  ];
  for (const [k, v] of Object.entries(s.metadata)) lines.push(`  ${k}: ${v}`);
  lines.push('');
  lines.push(
    ...table(
      ['name', 'dtype', 'shape', 'params'],
      s.tensors.map((t) => [t.name, t.dtype, shape(t.shape), count(t.params)]),
    ),
  );
  lines.push('');
  lines.push(
    ...table(
      ['prefix', 'tensors', 'params', 'share', 'size'],
      [...s.groups, { prefix: 'total', ...s.total }].map((g) => [
        g.prefix,
        count(g.tensors),
        count(g.params),
        `${((100 * g.params) / Math.max(1, s.total.params)).toFixed(1)}%`,
        bytes(g.bytes),
      ]),
    ),
  );
  return `${lines.join('\n')}\n`;
}

/** Left-aligned text columns, numbers right-aligned. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = header.map((_, i) => i > 0 && rows.every((r) => /^[\d,.]+%?$/.test(r[i])));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}

export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
