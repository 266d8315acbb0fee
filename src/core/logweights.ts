/**
 * Arithmetic on importance weights kept in log space (SMC, reweighting, ESS).
 * log w = −∞ is a valid zero weight; NaN or +∞ is an error (NonFiniteError
 * naming the entries), and so is a vector whose weights are all zero.
 *
 * With w̄ = softmax(log w), the effective sample size is
 *   ESS = 1 / Σ_i w̄_i² = (Σ_i w_i)² / Σ_i w_i²,
 * N for equal weights and 1 when one weight carries everything. Everything is
 * computed with w_i = exp(log w_i − max log w), so nothing overflows.
 */
import { NonFiniteError, describeRows } from './errors.js';

/** Max m and Σ_i exp(a_i − m) (m = −∞ for an empty or all −∞ input). NaN or +∞ entries throw. */
function shiftedSum(a: ArrayLike<number>, what: string): { m: number; s: number } {
  let m = -Infinity;
  const bad: number[] = [];
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) || a[i] === Infinity) bad.push(i);
    else if (a[i] > m) m = a[i];
  }
  if (bad.length > 0) throw new NonFiniteError(`${what}: ${bad.length} of ${a.length} log-weights are NaN or +Inf (indices ${describeRows(bad)})`, bad);
  let s = 0;
  if (m !== -Infinity) for (let i = 0; i < a.length; i++) s += Math.exp(a[i] - m);
  return { m, s };
}

/** Like shiftedSum, but at least one weight must be positive. */
function positiveShiftedSum(a: ArrayLike<number>, what: string): { m: number; s: number } {
  if (a.length === 0) throw new RangeError(`${what} needs at least one log-weight`);
  const r = shiftedSum(a, what);
  if (r.m === -Infinity) throw new NonFiniteError(`${what}: all ${a.length} log-weights are −Inf (every weight is zero)`);
  return r;
}

/** log Σ_i exp(a_i), shifted by the maximum so large values do not overflow. −∞ for an empty or all −∞ input. */
export function logSumExp(a: ArrayLike<number>): number {
  const { m, s } = shiftedSum(a, 'logSumExp');
  return m === -Infinity ? -Infinity : m + Math.log(s);
}

/** w̄_i = exp(a_i − m) / Σ_j exp(a_j − m), m = max a (dividing by the shifted sum avoids the rounding of m + log s). */
export function normalizedWeights(logWeights: ArrayLike<number>): Float64Array {
  const { m, s } = positiveShiftedSum(logWeights, 'normalizedWeights');
  const w = new Float64Array(logWeights.length);
  for (let i = 0; i < w.length; i++) w[i] = Math.exp(logWeights[i] - m) / s;
  return w;
}

/** ESS = (Σw)²/Σw², between 1 and N. */
export function effectiveSampleSize(logWeights: ArrayLike<number>): number {
  const { m, s } = positiveShiftedSum(logWeights, 'effectiveSampleSize');
  let s2 = 0;
  for (let i = 0; i < logWeights.length; i++) s2 += Math.exp(2 * (logWeights[i] - m));
  return (s * s) / s2;
}

/** ESS as a fraction of N, in [1/N, 1]. */
export function effectiveSampleFraction(logWeights: ArrayLike<number>): number {
  return effectiveSampleSize(logWeights) / logWeights.length;
}
