// Figures and the table: every figure is the median of its repetitions, shown with their
// min and max, and dt's median as a ratio to direct's and dtach's from the same run.

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** { median, min, max, n } of the defined values; undefined when there are none. */
export function figure(values) {
  const defined = values.filter((value) => typeof value === 'number' && Number.isFinite(value));
  if (defined.length === 0) return undefined;
  return { median: median(defined), min: Math.min(...defined), max: Math.max(...defined), n: defined.length };
}

const MIB = 1024 * 1024;

const FORMATS = {
  'MiB/s': (value) => value.toFixed(1),
  ms: (value) => (value < 10 ? value.toFixed(2) : value.toFixed(1)),
  'ms/MiB': (value) => value.toFixed(1),
  'ms/s': (value) => value.toFixed(1),
  MiB: (value) => (value / MIB).toFixed(1),
  '%': (value) => (value * 100).toFixed(value === 1 ? 0 : 1),
  x: (value) => value.toFixed(3),
};

function formatFigure(fig, unit) {
  if (!fig) return '-';
  const format = FORMATS[unit];
  if (fig.n === 1 || fig.min === fig.max) return format(fig.median);
  return `${format(fig.median)} [${format(fig.min)}-${format(fig.max)}]`;
}

function formatRatio(a, b) {
  if (!a || !b || b.median === 0) return '-';
  return `${(a.median / b.median).toFixed(2)}x`;
}

/**
 * A table row. figures: { dt, direct, dtach, floor } (each a figure or undefined; floor is
 * `node -e 0`, a bare Node start, for the rows it bounds); target: the text printed and a
 * verdict: true (PASS), false (MISS), or undefined (no target).
 */
export function row(name, unit, figures, target) {
  return {
    name, unit, ...figures,
    vsDirect: ratio(figures.dt, figures.direct), vsDtach: ratio(figures.dt, figures.dtach), vsFloor: ratio(figures.dt, figures.floor), target,
  };
}

function ratio(a, b) {
  return a && b && b.median !== 0 ? a.median / b.median : undefined;
}

export function formatTable(rows, { haveDtach }) {
  const header = [
    'measure', 'unit', 'dt median [min-max]', 'direct', ...(haveDtach ? ['dtach 0.9'] : []), 'node -e 0',
    'dt/direct', ...(haveDtach ? ['dt/dtach'] : []), 'dt/node', 'target', '',
  ];
  const lines = rows.map((r) => {
    if (r.section) return [r.section];
    return [
      r.name, r.unit, formatFigure(r.dt, r.unit), formatFigure(r.direct, r.unit),
      ...(haveDtach ? [formatFigure(r.dtach, r.unit)] : []), formatFigure(r.floor, r.unit),
      formatRatio(r.dt, r.direct), ...(haveDtach ? [formatRatio(r.dt, r.dtach)] : []), formatRatio(r.dt, r.floor),
      r.target?.text ?? '', r.target === undefined ? '' : r.target.pass === undefined ? 'n/a' : r.target.pass ? 'PASS' : 'MISS',
    ];
  });
  const widths = header.map((_, column) => Math.max(header[column].length, ...lines.filter((line) => line.length > 1).map((line) => String(line[column]).length)));
  const render = (cells) => cells.map((cell, column) => (column < 2 ? String(cell).padEnd(widths[column]) : String(cell).padStart(widths[column]))).join('  ').trimEnd();
  const out = [render(header), widths.map((width) => '-'.repeat(width)).join('  ')];
  for (const line of lines) out.push(line.length === 1 ? `${line[0]}` : render(line));
  return out.join('\n');
}
