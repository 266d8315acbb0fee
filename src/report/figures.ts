/**
 * The report's and the dashboard's figures as Vega-Lite specs: training
 * curves, annealing diagnostics, rung statistics, the evaluation budget,
 * overlaid density histograms, 2-D density maps and PT swap acceptance.
 * Each builder takes plain data and returns a rendered Figure, or null when
 * there is nothing to draw.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { RungSummary } from '../rundir/schema.js';
import { METHOD_COMPONENTS } from '../rundir/schema.js';
import { densityHistogram, sharedRange, thinSeries, type Bin1d, type Bin2d } from './histogram.js';
import { figure, type Figure } from './plot.js';
import type { AnnealRecord, InitialDataRecord, TrainRecord } from '../rundir/reader.js';

/** Colours of the sample sets in every histogram. */
export const SET_COLORS: Record<string, string> = { samples: '#1f77b4', reference: '#d62728', baseline: '#2ca02c' };

const TRAIN_TERMS: [keyof TrainRecord, string][] = [
  ['loss', 'total loss'],
  ['lossScore', 'score loss'],
  ['lossEnergyScore', 'energy-score loss'],
  ['lossEnergyMatching', 'energy-matching loss'],
  ['lossTargetScore', 'target-score loss'],
  ['gradNorm', 'gradient norm (before clipping)'],
];

/** Stacked panels sharing x, one per series name in `rows.term`; log y where a series is positive. */
function stackedSeries(rows: { x: number; y: number; group: string; term: string }[], terms: string[], xTitle: string, groupTitle: string, points: boolean): TopLevelSpec {
  return {
    data: { values: rows },
    vconcat: terms.map((term) => {
      const positive = rows.every((r) => r.term !== term || r.y > 0);
      return {
        width: 560,
        height: 110,
        transform: [{ filter: { field: 'term', equal: term } }],
        mark: { type: 'line', point: points, strokeWidth: 1.5 },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: xTitle },
          y: { field: 'y', type: 'quantitative', title: term, scale: positive ? { type: 'log' } : { zero: false } },
          color: { field: 'group', type: 'nominal', title: groupTitle },
        },
      };
    }),
  } as TopLevelSpec;
}

/**
 * Training curves per loss term (and the gradient norm) against the global
 * step, coloured by rung; at most `maxPoints` points per term and rung
 * (consecutive steps averaged).
 */
export async function trainingFigure(train: readonly TrainRecord[], maxPoints = 300): Promise<Figure | null> {
  if (train.length === 0) return null;
  const rows: { x: number; y: number; group: string; term: string }[] = [];
  const rungs = [...new Set(train.map((r) => r.rung))].sort((a, b) => a - b);
  const terms: string[] = [];
  for (const [key, label] of TRAIN_TERMS) {
    // A term whose weight is 0 is logged as 0 throughout: leave it out.
    if (train.every((r) => Number(r[key]) === 0)) continue;
    terms.push(label);
    for (const k of rungs) {
      const on = train.filter((r) => r.rung === k);
      const s = thinSeries(
        on.map((r) => r.step),
        on.map((r) => Number(r[key])),
        maxPoints,
      );
      s.x.forEach((x, i) => rows.push({ x, y: s.y[i], group: `rung ${k}`, term: label }));
    }
  }
  if (rows.length === 0) return null;
  const thinned = train.length > maxPoints * rungs.length;
  return figure('training', 'Training curves', stackedSeries(rows, terms, 'training step (all rungs)', 'trained on', false), {
    caption: `${train.length} logged steps${thinned ? `, shown as means of consecutive steps (≤ ${maxPoints} points per term and rung)` : ''}; log scale where a term stays positive.`,
    key: true,
    rows: rows.length,
  });
}

/** ESS fraction, log-weight variance and distinct ancestors along annealing time, one line per annealing step T_k → T_k+1. */
export async function annealFigure(anneal: readonly AnnealRecord[], temperatures: readonly number[] | null): Promise<Figure | null> {
  if (anneal.length === 0) return null;
  const label = (k: number) => (temperatures && k + 1 < temperatures.length ? `T ${temperatures[k]} → ${temperatures[k + 1]}` : `rung ${k} → ${k + 1}`);
  const series: [keyof AnnealRecord, string][] = [
    ['ess', 'ESS fraction'],
    ['logWeightVariance', 'log-weight variance'],
    ['unique', 'unique particles'],
  ];
  const rows = anneal.flatMap((r) => series.filter(([key]) => Number.isFinite(Number(r[key]))).map(([key, term]) => ({ x: r.step, y: Number(r[key]), group: label(r.rung), term })));
  if (rows.length === 0) return null;
  return figure('annealing', 'Annealing diagnostics', stackedSeries(rows, series.map(([, t]) => t), 'annealing step (t from 1 to 0)', 'annealing', true), {
    caption: 'Logged every 50 annealing steps and at the last; ESS and variance of the accumulated log-weights before resampling; unique = distinct ancestors after resampling.',
    key: true,
    rows: rows.length,
  });
}

/** Per-rung fractions: min ESS, reweighting ESS, unique after reweighting / M, kept / M, relaxation acceptance. */
export async function rungFigure(rungs: readonly RungSummary[]): Promise<Figure | null> {
  if (rungs.length === 0) return null;
  const rows = rungs.flatMap((r) => {
    const out = [
      { rung: r.rung, metric: 'min ESS (annealing)', value: r.minEss },
      { rung: r.rung, metric: 'ESS of the final reweight', value: r.reweightEss },
      { rung: r.rung, metric: 'unique after reweight / M', value: r.uniqueAfterReweight / r.particles },
      { rung: r.rung, metric: 'kept / M (energy mask)', value: r.kept / r.particles },
    ];
    if (r.relaxationAcceptance !== null) out.push({ rung: r.rung, metric: 'relaxation acceptance (MALA)', value: r.relaxationAcceptance });
    return out.filter((o) => Number.isFinite(o.value));
  });
  if (rows.length === 0) return null;
  return figure(
    'rungs',
    'Per-rung statistics',
    {
      width: 420,
      height: 220,
      data: { values: rows },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'rung', type: 'ordinal', title: 'rung k (annealed into T_k)', axis: { labelAngle: 0 } },
        y: { field: 'value', type: 'quantitative', title: 'fraction', scale: { domain: [0, 1] } },
        color: { field: 'metric', type: 'nominal', title: null, legend: { labelLimit: 300 } },
      },
    },
    { caption: 'Fractions per rung (M = annealed particles).', key: false, rows: rows.length },
  );
}

/**
 * Energy evaluations per component (method cost vs not counted) and the
 * method total next to the equal-budget baseline's evaluations.
 */
export async function budgetFigure(byComponent: Record<string, number>, baseline: { sampler: string; evaluations: number } | null): Promise<Figure | null> {
  const method = new Set<string>(METHOD_COMPONENTS);
  const rows = Object.entries(byComponent)
    .filter(([, v]) => v > 0)
    .map(([component, evaluations]) => ({ component, evaluations, kind: method.has(component) ? 'method cost' : 'not counted' }));
  if (rows.length === 0) return null;
  const total = rows.filter((r) => r.kind === 'method cost').reduce((a, r) => a + r.evaluations, 0);
  const compare = [{ who: 'PITA (method total)', evaluations: total }];
  if (baseline) compare.push({ who: `${baseline.sampler.toUpperCase()} baseline`, evaluations: baseline.evaluations });
  const bars = (values: object[], y: string, color: object): object => ({
    width: 300,
    height: 22 * values.length,
    data: { values },
    mark: 'bar',
    encoding: { y: { field: y, type: 'nominal', title: null, sort: null }, x: { field: 'evaluations', type: 'quantitative', title: 'energy evaluations' }, color },
  });
  return figure(
    'budget',
    'Energy-evaluation budget',
    {
      hconcat: [
        bars(rows, 'component', { field: 'kind', type: 'nominal', title: null, scale: { domain: ['method cost', 'not counted'], range: ['#1f77b4', '#bbbbbb'] } }),
        bars(compare, 'who', { value: '#555' }),
      ],
    } as TopLevelSpec,
    { caption: 'Left: evaluations by component (method cost: initial data, buffer fill, final reweight, relaxation). Right: the method total and the classical baseline run with the same budget.', key: true, rows: rows.length + compare.length },
  );
}

export interface HistogramSet {
  name: string;
  values: Float64Array;
}

export interface HistogramPanel {
  title: string;
  xTitle: string;
  sets: HistogramSet[];
}

/** Overlaid density histograms, one panel per entry side by side; the caption lists values outside each panel's range. */
export async function histogramFigure(id: string, title: string, panels: HistogramPanel[], opts: { caption: string; key: boolean; bins?: number }): Promise<Figure | null> {
  const bins = opts.bins ?? 50;
  const specs: object[] = [];
  const outside: string[] = [];
  let total = 0;
  for (const p of panels) {
    const sets = p.sets.filter((s) => s.values.some(Number.isFinite));
    if (sets.length === 0) continue;
    const [lo, hi] = sharedRange(sets.map((s) => s.values));
    const rows: Bin1d[] = [];
    for (const s of sets) {
      const h = densityHistogram(s.name, s.values, lo, hi, bins);
      rows.push(...h.bins);
      if (h.outside > 0) outside.push(`${p.title}: ${h.outside} of ${h.n} values (${s.name}) outside the plotted range`);
    }
    total += rows.length;
    const names = sets.map((s) => s.name);
    specs.push({
      title: p.title,
      width: 300,
      height: 180,
      data: { values: rows },
      mark: { type: 'rect', opacity: 0.5 },
      encoding: {
        x: { field: 'x0', type: 'quantitative', title: p.xTitle, scale: { zero: false, domain: [lo, hi] } },
        x2: { field: 'x1' },
        y: { field: 'density', type: 'quantitative', title: 'density' },
        y2: { datum: 0 },
        color: { field: 'set', type: 'nominal', title: null, scale: { domain: names, range: names.map((n) => SET_COLORS[n] ?? '#ff7f0e') } },
      },
    });
  }
  if (specs.length === 0) return null;
  const caption = [opts.caption, ...outside].filter((s) => s !== '').join('. ');
  return figure(id, title, { hconcat: specs } as TopLevelSpec, { caption, key: opts.key, rows: total });
}

export interface HeatmapPanel {
  title: string;
  bins: Bin2d[];
  /** 'density': sequential colours from 0; 'difference': diverging colours centred on 0. */
  kind: 'density' | 'difference';
}

/** 2-D density maps side by side; density panels share a colour range, difference panels use a diverging one. */
export async function heatmapFigure(
  id: string,
  title: string,
  panels: HeatmapPanel[],
  axes: { x: string; y: string; domain?: { x: [number, number]; y: [number, number] } },
  opts: { caption: string; key: boolean },
): Promise<Figure | null> {
  if (panels.length === 0) return null;
  const absMax = (bins: Bin2d[]) => bins.reduce((m, b) => Math.max(m, Math.abs(b.density)), 0) || 1;
  // Density panels share one colour range so they compare by eye; a difference panel gets its own, centred on 0.
  const densityMax = Math.max(...panels.filter((p) => p.kind === 'density').map((p) => absMax(p.bins)), 0);
  const specs = panels.map((p) => {
    const max = p.kind === 'density' ? densityMax : absMax(p.bins);
    const scale = p.kind === 'difference' ? { scheme: 'redblue', reverse: true, domain: [-max, max] } : { scheme: 'viridis', domain: [0, max] };
    return {
      title: p.title,
      width: 220,
      height: 220,
      // Cells reach 20% into their upper and right neighbours (drawn later, so they cover the overlap):
      // without it, anti-aliasing leaves light seams between cells.
      data: { values: p.bins.map((b) => ({ ...b, x2: b.x1 + 0.2 * (b.x1 - b.x0), y2: b.y1 + 0.2 * (b.y1 - b.y0) })) },
      mark: { type: 'rect', clip: true },
      encoding: {
        x: { field: 'x0', type: 'quantitative', title: axes.x, axis: { grid: false }, scale: { zero: false, nice: false, ...(axes.domain ? { domain: axes.domain.x } : {}) } },
        x2: { field: 'x2' },
        y: { field: 'y0', type: 'quantitative', title: axes.y, axis: { grid: false }, scale: { zero: false, nice: false, ...(axes.domain ? { domain: axes.domain.y } : {}) } },
        y2: { field: 'y2' },
        color: { field: 'density', type: 'quantitative', title: p.kind === 'difference' ? 'Δ density' : 'density', scale, legend: { gradientLength: 160 } },
      },
    };
  });
  return figure(id, title, { hconcat: specs, resolve: { scale: { color: 'independent' } } } as TopLevelSpec, {
    caption: opts.caption,
    key: opts.key,
    rows: panels.reduce((a, p) => a + p.bins.length, 0),
  });
}

/** Swap acceptance per neighbour pair of the parallel tempering that made the initial data. */
export async function swapAcceptanceFigure(rec: InitialDataRecord): Promise<Figure | null> {
  const acc = rec.swapAcceptance;
  if (!acc || acc.length === 0) return null;
  const T = rec.temperatures;
  const rows = acc.map((a, i) => ({ pair: T && T.length === acc.length + 1 ? `${T[i].toPrecision(3)} ↔ ${T[i + 1].toPrecision(3)}` : `${i} ↔ ${i + 1}`, acceptance: a }));
  return figure(
    'pt-swaps',
    'Parallel tempering: swap acceptance',
    {
      width: Math.max(200, 40 * rows.length),
      height: 160,
      data: { values: rows },
      mark: 'bar',
      encoding: { x: { field: 'pair', type: 'nominal', title: 'neighbouring temperatures', sort: null }, y: { field: 'acceptance', type: 'quantitative', scale: { domain: [0, 1] } } },
    },
    { caption: `Initial data by parallel tempering${rec.roundTrips !== null ? `: ${rec.roundTrips} round trips` : ''}.`, key: false, rows: rows.length },
  );
}
