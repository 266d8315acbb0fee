/**
 * Vega-Lite specs rendered to SVG in Node: compile to Vega, run a headless
 * view (renderer 'none') and serialise its scene graph. The SVG is
 * self-contained (no fonts, images or scripts are referenced), so it can be
 * inlined in an HTML page or rasterised by resvg.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { UserError } from '../core/errors.js';

/** A rendered figure. `id` is unique in a page and names the PNG file. */
export interface Figure {
  id: string;
  title: string;
  svg: string;
  caption: string;
  /** Key figures are exported as PNG by `pita report --png`. */
  key: boolean;
  /** Data rows drawn (a cheap check that the plot is not empty). */
  rows: number;
}

/** Shared look: DejaVu Sans first (what resvg finds for PNG export), sans-serif in browsers without it. */
const CONFIG = { font: 'DejaVu Sans, Verdana, sans-serif', view: { stroke: '#ccc' }, axis: { labelFontSize: 11, titleFontSize: 12 } } as const;

/** Renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile({ ...spec, config: { ...CONFIG, ...spec.config } } as TopLevelSpec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Prefixes every id defined in an SVG (gradients, clip paths) and the
 * references to it with `prefix`, so several SVGs inlined in one page do not
 * pick up each other's definitions (Vega numbers them from 1 in every view).
 */
export function scopeSvgIds(svg: string, prefix: string): string {
  if (!/^[A-Za-z][\w-]*$/.test(prefix)) throw new UserError(`SVG id prefix must be a plain identifier, got '${prefix}'`);
  const ids = new Set<string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) ids.add(m[1]);
  if (ids.size === 0) return svg;
  return svg.replace(/(\sid="|url\(#|href="#)([^")]+)/g, (all, lead: string, id: string) => (ids.has(id) ? `${lead}${prefix}-${id}` : all));
}

/** Renders a spec into a Figure with scoped ids. */
export async function figure(id: string, title: string, spec: TopLevelSpec, opts: { caption?: string; key?: boolean; rows: number }): Promise<Figure> {
  if (opts.rows < 1) throw new UserError(`figure '${id}' has no data rows`);
  return { id, title, svg: scopeSvgIds(await renderSvg(spec), id), caption: opts.caption ?? '', key: opts.key ?? false, rows: opts.rows };
}
