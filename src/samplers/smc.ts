/**
 * Sequential Monte Carlo utilities on log-weights: log-sum-exp, normalised
 * weights, effective sample size, systematic and multinomial resampling.
 * Log-weights may contain −∞ (zero weight); NaN or +∞ is an error, and so is
 * a vector whose weights are all zero.
 */
import type { Rng } from '../core/rng.js';
import { UserError } from '../core/errors.js';
import { normalizedWeights } from '../core/logweights.js';

export { logSumExp, normalizedWeights, effectiveSampleSize, effectiveSampleFraction } from '../core/logweights.js';

/**
 * Systematic resampling: one uniform u ~ U[0, 1), points (u + k)/N for
 * k = 0..N−1, ancestor k = the index whose cumulative-weight interval holds
 * point k. Each index i is drawn ⌊N w̄_i⌋ or ⌈N w̄_i⌉ times, and a zero weight
 * is never drawn. `count` (default N = number of weights) sets the number of
 * draws. `floor` > 0 reproduces the PITA reference's quirk: every probability
 * is raised to at least `floor` without renormalising (biased; the default 0
 * is the plain scheme), so zero weights become `floor` too.
 */
export function systematicResample(rng: Rng, logWeights: ArrayLike<number>, count = logWeights.length, floor = 0): Int32Array {
  checkCount(count);
  if (!(floor >= 0 && floor <= 1)) throw new UserError(`resampling floor must be in [0, 1], got ${floor}`);
  const w = normalizedWeights(logWeights);
  if (floor > 0) for (let i = 0; i < w.length; i++) w[i] = Math.min(1, Math.max(floor, w[i]));
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
