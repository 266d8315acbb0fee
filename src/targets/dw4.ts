import type { Rng } from '../core/rng.js';
import { UserError } from '../core/errors.js';
import { removeCentroid } from '../core/particles.js';
import { BaseTarget } from './target.js';

/** Parameters of the multi-particle double-well potential. */
export interface DoubleWellParams {
  /** Linear coefficient (Köhler et al.'s a). */
  a: number;
  /** Quadratic coefficient (b). */
  b: number;
  /** Quartic coefficient (c). */
  c: number;
  /** Distance offset d0. */
  d0: number;
  /** Temperature-like divisor τ > 0 of the energy. */
  tau: number;
}

/** DW-4 defaults (Köhler, Klein & Noé 2020; iDEM/PITA DW4): a = 0, b = −4, c = 0.9, d0 = 4, τ = 1. */
export const DW4_DEFAULTS: Readonly<DoubleWellParams> = { a: 0, b: -4, c: 0.9, d0: 4, tau: 1 };

/** Standard deviation of the Gaussian that starting configurations are drawn from. */
export const DW4_INIT_STD = 2;

/**
 * Four particles in 2-D with a pairwise double-well potential (DW-4):
 *   E(x) = (1/τ) Σ_{i<j} [a(d_ij − d0) + b(d_ij − d0)² + c(d_ij − d0)⁴],  d_ij = |x_i − x_j|
 * (plain distances, no regulariser). This is Köhler et al. 2020's
 * (1/(2τ)) Σ_{i,j} over ordered pairs, and equals iDEM's/PITA's
 * `MultiDoubleWellPotential` (a·(d−offset)⁴ + b·(d−offset)² + c summed over
 * i<j with their a = 0.9, b = −4, c = 0, offset = 4 — their a is our c) and
 * bgflow's original (ordered-pair sum / 2, divided by the temperature τ).
 * There is no factor ½ on the unordered-pair sum.
 *
 * With the defaults each pair has minima at d = 4 ± √(−b/(2c)) = 4 ± 1.4907.
 * The energy is translation- and rotation-invariant; samplers hold the
 * centroid fixed. A pair at exactly zero distance contributes no force (its
 * direction is undefined).
 */
export class DoubleWellTarget extends BaseTarget {
  readonly name: string;
  readonly dim: number;
  readonly nParticles: number;
  readonly spatialDim: number;
  readonly translationInvariant = true;
  readonly params: Readonly<DoubleWellParams>;

  constructor(params: DoubleWellParams, nParticles = 4, spatialDim = 2, name = 'dw4') {
    super();
    for (const key of ['a', 'b', 'c', 'd0', 'tau'] as const) {
      if (!Number.isFinite(params[key])) throw new UserError(`${name}: option ${key} must be a finite number, got ${params[key]}`);
    }
    if (!(params.tau > 0)) throw new UserError(`${name}: option tau must be positive, got ${params.tau}`);
    if (!Number.isInteger(nParticles) || nParticles < 2) {
      throw new UserError(`${name}: nParticles must be an integer ≥ 2, got ${nParticles}`);
    }
    if (!Number.isInteger(spatialDim) || spatialDim < 1) {
      throw new UserError(`${name}: spatialDim must be a positive integer, got ${spatialDim}`);
    }
    this.name = name;
    this.nParticles = nParticles;
    this.spatialDim = spatialDim;
    this.dim = nParticles * spatialDim;
    this.params = Object.freeze({ ...params });
  }

  protected evalOne(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    const { a, b, c, d0, tau } = this.params;
    const n = this.nParticles;
    const sd = this.spatialDim;
    const invTau = 1 / tau;
    if (forces) forces.fill(0, fOff, fOff + this.dim);
    let e = 0;
    for (let i = 0; i < n; i++) {
      const pi = off + i * sd;
      for (let j = i + 1; j < n; j++) {
        const pj = off + j * sd;
        let r2 = 0;
        for (let k = 0; k < sd; k++) {
          const dx = x[pi + k] - x[pj + k];
          r2 += dx * dx;
        }
        const d = Math.sqrt(r2);
        const u = d - d0;
        const u2 = u * u;
        e += a * u + b * u2 + c * u2 * u2;
        if (forces && d > 0) {
          // F_i = −dE/dd · (x_i − x_j)/d, and F_j = −F_i.
          const g = (-(a + 2 * b * u + 4 * c * u2 * u) * invTau) / d;
          for (let k = 0; k < sd; k++) {
            const fk = g * (x[pi + k] - x[pj + k]);
            forces[fOff + i * sd + k] += fk;
            forces[fOff + j * sd + k] -= fk;
          }
        }
      }
    }
    return e * invTau;
  }

  /** Mean-free draws of N(0, DW4_INIT_STD²·I): pair distances (mean ≈ 3.5) then straddle both wells. */
  initialConfigurations(rng: Rng, n: number): Float64Array {
    if (!Number.isInteger(n) || n < 0) throw new UserError(`${this.name}: number of configurations must be a non-negative integer, got ${n}`);
    const x = rng.normals(n * this.dim);
    for (let i = 0; i < x.length; i++) x[i] *= DW4_INIT_STD;
    return removeCentroid(x, n, this.nParticles, this.spatialDim);
  }
}
