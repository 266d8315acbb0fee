import type { Rng } from '../core/rng.js';
import { UserError } from '../core/errors.js';
import { BaseTarget, checkTemperature } from './target.js';
import { registerTarget, type TargetOptions } from './registry.js';

/** Default covariance of `gaussian2d`: unit variances, correlation 0.8 (eigenvalues 1.8 and 0.2). */
export const GAUSSIAN2D_COVARIANCE: readonly (readonly number[])[] = [
  [1, 0.8],
  [0.8, 1],
];

/**
 * A correlated Gaussian test target in `dim` dimensions (one "particle"):
 *   E(x) = ½ (x − μ)ᵀ Σ⁻¹ (x − μ),   F(x) = −Σ⁻¹ (x − μ),
 * so p_T ∝ exp(−E/T) = N(μ, T·Σ) (k_B = 1): the covariance scales with T.
 * Samplers are checked against these analytic moments.
 */
export class GaussianTarget extends BaseTarget {
  readonly name: string;
  readonly dim: number;
  readonly nParticles = 1;
  readonly spatialDim: number;
  readonly translationInvariant = false;
  /** One mode: MALA mixes (see Target.defaultSampler). */
  readonly defaultSampler = 'mala';
  /**
   * Langevin's default Δt: 0.25/√tr(Σ⁻¹) (unit masses), at most a quarter of
   * the fastest mode's period/2π, since tr(Σ⁻¹) ≥ its largest eigenvalue.
   * BAOAB samples a Gaussian's positions exactly at any stable Δt, so only
   * the mixing depends on it: 0.106 for gaussian2d, 21× the generic 0.005.
   */
  readonly defaultTimestep: number;
  /** μ [dim]. */
  readonly mean: Float64Array;
  /** Σ, row-major [dim, dim]. */
  readonly covariance: Float64Array;
  /** Σ⁻¹, row-major [dim, dim]. */
  readonly precision: Float64Array;
  /** Lower Cholesky factor of Σ, row-major [dim, dim]. */
  private readonly cholesky: Float64Array;

  /** `covariance`: a symmetric positive-definite matrix as rows; `mean` defaults to 0. */
  constructor(covariance: readonly (readonly number[])[], mean?: readonly number[], name = 'gaussian') {
    super();
    const d = covariance.length;
    if (d < 1) throw new UserError(`${name}: covariance must be a non-empty square matrix`);
    const cov = new Float64Array(d * d);
    covariance.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== d) {
        throw new UserError(`${name}: covariance row ${i} has ${Array.isArray(row) ? row.length : 'no'} entries; expected ${d} (square matrix)`);
      }
      row.forEach((v, j) => {
        if (!Number.isFinite(v)) throw new UserError(`${name}: covariance[${i}][${j}] is ${v}, not a finite number`);
        cov[i * d + j] = v;
      });
    });
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < i; j++) {
        if (cov[i * d + j] !== cov[j * d + i]) {
          throw new UserError(`${name}: covariance is not symmetric: [${i}][${j}] = ${cov[i * d + j]} but [${j}][${i}] = ${cov[j * d + i]}`);
        }
      }
    }
    const mu = new Float64Array(d);
    if (mean !== undefined) {
      if (mean.length !== d) throw new UserError(`${name}: mean has ${mean.length} entries; expected ${d}`);
      mean.forEach((v, i) => {
        if (!Number.isFinite(v)) throw new UserError(`${name}: mean[${i}] is ${v}, not a finite number`);
        mu[i] = v;
      });
    }
    this.name = name;
    this.dim = d;
    this.spatialDim = d;
    this.mean = mu;
    this.covariance = cov;
    this.cholesky = choleskyFactor(cov, d, name);
    this.precision = inverseFromCholesky(this.cholesky, d);
    let trace = 0;
    for (let i = 0; i < d; i++) trace += this.precision[i * d + i];
    this.defaultTimestep = 0.25 / Math.sqrt(trace);
  }

  protected evalOne(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    const d = this.dim;
    let e = 0;
    for (let i = 0; i < d; i++) {
      let g = 0; // (Σ⁻¹(x − μ))_i
      for (let j = 0; j < d; j++) g += this.precision[i * d + j] * (x[off + j] - this.mean[j]);
      e += 0.5 * (x[off + i] - this.mean[i]) * g;
      if (forces) forces[fOff + i] = -g;
    }
    return e;
  }

  /** Exact draws of N(μ, T·Σ): μ + √T·C·z with C the Cholesky factor. */
  sampleExact(rng: Rng, n: number, temperature: number): Float64Array {
    checkCount(this.name, n);
    const s = Math.sqrt(checkTemperature(temperature) * this.kB);
    const d = this.dim;
    const out = new Float64Array(n * d);
    const z = new Float64Array(d);
    for (let k = 0; k < n; k++) {
      rng.normals(d, z);
      for (let i = 0; i < d; i++) {
        let v = 0;
        for (let j = 0; j <= i; j++) v += this.cholesky[i * d + j] * z[j];
        out[k * d + i] = this.mean[i] + s * v;
      }
    }
    return out;
  }

  /** Over-dispersed starting points: uniform on μ ± 3·√Σ_ii per coordinate (not equilibrium samples). */
  initialConfigurations(rng: Rng, n: number): Float64Array {
    checkCount(this.name, n);
    const d = this.dim;
    const out = new Float64Array(n * d);
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < d; i++) out[k * d + i] = this.mean[i] + 3 * Math.sqrt(this.covariance[i * d + i]) * (2 * rng.uniform() - 1);
    }
    return out;
  }
}

function checkCount(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new UserError(`${name}: number of samples must be a non-negative integer, got ${n}`);
}

/** Lower Cholesky factor L (Σ = L Lᵀ); throws a UserError if Σ is not positive definite. */
function choleskyFactor(a: Float64Array, d: number, name: string): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j];
      for (let k = 0; k < j; k++) s -= l[i * d + k] * l[j * d + k];
      if (i === j) {
        if (!(s > 0)) throw new UserError(`${name}: covariance is not positive definite (pivot ${i} is ${s})`);
        l[i * d + i] = Math.sqrt(s);
      } else {
        l[i * d + j] = s / l[j * d + j];
      }
    }
  }
  return l;
}

/** Σ⁻¹ = L⁻ᵀ L⁻¹ from the lower Cholesky factor. */
function inverseFromCholesky(l: Float64Array, d: number): Float64Array {
  const linv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    linv[i * d + i] = 1 / l[i * d + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= l[i * d + k] * linv[k * d + j];
      linv[i * d + j] = s / l[i * d + i];
    }
  }
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = Math.max(i, j); k < d; k++) s += linv[k * d + i] * linv[k * d + j];
      inv[i * d + j] = s;
    }
  }
  return inv;
}

/** Factory for the registry: options `covariance` (rows of a 2×2 SPD matrix) and `mean` (2 numbers). */
function createGaussian2d(opts: TargetOptions): GaussianTarget {
  for (const key of Object.keys(opts)) {
    if (key !== 'covariance' && key !== 'mean') throw new UserError(`gaussian2d: unknown option '${key}'; valid options: covariance, mean`);
  }
  const cov = opts.covariance ?? GAUSSIAN2D_COVARIANCE;
  const mean = opts.mean;
  if (!Array.isArray(cov) || cov.length !== 2) throw new UserError(`gaussian2d: covariance must be a 2×2 matrix given as two rows, got ${JSON.stringify(cov)}`);
  if (mean !== undefined && !(Array.isArray(mean) && mean.length === 2)) {
    throw new UserError(`gaussian2d: mean must be an array of 2 numbers, got ${JSON.stringify(mean)}`);
  }
  return new GaussianTarget(cov as number[][], mean as number[] | undefined, 'gaussian2d');
}

registerTarget('gaussian2d', createGaussian2d);
