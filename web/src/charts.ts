// Small SVG charts: the coverage curve of space-aware sampling and horizontal score bars for eval reports.
const SVG = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
  text?: string,
) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Share of the scene's voxels covered after each picked frame (greedy gains, in pick order). */
export function coverageChart(gains: number[], total: number, width = 360, height = 160): SVGSVGElement {
  const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  const pad = { l: 40, r: 10, t: 10, b: 28 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const ys = [0];
  for (const g of gains) ys.push(ys[ys.length - 1] + g / Math.max(1, total));
  const x = (i: number) => pad.l + (i / Math.max(1, ys.length - 1)) * w;
  const y = (v: number) => pad.t + (1 - v) * h;
  for (const v of [0, 0.5, 1]) {
    svg.append(el('line', { x1: pad.l, x2: pad.l + w, y1: y(v), y2: y(v), class: 'grid' }));
    svg.append(el('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, `${v * 100}%`));
  }
  svg.append(
    el('polyline', { points: ys.map((v, i) => `${x(i)},${y(v)}`).join(' '), class: 'curve', fill: 'none' }),
  );
  ys.forEach((v, i) => {
    svg.append(el('circle', { cx: x(i), cy: y(v), r: 3, class: 'dot' }));
  });
  svg.append(el('text', { x: pad.l + w / 2, y: height - 6, 'text-anchor': 'middle' }, 'frames picked'));
  return svg;
}

/** One bar per entry, values in [0, max]. */
export function barChart(entries: [string, number][], max: number, width = 420): SVGSVGElement {
  const row = 20;
  const labelW = 170;
  const height = entries.length * row + 8;
  const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  entries.forEach(([name, v], i) => {
    const yy = 4 + i * row;
    const bw = ((width - labelW - 50) * Math.max(0, v)) / (max || 1);
    svg.append(el('text', { x: labelW - 6, y: yy + 13, 'text-anchor': 'end' }, name));
    svg.append(el('rect', { x: labelW, y: yy + 2, width: bw, height: row - 6, class: 'bar' }));
    svg.append(el('text', { x: labelW + bw + 4, y: yy + 13 }, v.toFixed(1)));
  });
  return svg;
}
