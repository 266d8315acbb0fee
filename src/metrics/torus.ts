/**
 * Torus W2 ("T-W2", docs/targets-and-metrics.md §3.5): the 2-Wasserstein distance between two sets
 * of angle vectors on the flat torus [−π, π)^d, by exact optimal transport.
 *
 *   wrapped(Δ) = min(|Δ| mod 2π, 2π − (|Δ| mod 2π))        (per dimension)
 *   C[i, j]    = Σ_d wrapped(a_id − b_jd)²
 *   T-W2       = sqrt( min_σ (1/m) Σ_i C[i, σ(i)] )
 *
 * With uniform weights and equal sizes m, emd2 is this assignment problem
 * (solved exactly by `otFromCostMatrix` in ot.ts). Angles need not be wrapped
 * beforehand: shifting any coordinate by a multiple of 2π changes nothing.
 */
import { Rng } from '../core/rng.js';
import { UserError } from '../core/errors.js';
import { otFromCostMatrix } from './ot.js';
import { checkRows } from './linalg.js';

const TWO_PI = 2 * Math.PI;

/** How two sets are brought to one size m for exact OT. */
export interface EqualSizeOptions {
  /**
   * Largest m (default 2000): the assignment costs O(m³) time and 8m² bytes
   * (2000 → 32 MB, about a second for random angles). Sets are compared at
   * m = min(nA, nB, maxPoints): a set larger than m is replaced by m of its
   * rows drawn without replacement, so the result is then a random estimate,
   * reproducible through `seed`.
   */
  maxPoints?: number;
  /** Seed of the subsampling stream (default 0); unused when no set is subsampled. */
  seed?: number;
}

/**
 * Row indices of the two sets for an equal-size comparison (see
 * EqualSizeOptions): 0…m−1 for a set of exactly m rows, otherwise the first m
 * entries of a seeded random permutation (the first set's permutation is drawn
 * before the second's).
 */
export function equalSizeSubsample(nA: number, nB: number, opts: EqualSizeOptions = {}): { a: Int32Array; b: Int32Array } {
  const { maxPoints = 2000, seed = 0 } = opts;
  if (!Number.isInteger(maxPoints) || maxPoints < 1) throw new UserError(`maxPoints must be a positive integer, got ${maxPoints}`);
  if (!Number.isInteger(nA) || !Number.isInteger(nB) || nA < 1 || nB < 1) {
    throw new UserError(`equal-size OT needs at least one sample in each set, got ${nA} and ${nB}`);
  }
  const m = Math.min(nA, nB, maxPoints);
  const rng = new Rng(seed);
  const pick = (n: number): Int32Array => (n === m ? Int32Array.from({ length: m }, (_, i) => i) : rng.permutation(n).slice(0, m));
  const a = pick(nA);
  const b = pick(nB);
  return { a, b };
}

/** min(|Δ| mod 2π, 2π − |Δ| mod 2π): the distance between two angles on the circle, in [0, π]. */
export function wrappedAngleDistance(alpha: number, beta: number): number {
  const d = Math.abs(alpha - beta) % TWO_PI;
  return Math.min(d, TWO_PI - d);
}

/** C[i, j] = Σ_d wrapped(a[ia[i], d] − b[ib[j], d])² for the selected rows; [m, m] with m = ia.length = ib.length. */
export function torusCostMatrix(a: Float64Array, b: Float64Array, dim: number, ia: Int32Array, ib: Int32Array): Float64Array {
  const m = ia.length;
  if (ib.length !== m) throw new UserError(`torusCostMatrix: row selections differ in size (${m} and ${ib.length})`);
  const c = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    const oi = ia[i] * dim;
    for (let j = 0; j < m; j++) {
      const oj = ib[j] * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const w = wrappedAngleDistance(a[oi + d], b[oj + d]);
        s += w * w;
      }
      c[i * m + j] = s;
    }
  }
  return c;
}

/**
 * T-W2 between angle sets a [nA, dim] and b [nB, dim] (radians), compared at
 * equal size m = min(nA, nB, maxPoints) as described in EqualSizeOptions.
 */
export function torusW2(a: Float64Array, nA: number, b: Float64Array, nB: number, dim: number, opts: EqualSizeOptions = {}): number {
  checkRows('torusW2 first set', a, nA, dim);
  checkRows('torusW2 second set', b, nB, dim);
  const { a: ia, b: ib } = equalSizeSubsample(nA, nB, opts);
  return Math.sqrt(otFromCostMatrix(torusCostMatrix(a, b, dim, ia, ib), ia.length).cost);
}
