/**
 * Exact Wasserstein distances between two 1-D empirical distributions with
 * uniform weights, a = {a_1..a_n} and b = {b_1..b_m}, n ≠ m allowed.
 *
 * With F⁻¹ and G⁻¹ the (left-continuous, piecewise-constant) quantile
 * functions of a and b,
 *
 *   W_p^p(a, b) = ∫_0^1 |F⁻¹(u) − G⁻¹(u)|^p du.
 *
 * F⁻¹ is constant on ((i−1)/n, i/n] with value a_(i) (i-th smallest), so the
 * integrand is constant between consecutive merged breakpoints {i/n} ∪ {j/m}.
 * The breakpoints are compared as integers i·m vs j·n on the common grid
 * 1/(n·m), so the integral is a finite sum with exact interval lengths. This
 * is the optimal-transport cost (POT's `emd2_1d` with uniform weights).
 */
import { NonFiniteError } from '../core/errors.js';

function sortedCopy(x: ArrayLike<number>, what: string): Float64Array {
  if (x.length === 0) throw new RangeError(`${what} is empty; a 1-D Wasserstein distance needs at least one value`);
  const s = Float64Array.from(x);
  for (let i = 0; i < s.length; i++) {
    if (!Number.isFinite(s[i])) throw new NonFiniteError(`${what}[${i}] is ${s[i]}; Wasserstein distances need finite values`, [i]);
  }
  return s.sort();
}

/** W_p^p between the empirical distributions of `a` and `b` (p ≥ 1), exact. */
export function wassersteinPower1d(a: ArrayLike<number>, b: ArrayLike<number>, p: number): number {
  if (!(p >= 1 && Number.isFinite(p))) throw new RangeError(`Wasserstein order p must be a finite number ≥ 1, got ${p}`);
  const x = sortedCopy(a, 'first sample');
  const y = sortedCopy(b, 'second sample');
  const n = x.length;
  const m = y.length;
  if (n * m > Number.MAX_SAFE_INTEGER) throw new RangeError(`sample sizes ${n} × ${m} are too large for exact breakpoints`);
  let i = 0;
  let j = 0;
  let u = 0; // current breakpoint on the integer grid of step 1/(n·m)
  let sum = 0;
  while (i < n && j < m) {
    const endA = (i + 1) * m;
    const endB = (j + 1) * n;
    const end = Math.min(endA, endB);
    const d = Math.abs(x[i] - y[j]);
    sum += (end - u) * (p === 1 ? d : p === 2 ? d * d : d ** p);
    u = end;
    if (endA === end) i++;
    if (endB === end) j++;
  }
  return sum / (n * m);
}

/** W1 = ∫|F⁻¹ − G⁻¹| du, exact (PITA's energy W1, reported without any root). */
export function wasserstein1d(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return wassersteinPower1d(a, b, 1);
}

/** W2 = sqrt(∫|F⁻¹ − G⁻¹|² du), exact (PITA's W2 = sqrt(emd2_1d)). */
export function wasserstein2_1d(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return Math.sqrt(wassersteinPower1d(a, b, 2));
}

/**
 * Energy W1 (docs/targets-and-metrics.md §3.1) between generated and reference values of
 * e = log p_T(x) = −U(x)/(k_B T): the caller passes reduced energies at the
 * temperature being sampled. The sign convention does not change the value.
 */
export function energyW1(generated: ArrayLike<number>, reference: ArrayLike<number>): number {
  return wasserstein1d(generated, reference);
}

/** Energy W2 (docs/targets-and-metrics.md §3.1) = sqrt(emd2_1d) of reduced energies; see `energyW1`. */
export function energyW2(generated: ArrayLike<number>, reference: ArrayLike<number>): number {
  return wasserstein2_1d(generated, reference);
}
