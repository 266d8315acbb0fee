/**
 * Maximum mean discrepancy between samples x = {x_1..x_n} and y = {y_1..y_m}
 * in R^dim with a kernel k:
 *
 *   biased (default, as PITA's RBF_MMD, docs/targets-and-metrics.md §3.4; diagonal terms included):
 *     MMD²_b = 1/n² Σ_{i,j} k(x_i,x_j) + 1/m² Σ_{i,j} k(y_i,y_j) − 2/(nm) Σ_{i,j} k(x_i,y_j)  ≥ 0
 *   unbiased (diagonal terms dropped; can be slightly negative; needs n, m ≥ 2):
 *     MMD²_u = 1/(n(n−1)) Σ_{i≠j} k(x_i,x_j) + 1/(m(m−1)) Σ_{i≠j} k(y_i,y_j) − 2/(nm) Σ_{i,j} k(x_i,y_j)
 *
 * Kernels:
 *   - RBF, k(a,b) = exp(−‖a−b‖²/(2h²)), h by default the median heuristic:
 *     the median of the (unsquared) Euclidean distances ‖z_i − z_j‖, i < j, of
 *     the pooled sample z = x ∪ y (mean of the two middle values for an even
 *     count; computed on an evenly strided subset of `maxMedianPoints` pooled
 *     points when the pool is larger);
 *   - multi-scale (docs/targets-and-metrics.md §3.4), k(a,b) = Σ_{σ∈{0.01,0.1,1,10,100}} exp(−‖a−b‖²/(2σ²)).
 *
 * Kernel sums are accumulated in loops over pairs, with O(1) extra memory.
 */
import { assertFiniteRows } from '../core/errors.js';

export type MmdEstimator = 'biased' | 'unbiased';

/** Kernel as a function of the squared distance ‖a − b‖². */
export type RadialKernel = (squaredDistance: number) => number;

export const MULTI_SCALE_SIGMAS: readonly number[] = [0.01, 0.1, 1, 10, 100];

function checkSample(z: ArrayLike<number>, n: number, dim: number, what: string): void {
  if (!Number.isSafeInteger(dim) || dim < 1) throw new RangeError(`dim must be a positive integer, got ${dim}`);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${what}: sample count must be a positive integer, got ${n}`);
  if (z.length !== n * dim) throw new RangeError(`${what} has ${z.length} values; expected [${n}, ${dim}] = ${n * dim}`);
  assertFiniteRows(what, z, n, dim);
}

function sqDist(a: ArrayLike<number>, ia: number, b: ArrayLike<number>, ib: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const t = a[ia * dim + d] - b[ib * dim + d];
    s += t * t;
  }
  return s;
}

/** Σ_{i<j} k(z_i, z_j) over one sample. */
function halfSelfSum(z: ArrayLike<number>, n: number, dim: number, k: RadialKernel): number {
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += k(sqDist(z, i, z, j, dim));
  return s;
}

/** MMD² of x [nx, dim] and y [ny, dim] for any radial kernel (see the module comment). */
export function mmd2(
  x: ArrayLike<number>,
  nx: number,
  y: ArrayLike<number>,
  ny: number,
  dim: number,
  kernel: RadialKernel,
  estimator: MmdEstimator = 'biased',
): number {
  checkSample(x, nx, dim, 'first sample');
  checkSample(y, ny, dim, 'second sample');
  if (estimator !== 'biased' && estimator !== 'unbiased') throw new RangeError(`MMD estimator must be 'biased' or 'unbiased', got ${JSON.stringify(estimator)}`);
  if (estimator === 'unbiased' && (nx < 2 || ny < 2)) throw new RangeError(`unbiased MMD² needs at least 2 samples per side, got ${nx} and ${ny}`);
  let sxy = 0;
  for (let i = 0; i < nx; i++) for (let j = 0; j < ny; j++) sxy += kernel(sqDist(x, i, y, j, dim));
  const sxx = halfSelfSum(x, nx, dim, kernel);
  const syy = halfSelfSum(y, ny, dim, kernel);
  const k0 = kernel(0);
  const cross = (2 * sxy) / (nx * ny);
  if (estimator === 'biased') return (2 * sxx + nx * k0) / (nx * nx) + (2 * syy + ny * k0) / (ny * ny) - cross;
  return (2 * sxx) / (nx * (nx - 1)) + (2 * syy) / (ny * (ny - 1)) - cross;
}

/**
 * Median of the Euclidean (not squared) distances over all pairs i < j of the
 * pooled sample [x; y]. With more than `maxPoints` pooled points, the pooled
 * indices ⌊k·N/maxPoints⌋, k = 0..maxPoints−1, are used (deterministic, both
 * samples represented in proportion). Memory: maxPoints²/2 doubles.
 * `positiveOnly`: the median of the non-zero distances only (NaN when every pair coincides).
 */
export function medianPairwiseDistance(
  x: ArrayLike<number>,
  nx: number,
  y: ArrayLike<number>,
  ny: number,
  dim: number,
  maxPoints = 2000,
  positiveOnly = false,
): number {
  checkSample(x, nx, dim, 'first sample');
  checkSample(y, ny, dim, 'second sample');
  if (!Number.isSafeInteger(maxPoints) || maxPoints < 2) throw new RangeError(`maxPoints must be an integer ≥ 2, got ${maxPoints}`);
  const total = nx + ny;
  if (total < 2) throw new RangeError('the median heuristic needs at least 2 pooled points');
  const m = Math.min(total, maxPoints);
  const pts = new Float64Array(m * dim);
  for (let k = 0; k < m; k++) {
    const idx = Math.floor((k * total) / m);
    for (let d = 0; d < dim; d++) pts[k * dim + d] = idx < nx ? x[idx * dim + d] : y[(idx - nx) * dim + d];
  }
  const d2 = new Float64Array((m * (m - 1)) / 2);
  let p = 0;
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) d2[p++] = sqDist(pts, i, pts, j, dim);
  d2.sort(); // squared distances sort in the same order as distances
  const first = positiveOnly ? d2.findIndex((v) => v > 0) : 0;
  const sorted = d2.subarray(first < 0 ? d2.length : first);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? Math.sqrt(sorted[mid]) : (Math.sqrt(sorted[mid - 1]) + Math.sqrt(sorted[mid])) / 2;
}

export interface MmdRbfOptions {
  /** Fixed bandwidth h > 0; default: the median heuristic. */
  bandwidth?: number;
  estimator?: MmdEstimator;
  /** Pooled points used by the median heuristic (see `medianPairwiseDistance`). Default 2000. */
  maxMedianPoints?: number;
}

/** MMD² with the RBF kernel exp(−‖a−b‖²/(2h²)); returns the bandwidth h used. */
export function mmd2Rbf(
  x: ArrayLike<number>,
  nx: number,
  y: ArrayLike<number>,
  ny: number,
  dim: number,
  opts: MmdRbfOptions = {},
): { mmd2: number; bandwidth: number } {
  let h = opts.bandwidth ?? medianPairwiseDistance(x, nx, y, ny, dim, opts.maxMedianPoints);
  if (opts.bandwidth === undefined && h === 0) {
    // Most pooled points coincide (e.g. two identical one-row sets): the median of the distinct pairs'
    // distances; when every point coincides, every bandwidth gives MMD² = 0, so any (1) will do.
    const positive = medianPairwiseDistance(x, nx, y, ny, dim, opts.maxMedianPoints, true);
    h = Number.isNaN(positive) ? 1 : positive;
  }
  if (!(Number.isFinite(h) && h > 0)) {
    throw new RangeError(`RBF bandwidth must be positive and finite, got ${h}`);
  }
  const c = -1 / (2 * h * h);
  return { mmd2: mmd2(x, nx, y, ny, dim, (s) => Math.exp(c * s), opts.estimator), bandwidth: h };
}

/** MMD² with the multi-scale kernel Σ_σ exp(−‖a−b‖²/(2σ²)), σ ∈ `sigmas` (default those of docs/targets-and-metrics.md §3.4). */
export function mmd2MultiScale(
  x: ArrayLike<number>,
  nx: number,
  y: ArrayLike<number>,
  ny: number,
  dim: number,
  opts: { sigmas?: readonly number[]; estimator?: MmdEstimator } = {},
): number {
  const sigmas = opts.sigmas ?? MULTI_SCALE_SIGMAS;
  if (sigmas.length === 0 || !sigmas.every((s) => Number.isFinite(s) && s > 0)) {
    throw new RangeError(`multi-scale MMD needs positive finite bandwidths, got [${sigmas.join(', ')}]`);
  }
  const coeffs = sigmas.map((s) => -1 / (2 * s * s));
  const kernel: RadialKernel = (d2) => {
    let k = 0;
    for (const c of coeffs) k += Math.exp(c * d2);
    return k;
  };
  return mmd2(x, nx, y, ny, dim, kernel, opts.estimator);
}
