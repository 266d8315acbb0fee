/**
 * Sequential Monte Carlo utilities on log-weights: log-sum-exp, normalised
 * weights, effective sample size, systematic and multinomial resampling.
 * Log-weights may contain −∞ (zero weight); NaN or +∞ is an error, and so is
 * a vector whose weights are all zero.
 */
import type { Rng } from '../core/rng.js';
import { NonFiniteError, UserError } from '../core/errors.js';

/** Max m and Σ_i exp(a_i − m) (m = −∞ for an empty or all −∞ input). NaN or +∞ entries throw. */
function shiftedSum(a: ArrayLike<number>, what: string): { m: number; s: number } {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) || a[i] === Infinity) throw new NonFiniteError(`${what}: entry ${i} is ${a[i]}`, [i]);
    if (a[i] > m) m = a[i];
  }
  let s = 0;
  if (m !== -Infinity) for (let i = 0; i < a.length; i++) s += Math.exp(a[i] - m);
  return { m, s };
}

/** log Σ_i exp(a_i), shifted by the maximum so large values do not overflow. −∞ for an empty or all −∞ input. */
export function logSumExp(a: ArrayLike<number>): number {
  const { m, s } = shiftedSum(a, 'logSumExp');
  return m === -Infinity ? -Infinity : m + Math.log(s);
}

/**
 * w̄_i = exp(a_i − m) / Σ_j exp(a_j − m), m = max a (softmax; dividing by the
 * shifted sum avoids the rounding of m + log s). Throws if every weight is zero.
 */
export function normalizedWeights(logWeights: ArrayLike<number>): Float64Array {
  const { m, s } = shiftedSum(logWeights, 'normalizedWeights');
  if (m === -Infinity) throw new UserError(`normalizedWeights: all ${logWeights.length} log-weights are −∞ (or there are none)`);
  const w = new Float64Array(logWeights.length);
  for (let i = 0; i < w.length; i++) w[i] = Math.exp(logWeights[i] - m) / s;
  return w;
}

/** Effective sample size 1/Σ w̄_i² (between 1 and N), w̄ = softmax(log w). */
export function effectiveSampleSize(logWeights: ArrayLike<number>): number {
  const w = normalizedWeights(logWeights);
  let s = 0;
  for (const v of w) s += v * v;
  return 1 / s;
}

/** ESS as a fraction of N, in (0, 1]. */
export function effectiveSampleFraction(logWeights: ArrayLike<number>): number {
  return effectiveSampleSize(logWeights) / logWeights.length;
}

/**
 * Systematic resampling: one uniform u ~ U[0, 1), points (u + k)/N for
 * k = 0..N−1, ancestor k = the index whose cumulative-weight interval holds
 * point k. Each index i is drawn ⌊N w̄_i⌋ or ⌈N w̄_i⌉ times. `count`
 * (default N = number of weights) sets the number of draws.
 */
export function systematicResample(rng: Rng, logWeights: ArrayLike<number>, count = logWeights.length): Int32Array {
  checkCount(count);
  const w = normalizedWeights(logWeights);
  const u = rng.uniform();
  return invertCdf(w, count, (k) => (u + k) / count);
}

/** Multinomial resampling: `count` (default N) independent draws from the categorical distribution w̄, in increasing order. */
export function multinomialResample(rng: Rng, logWeights: ArrayLike<number>, count = logWeights.length): Int32Array {
  checkCount(count);
  const w = normalizedWeights(logWeights);
  // Sorted uniforms from normalised exponential spacings: one pass over the CDF.
  const e = new Float64Array(count + 1);
  let total = 0;
  for (let k = 0; k <= count; k++) {
    e[k] = -Math.log(rng.uniformPositive());
    total += e[k];
  }
  let acc = 0;
  const points = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    acc += e[k];
    points[k] = acc / total;
  }
  return invertCdf(w, count, (k) => points[k]);
}

/** Number of distinct entries in an index array (the usable ESS proxy after resampling). */
export function uniqueCount(indices: ArrayLike<number>): number {
  return new Set(Array.from(indices)).size;
}

/** Ancestor of each increasing point in [0, 1) under the cumulative weights (the last positive weight absorbs rounding). */
function invertCdf(w: Float64Array, count: number, point: (k: number) => number): Int32Array {
  let last = w.length - 1;
  while (w[last] === 0) last--;
  const out = new Int32Array(count);
  let i = 0;
  let cum = w[0];
  for (let k = 0; k < count; k++) {
    const p = point(k);
    while (p >= cum && i < last) cum += w[++i];
    out[k] = i;
  }
  return out;
}

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 1) throw new UserError(`resampling count must be a positive integer, got ${count}`);
}
