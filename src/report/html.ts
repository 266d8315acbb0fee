/**
 * HTML building blocks shared by the report and the dashboard: escaping,
 * tables, notices, figures and the page shell. Pages carry their own CSS
 * and, for the report, a Content-Security-Policy that forbids every fetch,
 * so a report opened from disk never touches the network.
 */
import type { RungSummary } from '../rundir/schema.js';
import type { Figure } from './plot.js';

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A number for tables: 4 significant digits, integers as they are, '–' for null or non-finite. */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toPrecision(4);
}

/** A table; cells are escaped text unless wrapped by `raw()`. */
export function table(head: readonly string[], rows: readonly (readonly (string | RawHtml)[])[], cls = ''): string {
  const cell = (c: string | RawHtml, tag: string) => `<${tag}>${c instanceof RawHtml ? c.html : escapeHtml(c)}</${tag}>`;
  return [
    `<table${cls ? ` class="${cls}"` : ''}>`,
    `<thead><tr>${head.map((h) => cell(h, 'th')).join('')}</tr></thead>`,
    `<tbody>${rows.map((r) => `<tr>${r.map((c) => cell(c, 'td')).join('')}</tr>`).join('')}</tbody>`,
    '</table>',
  ].join('');
}

/** Trusted HTML for `table` cells. */
export class RawHtml {
  constructor(readonly html: string) {}
}

export function raw(html: string): RawHtml {
  return new RawHtml(html);
}

/** A notice box: 'info' (no reference, not applicable) or 'warn' (incomplete, missing files). */
export function notice(kind: 'info' | 'warn', text: string): string {
  return `<p class="notice notice-${kind}">${escapeHtml(text)}</p>`;
}

/** A rendered figure with its title and caption; data-rows counts the drawn data rows. */
export function figureHtml(f: Figure): string {
  return `<figure class="plot" id="fig-${f.id}" data-plot="${escapeHtml(f.id)}" data-rows="${f.rows}"><h4>${escapeHtml(f.title)}</h4>${f.svg}${f.caption ? `<figcaption>${escapeHtml(f.caption)}</figcaption>` : ''}</figure>`;
}

const CSS = `
body { font-family: "DejaVu Sans", Verdana, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em 4em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; } h3 { margin-top: 1.5em; }
h4 { margin: 0 0 0.3em; font-size: 1em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; } th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
th { background: #f4f4f4; } td.num, table.num td:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
.notice { padding: 0.5em 0.8em; border-radius: 4px; } .notice-info { background: #eef4fb; border-left: 4px solid #4a7fbf; } .notice-warn { background: #fff6e0; border-left: 4px solid #d9a400; }
figure.plot { margin: 1em 0; overflow-x: auto; } figure.plot svg { max-width: 100%; height: auto; } figcaption { font-size: 0.85em; color: #555; max-width: 900px; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; max-height: 28em; }
.muted { color: #777; } nav a { margin-right: 1em; }
`;

/**
 * A complete page. `offline` adds a CSP that blocks every network fetch
 * (the report); the dashboard instead allows scripts and same-origin
 * connections for its live updates.
 */
export function page(title: string, body: string, opts: { offline: boolean; script?: string }): string {
  const csp = opts.offline
    ? "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    : "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">',
    `<title>${escapeHtml(title)}</title><style>${CSS}</style></head>`,
    `<body>${body}${opts.script ? `<script>${opts.script}</script>` : ''}</body></html>`,
    '',
  ].join('\n');
}

/** The per-rung summary table (rung summaries of log.jsonl / metrics.json). */
export function rungTable(rungs: readonly RungSummary[]): string {
  return table(
    ['rung', 'T', 'γ', 'kept / M', 'resamplings', 'min ESS', 'reweight ESS', 'unique after reweight', 'relaxation acceptance', 'mean E/kT', 'seconds'],
    rungs.map((r) => [String(r.rung), fmt(r.temperature), fmt(r.gamma), `${r.kept} / ${r.particles}`, String(r.resamplings), fmt(r.minEss), fmt(r.reweightEss), String(r.uniqueAfterReweight), fmt(r.relaxationAcceptance), fmt(r.meanReducedEnergy), fmt(r.seconds)]),
    'num',
  );
}

/** Collects the page body, its figures and notices. */
export class PageBuilder {
  readonly parts: string[] = [];
  readonly figures: Figure[] = [];
  readonly notices: string[] = [];
  raw(html: string): void {
    this.parts.push(html);
  }
  h2(text: string): void {
    this.parts.push(`<h2>${escapeHtml(text)}</h2>`);
  }
  h3(text: string): void {
    this.parts.push(`<h3>${escapeHtml(text)}</h3>`);
  }
  notice(kind: 'info' | 'warn', text: string): void {
    this.notices.push(text);
    this.parts.push(notice(kind, text));
  }
  figure(f: Figure | null): void {
    if (!f) return;
    this.figures.push(f);
    this.parts.push(figureHtml(f));
  }
  body(): string {
    return this.parts.join('\n');
  }
}
