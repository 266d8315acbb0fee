/**
 * Divergence of unadjusted dynamics (Langevin/BAOAB, MD). Nothing rejects a
 * bad step there, so a time step beyond the stability limit heats the chains
 * exponentially: positions reach 1e100 and more while staying finite for
 * many steps, and would be written as samples. A chain whose kinetic
 * temperature exceeds HEATING_FACTOR × T has diverged: at equilibrium the
 * kinetic temperature of a chain with d ≥ 1 degrees of freedom is T·χ²_d/d,
 * and P(χ²_1 > 100) ≈ 1.5e-23, so a healthy run never trips this.
 */
import { NonFiniteError, describeRows } from '../core/errors.js';

export const HEATING_FACTOR = 100;

/** Throws a NonFiniteError naming the chains and the time step when a chain's kinetic temperature is not finite or above HEATING_FACTOR × T. */
export function checkHeating(kineticTemperature: Float64Array, temperature: number, timestep: number, who: string): void {
  const bad: number[] = [];
  for (let i = 0; i < kineticTemperature.length; i++) if (!(kineticTemperature[i] <= HEATING_FACTOR * temperature)) bad.push(i);
  if (bad.length === 0) return;
  const worst = Math.max(...bad.map((i) => kineticTemperature[i]));
  throw new NonFiniteError(
    `${who}: the dynamics diverged: kinetic temperature ${worst.toPrecision(3)} (> ${HEATING_FACTOR} × T = ${HEATING_FACTOR * temperature}) in ${bad.length} of ${kineticTemperature.length} chains (rows ${describeRows(bad)}); reduce the timestep (now ${timestep})`,
    bad,
  );
}
