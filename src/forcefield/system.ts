import { assertFiniteRows, UserError } from '../core/errors.js';
import type { Force } from './force.js';

/** Energy (and optionally forces) of one force over a batch. */
export interface ForceTerm {
  name: string;
  /** [n] kJ/mol. */
  energy: Float64Array;
  /** [n, 3N] kJ/mol/nm, present when forces were requested. */
  forces?: Float64Array;
}

/**
 * A potential-energy function over N particles (OpenMM-like System): particle masses
 * (amu) and a list of forces whose energies add up. Batches are row-major Float64Array
 * [n, 3N] in nm, atom-major; energies kJ/mol; forces −∇E in kJ/mol/nm, float64.
 * Inputs with NaN/Inf raise a NonFiniteError naming the rows; outputs are not checked
 * here (coincident atoms give non-finite energies, which callers must handle).
 */
export class System {
  readonly masses: Float64Array;
  readonly forces: readonly Force[];

  constructor(masses: ArrayLike<number>, forces: readonly Force[]) {
    if (masses.length === 0) throw new UserError('System: needs at least one particle');
    for (let i = 0; i < masses.length; i++) {
      const m = masses[i];
      if (!Number.isFinite(m) || m < 0) throw new UserError(`System: mass of particle ${i} must be a finite number ≥ 0, got ${m}`);
    }
    this.masses = Float64Array.from(masses);
    for (const f of forces) {
      if (f.maxParticleIndex >= masses.length) {
        throw new UserError(`System: force ${f.name} refers to particle ${f.maxParticleIndex}, but the system has ${masses.length} particles`);
      }
      if (f.particleCount !== undefined && f.particleCount !== masses.length) {
        throw new UserError(`System: force ${f.name} has parameters for ${f.particleCount} particles, but the system has ${masses.length}`);
      }
    }
    this.forces = [...forces];
  }

  get nParticles(): number {
    return this.masses.length;
  }

  /** Coordinates per configuration, 3N. */
  get dim(): number {
    return 3 * this.masses.length;
  }

  /** Names of the forces, in order. */
  get forceNames(): string[] {
    return this.forces.map((f) => f.name);
  }

  /** Total energies of n configurations: [n]. */
  energy(x: Float64Array, n?: number): Float64Array {
    const rows = this.rows(x, n);
    const dim = this.dim;
    const out = new Float64Array(rows);
    for (let c = 0; c < rows; c++) {
      let e = 0;
      for (const f of this.forces) e += f.evaluate(x, c * dim, null, 0);
      out[c] = e;
    }
    return out;
  }

  /** Total energies [n] and forces [n, 3N]. */
  energyAndForces(x: Float64Array, n?: number): { energy: Float64Array; forces: Float64Array } {
    const rows = this.rows(x, n);
    const dim = this.dim;
    const energy = new Float64Array(rows);
    const forces = new Float64Array(rows * dim);
    for (let c = 0; c < rows; c++) {
      let e = 0;
      for (const f of this.forces) e += f.evaluate(x, c * dim, forces, c * dim);
      energy[c] = e;
    }
    return { energy, forces };
  }

  /** Energy of each force separately (for debugging and validation), in force order. */
  energyByForce(x: Float64Array, n?: number): ForceTerm[] {
    return this.byForce(x, n, false);
  }

  /** Energy and forces of each force separately, in force order. */
  energyAndForcesByForce(x: Float64Array, n?: number): Required<ForceTerm>[] {
    return this.byForce(x, n, true) as Required<ForceTerm>[];
  }

  private byForce(x: Float64Array, n: number | undefined, withForces: boolean): ForceTerm[] {
    const rows = this.rows(x, n);
    const dim = this.dim;
    return this.forces.map((f) => {
      const energy = new Float64Array(rows);
      const forces = withForces ? new Float64Array(rows * dim) : null;
      for (let c = 0; c < rows; c++) energy[c] = f.evaluate(x, c * dim, forces, c * dim);
      return forces === null ? { name: f.name, energy } : { name: f.name, energy, forces };
    });
  }

  /** Number of rows of a batch, checked against the shape [n, 3N] and for finite values. */
  private rows(x: Float64Array, n?: number): number {
    if (!(x instanceof Float64Array)) throw new UserError('System: coordinates must be a Float64Array [n, 3N]');
    const dim = this.dim;
    const rows = n ?? x.length / dim;
    if (!Number.isInteger(rows) || rows < 0 || rows * dim > x.length) {
      throw new UserError(`System: batch of length ${x.length}${n === undefined ? '' : ` with n = ${n}`} is not [n, ${dim}] (${this.nParticles} particles × 3)`);
    }
    assertFiniteRows('System: coordinates', x, rows, dim);
    return rows;
  }
}
