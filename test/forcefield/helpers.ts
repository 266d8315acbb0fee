import { existsSync, readFileSync } from 'node:fs';
import type { Force } from '../../src/forcefield/force.js';

/** Reference data folder shared by the project (tests only); absent in some checkouts. */
export const SHARED_DATA = '../shared/data';

/** Skip reason when a shared-data file is missing, or false when it is there. */
export function skipUnless(path: string): string | false {
  return existsSync(path) ? false : `${path} not found (reference data absent)`;
}

/** One frame of ../shared/data/<mol>/openmm_reference.json. */
export interface ReferenceFrame {
  id: number;
  set: string;
  positions: number[][];
  energy_total: number;
  energy_by_force: Record<string, number>;
  forces: number[][];
  forces_by_force: Record<string, number[][]>;
}

export function loadReference(path: string): { frames: ReferenceFrame[]; n_atoms: number } {
  return JSON.parse(readFileSync(path, 'utf8')) as { frames: ReferenceFrame[]; n_atoms: number };
}

/** Positions of the frames as one row-major batch [n, 3N]. */
export function framesToBatch(frames: readonly { positions: number[][] }[]): Float64Array {
  return Float64Array.from(frames.flatMap((f) => f.positions.flat()));
}

/**
 * Central finite-difference check of one force at one configuration:
 * F_k ≈ −(E(x + h e_k) − E(x − h e_k))/(2h). Returns the largest absolute deviation
 * from the analytic force and the largest analytic force component.
 */
export function finiteDifferenceError(force: Force, x: Float64Array, h: number): { maxError: number; maxForce: number } {
  const analytic = new Float64Array(x.length);
  force.evaluate(x, 0, analytic, 0);
  const y = Float64Array.from(x);
  let maxError = 0;
  let maxForce = 0;
  for (let k = 0; k < x.length; k++) {
    y[k] = x[k] + h;
    const ep = force.evaluate(y, 0, null, 0);
    y[k] = x[k] - h;
    const em = force.evaluate(y, 0, null, 0);
    y[k] = x[k];
    const fd = -(ep - em) / (2 * h);
    maxError = Math.max(maxError, Math.abs(fd - analytic[k]));
    maxForce = Math.max(maxForce, Math.abs(analytic[k]));
  }
  return { maxError, maxForce };
}
