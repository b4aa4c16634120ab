/**
 * A small SVG line chart for benchmark curves: panels side by side, a logarithmic x axis shared by the series of a
 * panel, a linear y axis from 0, one colour per series label (the same in every panel), a legend above.
 */
export interface CurveSeries {
  label: string;
  points: [number, number][];
}

export interface CurvePanel {
  title: string;
  series: CurveSeries[];
  /** y values are shares (0…1), drawn as 0–100%. */
  percent?: boolean;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
const W = 300;
const H = 220;
const PAD = { left: 46, right: 22, top: 26, bottom: 34 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

export function curveSvg(title: string, panels: CurvePanel[]): string {
  const labels = [...new Set(panels.flatMap((p) => p.series.map((s) => s.label)))];
  const colour = (label: string) => COLOURS[labels.indexOf(label) % COLOURS.length]!;
  const legendH = 22;
  const width = W * panels.length;
  const height = H + legendH + 24;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="12">${esc(title)}</text>`,
  ];
  labels.forEach((label, i) => {
    const x = 10 + i * 150;
    parts.push(`<line x1="${x}" y1="32" x2="${x + 18}" y2="32" stroke="${colour(label)}" stroke-width="2"/>`);
    parts.push(`<text x="${x + 22}" y="36">${esc(label)}</text>`);
  });
  panels.forEach((panel, pi) => {
    const ox = pi * W;
    const oy = legendH + 24;
    const xs = panel.series.flatMap((s) => s.points.map((p) => p[0]));
    const ys = panel.series.flatMap((s) => s.points.map((p) => p[1]));
    if (!xs.length) return;
    const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
    const yMax = panel.percent ? 1 : Math.max(...ys) * 1.1 || 1;
    const lx = (x: number) => (xMax === xMin ? 0.5 : (Math.log(x) - Math.log(xMin)) / (Math.log(xMax) - Math.log(xMin)));
    const px = (x: number) => ox + PAD.left + lx(x) * (W - PAD.left - PAD.right);
    const py = (y: number) => oy + H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom);
    parts.push(`<text x="${ox + W / 2}" y="${oy + 12}" text-anchor="middle">${esc(panel.title)}</text>`);
    parts.push(`<line x1="${px(xMin)}" y1="${py(0)}" x2="${px(xMax)}" y2="${py(0)}" stroke="#888"/>`);
    parts.push(`<line x1="${px(xMin)}" y1="${py(0)}" x2="${px(xMin)}" y2="${py(yMax)}" stroke="#888"/>`);
    for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
      parts.push(`<text x="${px(x)}" y="${py(0) + 14}" text-anchor="middle">${x}</text>`);
    }
    parts.push(`<text x="${ox + W / 2}" y="${py(0) + 28}" text-anchor="middle">T (denoising steps, log scale)</text>`);
    for (const f of [0, 0.5, 1]) {
      const y = f * yMax;
      parts.push(`<text x="${ox + PAD.left - 4}" y="${py(y) + 4}" text-anchor="end">${panel.percent ? `${(100 * y).toFixed(0)}%` : fmt(y)}</text>`);
    }
    for (const s of panel.series) {
      const pts = [...s.points].sort((a, b) => a[0] - b[0]);
      parts.push(
        `<polyline fill="none" stroke="${colour(s.label)}" stroke-width="2" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const [x, y] of pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${colour(s.label)}"/>`);
    }
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
