/**
 * Divergence of unadjusted dynamics (Langevin/BAOAB, MD). Nothing rejects a
 * bad step there, so a time step beyond the stability limit heats the chains
 * exponentially: positions reach 1e100 and more while staying finite for
 * many steps, and would be written as samples. A chain whose kinetic
 * temperature exceeds HEATING_FACTOR × T has diverged. The factor is large on
 * purpose: a start far from equilibrium heats the chains legitimately while
 * its excess potential energy turns into heat (DW-4 from its random starts
 * reaches ~100 T for a few steps), but that is bounded by the excess, while
 * an unstable integrator grows geometrically and passes 10⁶ T within tens of
 * steps.
 */
import { NonFiniteError, describeRows } from '../core/errors.js';

export const HEATING_FACTOR = 1e6;

/** Throws a NonFiniteError naming the chains and the time step when a chain's kinetic temperature is not finite or above HEATING_FACTOR × T. */
export function checkHeating(kineticTemperature: Float64Array, temperature: number, timestep: number, who: string): void {
  const bad: number[] = [];
  for (let i = 0; i < kineticTemperature.length; i++) if (!(kineticTemperature[i] <= HEATING_FACTOR * temperature)) bad.push(i);
  if (bad.length === 0) return;
  const worst = Math.max(...bad.map((i) => kineticTemperature[i]));
  throw new NonFiniteError(
    `${who}: the dynamics diverged: kinetic temperature ${worst.toPrecision(3)} (> ${HEATING_FACTOR.toExponential()} × T) in ${bad.length} of ${kineticTemperature.length} chains (rows ${describeRows(bad)}); reduce the timestep (now ${timestep})`,
    bad,
  );
}
