/**
 * Binning for the report's plots: 1-D density histograms on a shared range
 * and 2-D density histograms on a box, as rows a Vega-Lite spec can draw
 * (bars and rectangles with explicit edges, so the data stay small however
 * many samples there are).
 */
import { UserError } from '../core/errors.js';

/** One bin of a 1-D density histogram of set `set`: count/(n·width) on [x0, x1). */
export interface Bin1d {
  set: string;
  x0: number;
  x1: number;
  density: number;
}

/** One non-empty bin of a 2-D density histogram: count/(n·area) on [x0, x1) × [y0, y1). */
export interface Bin2d {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  density: number;
}

/** The q-quantile (0 ≤ q ≤ 1) of ascending finite values, linearly interpolated. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new UserError('quantile of an empty set');
  if (!(q >= 0 && q <= 1)) throw new UserError(`quantile level must be in [0, 1], got ${q}`);
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < sorted.length ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

/** The finite values of v, ascending. */
export function finiteSorted(v: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i])) out.push(v[i]);
  return Float64Array.from(out).sort();
}

/**
 * A plotting range that shows the bulk of every set: from the smallest
 * `tail`-quantile to the largest (1 − tail)-quantile over the sets, widened
 * by 5% on each side (and to a unit width when all values coincide).
 */
export function sharedRange(sets: Float64Array[], tail = 0.005): [number, number] {
  const sorted = sets.map(finiteSorted).filter((s) => s.length > 0);
  if (sorted.length === 0) throw new UserError('no finite values to plot');
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of sorted) {
    lo = Math.min(lo, quantileSorted(s, tail));
    hi = Math.max(hi, quantileSorted(s, 1 - tail));
  }
  if (hi === lo) return [lo - 0.5, hi + 0.5];
  const pad = 0.05 * (hi - lo);
  return [lo - pad, hi + pad];
}

/**
 * Density histogram of the finite values of v on [lo, hi) with `bins` equal
 * bins; values outside are counted in `outside` (and still count in the
 * normalisation n, so the bars show the fraction of the whole set).
 */
export function densityHistogram(set: string, v: ArrayLike<number>, lo: number, hi: number, bins: number): { bins: Bin1d[]; outside: number; n: number } {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) throw new UserError(`histogram range must be finite with hi > lo, got [${lo}, ${hi}]`);
  if (!Number.isInteger(bins) || bins < 1) throw new UserError(`histogram bins must be a positive integer, got ${bins}`);
  const counts = new Float64Array(bins);
  const width = (hi - lo) / bins;
  let n = 0;
  let outside = 0;
  for (let i = 0; i < v.length; i++) {
    const a = v[i];
    if (!Number.isFinite(a)) continue;
    n++;
    const b = Math.floor((a - lo) / width);
    if (b < 0 || b >= bins) outside++;
    else counts[b]++;
  }
  const scale = n > 0 ? 1 / (n * width) : 0;
  return { bins: Array.from(counts, (c, b) => ({ set, x0: lo + b * width, x1: lo + (b + 1) * width, density: c * scale })), outside, n };
}

/**
 * Density histogram of points (x, y) = (xy[2i], xy[2i+1]), n points, on the
 * box [xlo, xhi) × [ylo, yhi) with bins × bins cells; returns every cell
 * (empty ones with density 0) in x-major order.
 */
export function densityHistogram2d(xy: Float64Array, n: number, box: { x: [number, number]; y: [number, number] }, bins: number): Bin2d[] {
  if (xy.length !== 2 * n) throw new UserError(`2-D histogram needs [n, 2] = ${2 * n} values, got ${xy.length}`);
  if (!Number.isInteger(bins) || bins < 1) throw new UserError(`histogram bins must be a positive integer, got ${bins}`);
  const [xlo, xhi] = box.x;
  const [ylo, yhi] = box.y;
  if (!(xhi > xlo && yhi > ylo)) throw new UserError(`2-D histogram box must have hi > lo, got x [${xlo}, ${xhi}], y [${ylo}, ${yhi}]`);
  const wx = (xhi - xlo) / bins;
  const wy = (yhi - ylo) / bins;
  const counts = new Float64Array(bins * bins);
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(xy[2 * i]) || !Number.isFinite(xy[2 * i + 1])) continue;
    total++;
    const a = Math.floor((xy[2 * i] - xlo) / wx);
    const b = Math.floor((xy[2 * i + 1] - ylo) / wy);
    if (a >= 0 && a < bins && b >= 0 && b < bins) counts[a * bins + b]++;
  }
  const scale = total > 0 ? 1 / (total * wx * wy) : 0;
  const out: Bin2d[] = [];
  for (let a = 0; a < bins; a++) {
    for (let b = 0; b < bins; b++) out.push({ x0: xlo + a * wx, x1: xlo + (a + 1) * wx, y0: ylo + b * wy, y1: ylo + (b + 1) * wy, density: counts[a * bins + b] * scale });
  }
  return out;
}

/**
 * Thins a series for plotting: at most `max` points, each the mean of a run
 * of consecutive points (x and y averaged), so trends survive and noise
 * shrinks. Non-finite y values are dropped first.
 */
export function thinSeries(x: ArrayLike<number>, y: ArrayLike<number>, max: number): { x: number[]; y: number[] } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < y.length; i++) {
    if (Number.isFinite(y[i]) && Number.isFinite(x[i])) {
      xs.push(x[i]);
      ys.push(y[i]);
    }
  }
  if (xs.length <= max) return { x: xs, y: ys };
  const out = { x: [] as number[], y: [] as number[] };
  const per = xs.length / max;
  for (let j = 0; j < max; j++) {
    const a = Math.floor(j * per);
    const b = Math.floor((j + 1) * per);
    let sx = 0;
    let sy = 0;
    for (let i = a; i < b; i++) {
      sx += xs[i];
      sy += ys[i];
    }
    out.x.push(sx / (b - a));
    out.y.push(sy / (b - a));
  }
  return out;
}
