import { UserError } from '../core/errors.js';
import { ONE_4PI_EPS0 } from './constants.js';
import { checkDistinct, checkFinite, checkIndex, checkNonNegative, checkPositive, type Force } from './force.js';

/** Per-particle nonbonded parameters. */
export interface NonbondedParticle {
  /** Charge (e). */
  charge: number;
  /** LJ σ (nm). */
  sigma: number;
  /** LJ ε (kJ/mol). */
  epsilon: number;
}

/**
 * A pair whose interaction replaces the mixed one: E = k_e·chargeProd/r + 4ε((σ/r)¹² − (σ/r)⁶),
 * always without cutoff or reaction field. chargeProd = ε = 0 is an exclusion.
 */
export interface NonbondedException {
  p1: number;
  p2: number;
  /** q1·q2 scaled (e²). */
  chargeProd: number;
  sigma: number;
  epsilon: number;
}

/** OpenMM's nonbonded methods that this engine supports. */
export type NonbondedMethod = 'NoCutoff' | 'CutoffNonPeriodic';

export interface NonbondedOptions {
  method: NonbondedMethod;
  /** Cutoff r_c (nm); required for CutoffNonPeriodic. */
  cutoff?: number;
  /** Reaction-field dielectric ε_rf (CutoffNonPeriodic only); OpenMM's default is 78.3. */
  reactionFieldDielectric?: number;
  name?: string;
}

/**
 * Lennard-Jones + Coulomb (OpenMM NonbondedForce, non-periodic methods).
 * Ordinary pairs (every pair that is not an exception) mix by Lorentz–Berthelot,
 * σ = (σi + σj)/2, ε = √(εi εj), and give
 *   4ε((σ/r)¹² − (σ/r)⁶) + k_e qi qj (1/r + k_rf r² − c_rf)   for r < r_c,
 * nothing for r ≥ r_c, with k_rf = (ε_rf − 1)/((2ε_rf + 1) r_c³), c_rf = 3ε_rf/((2ε_rf + 1) r_c)
 * (NoCutoff: all pairs, k_rf = c_rf = 0). Exceptions use their own parameters, no cutoff
 * and no reaction field; zero exceptions (1-2, 1-3 exclusions) give nothing.
 * k_e = ONE_4PI_EPS0. No switching function, no dispersion correction (non-periodic).
 */
export class NonbondedForce implements Force {
  readonly name: string;
  readonly maxParticleIndex: number;
  readonly particleCount: number;
  readonly method: NonbondedMethod;
  readonly cutoff: number;
  readonly reactionFieldDielectric: number;
  /** Number of ordinary (non-exception) pairs. */
  readonly pairCount: number;
  /** Number of exceptions with a non-zero interaction. */
  readonly exceptionCount: number;
  private readonly krf: number;
  private readonly crf: number;
  private readonly cutoff2: number;
  private readonly pi3: Int32Array;
  private readonly pj3: Int32Array;
  private readonly pQQ: Float64Array;
  private readonly pSig2: Float64Array;
  private readonly pEps4: Float64Array;
  private readonly ei3: Int32Array;
  private readonly ej3: Int32Array;
  private readonly eQQ: Float64Array;
  private readonly eSig2: Float64Array;
  private readonly eEps4: Float64Array;

  constructor(particles: readonly NonbondedParticle[], exceptions: readonly NonbondedException[], options: NonbondedOptions) {
    this.name = options.name ?? 'NonbondedForce';
    this.method = options.method;
    const nP = particles.length;
    this.particleCount = nP;
    particles.forEach((p, i) => {
      const what = `${this.name} particle ${i}`;
      checkFinite(`${what} charge`, p.charge);
      checkNonNegative(`${what} sigma`, p.sigma);
      checkNonNegative(`${what} epsilon`, p.epsilon);
    });
    if (this.method === 'NoCutoff') {
      this.cutoff = Infinity;
      this.reactionFieldDielectric = 1;
      this.krf = 0;
      this.crf = 0;
    } else if (this.method === 'CutoffNonPeriodic') {
      if (options.cutoff === undefined) throw new UserError(`${this.name}: method CutoffNonPeriodic needs a cutoff`);
      const rc = checkPositive(options.cutoff, `${this.name} cutoff`);
      const eps = checkPositive(options.reactionFieldDielectric ?? 78.3, `${this.name} reaction-field dielectric`);
      this.cutoff = rc;
      this.reactionFieldDielectric = eps;
      this.krf = (eps - 1) / ((2 * eps + 1) * rc * rc * rc);
      this.crf = (3 * eps) / ((2 * eps + 1) * rc);
    } else {
      throw new UserError(`${this.name}: unsupported nonbonded method '${String(this.method)}'; supported: NoCutoff, CutoffNonPeriodic`);
    }
    this.cutoff2 = this.cutoff * this.cutoff;

    const excepted = new Set<number>();
    const live: NonbondedException[] = [];
    let max = nP - 1;
    exceptions.forEach((e, t) => {
      const what = `${this.name} exception ${t}`;
      checkDistinct(what, [checkIndex(what, e.p1), checkIndex(what, e.p2)]);
      if (e.p1 >= nP || e.p2 >= nP) throw new UserError(`${what}: particle index out of range [0, ${nP}) in (${e.p1}, ${e.p2})`);
      checkFinite(`${what} chargeProd`, e.chargeProd);
      checkNonNegative(`${what} sigma`, e.sigma);
      checkNonNegative(`${what} epsilon`, e.epsilon);
      const key = Math.min(e.p1, e.p2) * nP + Math.max(e.p1, e.p2);
      if (excepted.has(key)) throw new UserError(`${what}: duplicate exception for particles (${e.p1}, ${e.p2})`);
      excepted.add(key);
      if (e.chargeProd !== 0 || e.epsilon !== 0) live.push(e);
      max = Math.max(max, e.p1, e.p2);
    });
    this.maxParticleIndex = max;

    const nPairs = (nP * (nP - 1)) / 2 - excepted.size;
    this.pairCount = nPairs;
    this.pi3 = new Int32Array(nPairs);
    this.pj3 = new Int32Array(nPairs);
    this.pQQ = new Float64Array(nPairs);
    this.pSig2 = new Float64Array(nPairs);
    this.pEps4 = new Float64Array(nPairs);
    let p = 0;
    for (let i = 0; i < nP; i++) {
      for (let j = i + 1; j < nP; j++) {
        if (excepted.has(i * nP + j)) continue;
        const a = particles[i];
        const b = particles[j];
        const sig = 0.5 * (a.sigma + b.sigma);
        this.pi3[p] = 3 * i;
        this.pj3[p] = 3 * j;
        this.pQQ[p] = ONE_4PI_EPS0 * a.charge * b.charge;
        this.pSig2[p] = sig * sig;
        this.pEps4[p] = 4 * Math.sqrt(a.epsilon * b.epsilon);
        p++;
      }
    }

    const nE = live.length;
    this.exceptionCount = nE;
    this.ei3 = new Int32Array(nE);
    this.ej3 = new Int32Array(nE);
    this.eQQ = new Float64Array(nE);
    this.eSig2 = new Float64Array(nE);
    this.eEps4 = new Float64Array(nE);
    live.forEach((e, t) => {
      this.ei3[t] = 3 * e.p1;
      this.ej3[t] = 3 * e.p2;
      this.eQQ[t] = ONE_4PI_EPS0 * e.chargeProd;
      this.eSig2[t] = e.sigma * e.sigma;
      this.eEps4[t] = 4 * e.epsilon;
    });
  }

  evaluate(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    return this.evalPairs(x, off, forces, fOff) + this.evalExceptions(x, off, forces, fOff);
  }

  /** Energy of the ordinary pairs (mixed LJ + cutoff/reaction-field Coulomb). */
  private evalPairs(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    const { pi3, pj3, pQQ, pSig2, pEps4, krf, crf, cutoff2 } = this;
    let energy = 0;
    for (let p = 0; p < this.pairCount; p++) {
      const a = off + pi3[p];
      const b = off + pj3[p];
      const dx = x[b] - x[a];
      const dy = x[b + 1] - x[a + 1];
      const dz = x[b + 2] - x[a + 2];
      const r2 = dx * dx + dy * dy + dz * dz;
      if (r2 >= cutoff2) continue;
      const inv2 = 1 / r2;
      const inv1 = Math.sqrt(inv2);
      const s6 = pSig2[p] * inv2 * pSig2[p] * inv2 * pSig2[p] * inv2;
      const lj = pEps4[p] * s6;
      const qq = pQQ[p];
      energy += lj * (s6 - 1) + qq * (inv1 + krf * r2 - crf);
      if (forces !== null) {
        // −(dE/dr)/r
        const s = (lj * (12 * s6 - 6) + qq * inv1) * inv2 - 2 * qq * krf;
        const fa = fOff + pi3[p];
        const fb = fOff + pj3[p];
        forces[fa] -= s * dx;
        forces[fa + 1] -= s * dy;
        forces[fa + 2] -= s * dz;
        forces[fb] += s * dx;
        forces[fb + 1] += s * dy;
        forces[fb + 2] += s * dz;
      }
    }
    return energy;
  }

  /** Energy of the exceptions (plain Coulomb + LJ, no cutoff). */
  private evalExceptions(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    const { ei3, ej3, eQQ, eSig2, eEps4 } = this;
    let energy = 0;
    for (let t = 0; t < this.exceptionCount; t++) {
      const a = off + ei3[t];
      const b = off + ej3[t];
      const dx = x[b] - x[a];
      const dy = x[b + 1] - x[a + 1];
      const dz = x[b + 2] - x[a + 2];
      const inv2 = 1 / (dx * dx + dy * dy + dz * dz);
      const inv1 = Math.sqrt(inv2);
      const s6 = eSig2[t] * inv2 * eSig2[t] * inv2 * eSig2[t] * inv2;
      const lj = eEps4[t] * s6;
      const qq = eQQ[t];
      energy += lj * (s6 - 1) + qq * inv1;
      if (forces !== null) {
        const s = (lj * (12 * s6 - 6) + qq * inv1) * inv2;
        const fa = fOff + ei3[t];
        const fb = fOff + ej3[t];
        forces[fa] -= s * dx;
        forces[fa + 1] -= s * dy;
        forces[fa + 2] -= s * dz;
        forces[fb] += s * dx;
        forces[fb + 1] += s * dy;
        forces[fb + 2] += s * dz;
      }
    }
    return energy;
  }
}
