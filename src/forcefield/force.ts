import { UserError } from '../core/errors.js';

/**
 * One term of a potential-energy function over N particles in 3-D.
 * Coordinates are nm, energies kJ/mol, forces kJ/mol/nm.
 */
export interface Force {
  /** Name of the force (OpenMM's Force name, by default its class name, e.g. 'HarmonicBondForce'). */
  readonly name: string;
  /** Largest particle index the force refers to, or −1 when it refers to none. */
  readonly maxParticleIndex: number;
  /** For forces with parameters for every particle (nonbonded, GB): how many; must equal the System's. */
  readonly particleCount?: number;
  /**
   * Energy of the configuration x[off .. off + 3N), atom-major (x0, y0, z0, x1, …).
   * When `forces` is given, adds −∇E into forces[fOff .. fOff + 3N).
   */
  evaluate(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number;
}

/** Throws unless `i` is a non-negative integer particle index. */
export function checkIndex(what: string, i: number): number {
  if (!Number.isInteger(i) || i < 0) throw new UserError(`${what}: particle index must be a non-negative integer, got ${i}`);
  return i;
}

/** Throws unless `v` is a finite number. */
export function checkFinite(what: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${what} must be a finite number, got ${v}`);
  return v;
}

/** Throws unless `v` is a finite number ≥ 0. */
export function checkNonNegative(what: string, v: number): number {
  checkFinite(what, v);
  if (v < 0) throw new UserError(`${what} must be ≥ 0, got ${v}`);
  return v;
}

/** Throws unless `v` is a finite number > 0 (value first, like samplers/state.ts checkPositive). */
export function checkPositive(v: number, what: string): number {
  checkFinite(what, v);
  if (v <= 0) throw new UserError(`${what} must be > 0, got ${v}`);
  return v;
}

/** Throws when the particle indices of one term are not all distinct. */
export function checkDistinct(what: string, indices: readonly number[]): void {
  if (new Set(indices).size !== indices.length) throw new UserError(`${what}: particles must be distinct, got [${indices.join(', ')}]`);
}
