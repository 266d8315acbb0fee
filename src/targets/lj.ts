import type { Rng } from '../core/rng.js';
import { UserError } from '../core/errors.js';
import { removeCentroidRow } from '../core/particles.js';
import { BaseTarget } from './target.js';

/** Parameters of the Lennard-Jones cluster (PITA / bgflow `LennardJonesPotential`). */
export interface LennardJonesParams {
  nParticles: number;
  /**
   * Multiplies the ordered-pair sum. 1 (PITA's default) counts every unordered
   * pair twice; 0.5 counts each pair once (the EACF convention).
   */
  energyFactor: number;
  /** Well depth ε of one ordered-pair term. */
  epsilon: number;
  /** Position r_m of the pair minimum. */
  rm: number;
  /** Spring constant k of the harmonic centroid term (0 switches it off). */
  oscillatorScale: number;
}

export const LJ_DEFAULTS: Readonly<Omit<LennardJonesParams, 'nParticles'>> = {
  energyFactor: 1,
  epsilon: 1,
  rm: 1,
  oscillatorScale: 1,
};

/** Added to squared distances before the square root (bgflow's `distances_from_vectors`). */
export const LJ_DISTANCE_SOFTENING = 1e-6;

/** Number density (per r_m³) of the cube that starting configurations are drawn in. */
export const LJ_INIT_DENSITY = 0.5;
/** Smallest pair distance (in units of r_m) allowed in a starting configuration. */
export const LJ_INIT_MIN_DISTANCE = 0.8;

/**
 * Lennard-Jones cluster of N particles in 3-D, PITA convention
 * (docs/targets-and-metrics.md §2.4):
 *   U(x) = f · Σ_{i≠j} ε [(r_m/d_ij)^12 − 2 (r_m/d_ij)^6] + (k/2) Σ_i |x_i − x̄|²,
 *   d_ij = sqrt(|x_i − x_j|² + 1e−6),  x̄ = unweighted centroid,
 * with f = energyFactor, k = oscillatorScale. The sum runs over ordered
 * pairs, so with f = 1 each unordered pair counts twice (pair well depth 2ε
 * at d = r_m); f = 0.5 counts each pair once. Forces are analytic; the
 * oscillator force is −k(x_i − x̄) because Σ_i (x_i − x̄) = 0.
 *
 * Each unordered pair is computed once and doubled; the loops run over the
 * flat Float64Array without allocating.
 */
export class LennardJonesTarget extends BaseTarget {
  readonly name: string;
  readonly dim: number;
  readonly nParticles: number;
  readonly spatialDim = 3;
  readonly translationInvariant = true;
  /**
   * PT's default ladder T … 2T (Target.defaultTMaxFactor): on LJ-13 at T = 1
   * with 8 replicas and the default n = 2000, a ladder to 10 left the warm-up
   * at its cap (R̂ 1.06) and τ beyond the thin's cap; to 2 it passes (3159
   * round trips; README, "Sampler defaults, measured").
   */
  readonly defaultTMaxFactor = 2;
  readonly params: Readonly<LennardJonesParams>;
  /** 2·f·ε: the prefactor of one unordered pair's (s¹² − 2s⁶). */
  private readonly pairScale: number;
  private readonly rm2: number;

  constructor(params: LennardJonesParams, name = `lj${params.nParticles}`) {
    super();
    if (!Number.isInteger(params.nParticles) || params.nParticles < 2) {
      throw new UserError(`${name}: nParticles must be an integer ≥ 2, got ${params.nParticles}`);
    }
    for (const key of ['energyFactor', 'epsilon', 'rm'] as const) {
      if (!(Number.isFinite(params[key]) && params[key] > 0)) {
        throw new UserError(`${name}: option ${key} must be a positive number, got ${params[key]}`);
      }
    }
    if (!(Number.isFinite(params.oscillatorScale) && params.oscillatorScale >= 0)) {
      throw new UserError(`${name}: option oscillatorScale must be a non-negative number, got ${params.oscillatorScale}`);
    }
    this.name = name;
    this.nParticles = params.nParticles;
    this.dim = 3 * params.nParticles;
    this.params = Object.freeze({ ...params });
    this.pairScale = 2 * params.energyFactor * params.epsilon;
    this.rm2 = params.rm * params.rm;
  }

  protected evalOne(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    const n = this.nParticles;
    const k = this.params.oscillatorScale;
    let cx = 0;
    let cy = 0;
    let cz = 0;
    for (let p = off, end = off + 3 * n; p < end; p += 3) {
      cx += x[p];
      cy += x[p + 1];
      cz += x[p + 2];
    }
    cx /= n;
    cy /= n;
    cz /= n;
    let osc = 0;
    for (let i = 0; i < n; i++) {
      const p = off + 3 * i;
      const dx = x[p] - cx;
      const dy = x[p + 1] - cy;
      const dz = x[p + 2] - cz;
      osc += dx * dx + dy * dy + dz * dz;
      if (forces) {
        const q = fOff + 3 * i;
        forces[q] = -k * dx;
        forces[q + 1] = -k * dy;
        forces[q + 2] = -k * dz;
      }
    }
    const rm2 = this.rm2;
    // Σ_{i<j} (s¹² − 2s⁶), s = r_m/d; the force prefactor is accumulated with 12·pairScale.
    let lj = 0;
    const g12 = 12 * this.pairScale;
    for (let i = 0; i < n - 1; i++) {
      const pi = off + 3 * i;
      const xi = x[pi];
      const yi = x[pi + 1];
      const zi = x[pi + 2];
      let fxi = 0;
      let fyi = 0;
      let fzi = 0;
      for (let j = i + 1; j < n; j++) {
        const pj = off + 3 * j;
        const dx = xi - x[pj];
        const dy = yi - x[pj + 1];
        const dz = zi - x[pj + 2];
        const inv = 1 / (dx * dx + dy * dy + dz * dz + LJ_DISTANCE_SOFTENING);
        const s2 = rm2 * inv;
        const s6 = s2 * s2 * s2;
        const s12 = s6 * s6;
        lj += s12 - 2 * s6;
        if (forces) {
          // F_i = pairScale·12(s¹² − s⁶)/d² · (x_i − x_j); F_j = −F_i.
          const g = g12 * (s12 - s6) * inv;
          const fx = g * dx;
          const fy = g * dy;
          const fz = g * dz;
          fxi += fx;
          fyi += fy;
          fzi += fz;
          const q = fOff + 3 * j;
          forces[q] -= fx;
          forces[q + 1] -= fy;
          forces[q + 2] -= fz;
        }
      }
      if (forces) {
        const q = fOff + 3 * i;
        forces[q] += fxi;
        forces[q + 1] += fyi;
        forces[q + 2] += fzi;
      }
    }
    return this.pairScale * lj + 0.5 * k * osc;
  }

  /**
   * Random non-overlapping starting configurations: particles are placed one
   * by one uniformly in a cube of side r_m·(N/LJ_INIT_DENSITY)^(1/3) (number
   * density 0.5 per r_m³), a candidate closer than LJ_INIT_MIN_DISTANCE·r_m to
   * an earlier particle is redrawn, and the result is made mean-free. At this
   * density the hard-sphere packing fraction is ≈ 0.13, far below jamming, so
   * placement succeeds quickly; a configuration that needs more than 10 000
   * draws for one particle is restarted.
   */
  initialConfigurations(rng: Rng, n: number): Float64Array {
    if (!Number.isInteger(n) || n < 0) throw new UserError(`${this.name}: number of configurations must be a non-negative integer, got ${n}`);
    const N = this.nParticles;
    const { rm } = this.params;
    const side = rm * Math.cbrt(N / LJ_INIT_DENSITY);
    const minD2 = (LJ_INIT_MIN_DISTANCE * rm) ** 2;
    const out = new Float64Array(n * this.dim);
    for (let c = 0; c < n; c++) {
      const off = c * this.dim;
      let placed = 0;
      let tries = 0;
      while (placed < N) {
        if (++tries > 10_000) {
          placed = 0;
          tries = 0;
          continue;
        }
        const p = off + 3 * placed;
        out[p] = side * rng.uniform();
        out[p + 1] = side * rng.uniform();
        out[p + 2] = side * rng.uniform();
        let ok = true;
        for (let q = off; q < p && ok; q += 3) {
          const dx = out[p] - out[q];
          const dy = out[p + 1] - out[q + 1];
          const dz = out[p + 2] - out[q + 2];
          ok = dx * dx + dy * dy + dz * dz >= minD2;
        }
        if (ok) {
          placed++;
          tries = 0;
        }
      }
      removeCentroidRow(out, off, N, 3);
    }
    return out;
  }
}
