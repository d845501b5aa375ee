// Eval reports (report.json of `spatial-mllm eval`) as tables and bar charts: VSI-Bench per task with both
// overall means, ScanQA caption metrics, SQA3D exact match per question type.
import type { ReportEntry } from './api.ts';
import { barChart } from './charts.ts';

type Num = Record<string, { score?: number; em?: number; count: number }>;

function table(head: string[], rows: (string | number)[][]): HTMLTableElement {
  const t = document.createElement('table');
  const tr = (cells: (string | number)[], tag: 'td' | 'th') => {
    const r = document.createElement('tr');
    for (const c of cells) {
      const td = document.createElement(tag);
      td.textContent = typeof c === 'number' ? c.toFixed(2) : c;
      if (typeof c === 'number') td.className = 'num';
      r.append(td);
    }
    return r;
  };
  t.append(tr(head, 'th'), ...rows.map((r) => tr(r, 'td')));
  return t;
}

function scores(report: Record<string, unknown>): {
  rows: [string, number, string][];
  title: string;
} {
  const vsi = report.vsibench as { overall: { macro: number; micro: number }; tasks: Num } | undefined;
  if (vsi)
    return {
      title: `VSI-Bench — overall ${vsi.overall.macro.toFixed(1)} (macro, mean of tasks), ${vsi.overall.micro.toFixed(1)} (micro)`,
      rows: Object.entries(vsi.tasks).map(([k, v]) => [k, v.score ?? 0, String(v.count)]),
    };
  const scanqa = report.scanqa as
    | { bleu: number[]; rougeL: number; cider: number; em: number; count: number }
    | undefined;
  if (scanqa)
    return {
      title: 'ScanQA',
      rows: [
        ...scanqa.bleu.map((b, i): [string, number, string] => [`BLEU-${i + 1}`, b, String(scanqa.count)]),
        ['ROUGE-L', scanqa.rougeL, String(scanqa.count)],
        ['CIDEr', scanqa.cider, String(scanqa.count)],
        ['EM', scanqa.em, String(scanqa.count)],
      ],
    };
  const sqa = report.sqa3d as { em: number; emRefined: number; count: number; byType: Num } | undefined;
  if (sqa)
    return {
      title: `SQA3D — EM-1 ${sqa.em.toFixed(1)}, EM-R ${sqa.emRefined.toFixed(1)}`,
      rows: Object.entries(sqa.byType).map(([k, v]) => [k, v.em ?? 0, String(v.count)]),
    };
  return { title: 'unknown report', rows: [] };
}

export async function showReports(into: HTMLElement, entries: ReportEntry[]): Promise<void> {
  if (entries.length === 0) return;
  into.replaceChildren(
    ...entries.map(({ name, report }) => {
      const { title, rows } = scores(report);
      const box = document.createElement('div');
      box.className = 'report';
      box.dataset.testid = 'report';
      const h = document.createElement('h3');
      h.textContent = `${name}: ${report.model ?? ''} · ${title}`;
      h.style.gridColumn = '1 / -1';
      const max = Math.max(100, ...rows.map((r) => r[1]));
      box.append(
        h,
        table(['', 'score', 'questions'], rows),
        barChart(
          rows.map(([k, v]) => [k, v]),
          max,
        ),
      );
      return box;
    }),
  );
}
