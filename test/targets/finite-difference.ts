import type { Target } from '../../src/targets/target.js';

/**
 * Largest deviation of the analytic forces of one configuration from central
 * finite differences of the energy, F_fd,i = −(E(x + h e_i) − E(x − h e_i))/(2h),
 * in the ∞-norm relative to max(‖F‖∞, 1):
 *   err = max_i |F_i − F_fd,i| / max(max_i |F_i|, 1).
 * Float64 throughout; with h = 1e-5 the truncation error is O(h²·|E'''|) and
 * the round-off O(1e-16·|E|/h), both far below 1e-6 for these targets.
 */
export function forceFdError(target: Target, x: Float64Array, h = 1e-5): number {
  const dim = target.dim;
  const { forces } = target.energyAndForces(x, 1);
  const shifted = new Float64Array(2 * dim * dim);
  for (let i = 0; i < dim; i++) {
    shifted.set(x.subarray(0, dim), 2 * i * dim);
    shifted.set(x.subarray(0, dim), (2 * i + 1) * dim);
    shifted[2 * i * dim + i] += h;
    shifted[(2 * i + 1) * dim + i] -= h;
  }
  const e = target.energy(shifted, 2 * dim);
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < dim; i++) {
    const fd = -(e[2 * i] - e[2 * i + 1]) / (2 * h);
    worst = Math.max(worst, Math.abs(forces[i] - fd));
    scale = Math.max(scale, Math.abs(forces[i]));
  }
  return worst / scale;
}
