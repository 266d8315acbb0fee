/**
 * Effective sample size of importance weights given in log space (spec §3.8).
 * With w̄ = softmax(log w),
 *
 *   ESS = 1 / Σ_i w̄_i² = (Σ_i w_i)² / Σ_i w_i²,
 *
 * which is N for equal weights and 1 when one weight carries everything.
 * Computed with w_i = exp(log w_i − max log w), so no overflow or total
 * underflow can occur. log w = −∞ is a valid zero weight; NaN and +∞ are not.
 */
import { NonFiniteError, describeRows } from '../core/errors.js';

function maxLogWeight(logW: ArrayLike<number>): number {
  if (logW.length === 0) throw new RangeError('ESS needs at least one log-weight');
  let max = -Infinity;
  const bad: number[] = [];
  for (let i = 0; i < logW.length; i++) {
    const l = logW[i];
    if (Number.isNaN(l) || l === Infinity) bad.push(i);
    else if (l > max) max = l;
  }
  if (bad.length > 0) throw new NonFiniteError(`log-weights: ${bad.length} of ${logW.length} are NaN or +Inf (indices ${describeRows(bad)})`, bad);
  if (max === -Infinity) throw new NonFiniteError(`log-weights: all ${logW.length} are −Inf (every weight is zero)`);
  return max;
}

/** Normalised weights w̄ = softmax(log w), computed stably. */
export function normalizedWeights(logW: ArrayLike<number>): Float64Array {
  const max = maxLogWeight(logW);
  const w = new Float64Array(logW.length);
  let sum = 0;
  for (let i = 0; i < w.length; i++) sum += w[i] = Math.exp(logW[i] - max);
  for (let i = 0; i < w.length; i++) w[i] /= sum;
  return w;
}

/** ESS = 1/Σ w̄², in [1, N]. */
export function essFromLogWeights(logW: ArrayLike<number>): number {
  const max = maxLogWeight(logW);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < logW.length; i++) {
    const w = Math.exp(logW[i] - max);
    s1 += w;
    s2 += w * w;
  }
  return (s1 * s1) / s2;
}

/** ESS as a fraction of the number of weights, in [1/N, 1]. */
export function essFraction(logW: ArrayLike<number>): number {
  return essFromLogWeights(logW) / logW.length;
}
