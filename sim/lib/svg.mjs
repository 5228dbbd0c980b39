// Hand-written SVG charts (no browser, no dependency): grouped bars and lines, linear or log scale, with
// reference lines (a limit) and shaded time bands (a storm, a cut-off).
const W = 860;
const H = 420;
const M = { top: 48, right: 24, bottom: 86, left: 76 };
export const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const fmt = (v) =>
  Math.abs(v) >= 1e6 ? `${+(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 1000 ? `${+(v / 1000).toFixed(1)}k` : Math.abs(v) >= 10 ? `${Math.round(v)}` : `${+v.toFixed(2)}`;
/** Pixel coordinates to a tenth of a pixel: smaller files, same picture. */
const px = (v) => Math.round(v * 10) / 10;

function scale(lo, hi, log, px0, px1) {
  if (log) {
    const a = Math.log10(lo);
    const b = Math.log10(hi);
    return (v) => px(px0 + ((Math.log10(Math.max(v, lo)) - a) / (b - a)) * (px1 - px0));
  }
  return (v) => px(px0 + ((v - lo) / (hi - lo || 1)) * (px1 - px0));
}

function ticks(lo, hi, log) {
  if (log) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) if (10 ** e >= lo && 10 ** e <= hi) out.push(10 ** e);
    return out;
  }
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4 || 1));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= 6) ?? step * 10;
  const out = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-9; v += nice) out.push(v);
  return out;
}

function frame(title, yLabel, y, yTicks, xLabel) {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  ];
  if (xLabel) parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>`);
  for (const v of yTicks) {
    const py = y(v);
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${M.left - 6}" y="${py + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  parts.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  return parts;
}

function legend(parts, names, x0, yPos) {
  let x = x0;
  names.forEach(({ name, color, dash }) => {
    parts.push(`<line x1="${x}" x2="${x + 18}" y1="${yPos}" y2="${yPos}" stroke="${color}" stroke-width="3"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`);
    parts.push(`<text x="${x + 22}" y="${yPos + 4}">${esc(name)}</text>`);
    x += 30 + 7 * name.length;
  });
}

function hline(parts, y, value, label) {
  const py = y(value);
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py}" y2="${py}" stroke="#d62728" stroke-dasharray="6 4"/>`);
  parts.push(`<text x="${W - M.right - 4}" y="${py - 5}" text-anchor="end" fill="#d62728">${esc(label)}</text>`);
}

/** Grouped bars: `categories` along x, one bar per group in each. */
export function barChart({ title, yLabel, categories, groups, log = false, hlines = [], min }) {
  const values = groups.flatMap((g) => g.values).filter((v) => Number.isFinite(v) && (!log || v > 0));
  const hi = Math.max(...values, ...hlines.map((h) => h.y)) * (log ? 2 : 1.1);
  const lo = log ? (min ?? Math.max(Math.min(...values) / 2, 1e-3)) : 0;
  const y = scale(lo, hi, log, H - M.bottom, M.top);
  const parts = frame(title, yLabel, y, ticks(lo, hi, log));
  const band = (W - M.left - M.right) / categories.length;
  const bar = (band * 0.8) / groups.length;
  categories.forEach((cat, i) => {
    const x0 = M.left + i * band + band * 0.1;
    groups.forEach((g, j) => {
      const v = g.values[i];
      if (!Number.isFinite(v)) return;
      const top = y(v);
      parts.push(`<rect x="${px(x0 + j * bar)}" y="${top}" width="${px(bar - 1)}" height="${px(Math.max(0, H - M.bottom - top))}" fill="${g.color}"><title>${esc(`${g.name} ${cat}: ${fmt(v)}`)}</title></rect>`);
    });
    parts.push(`<text x="${px(x0 + band * 0.4)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(cat)}</text>`);
  });
  for (const h of hlines) hline(parts, y, h.y, h.label);
  legend(parts, groups.map((g) => ({ name: g.name, color: g.color })), M.left, H - M.bottom + 44);
  parts.push("</svg>");
  return parts.join("\n");
}

/** Lines over x (seconds), with optional shaded bands and reference lines. */
export function lineChart({ title, yLabel, xLabel, series, log = false, hlines = [], bands = [], yMax }) {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => Number.isFinite(v) && (!log || v > 0));
  const xLo = Math.min(...xs);
  const xHi = Math.max(...xs);
  const hi = yMax ?? Math.max(...ys, ...hlines.map((h) => h.y)) * (log ? 2 : 1.1);
  const lo = log ? Math.max(Math.min(...ys) / 2, 0.1) : 0;
  const x = scale(xLo, xHi, false, M.left, W - M.right);
  const y = scale(lo, hi, log, H - M.bottom, M.top);
  const parts = frame(title, yLabel, y, ticks(lo, hi, log), xLabel);
  for (const b of bands) {
    parts.push(`<rect x="${x(b.from)}" y="${M.top}" width="${px(Math.max(0, x(b.to) - x(b.from)))}" height="${H - M.top - M.bottom}" fill="${b.color ?? "#fdd"}" opacity="0.45"/>`);
    parts.push(`<text x="${px((x(b.from) + x(b.to)) / 2)}" y="${M.top + 14}" text-anchor="middle" fill="#555">${esc(b.label)}</text>`);
  }
  for (const v of ticks(xLo, xHi, false)) parts.push(`<text x="${x(v)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(v)}</text>`);
  for (const s of series) {
    const d = s.points
      .filter((p) => Number.isFinite(p[1]))
      .map((p, i) => `${i === 0 ? "M" : "L"}${x(p[0]).toFixed(1)} ${y(Math.min(Math.max(p[1], lo), hi)).toFixed(1)}`)
      .join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`);
  }
  for (const h of hlines) hline(parts, y, h.y, h.label);
  legend(parts, series, M.left, H - M.bottom + 44);
  parts.push("</svg>");
  return parts.join("\n");
}
