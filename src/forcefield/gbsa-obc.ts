import { UserError } from '../core/errors.js';
import { checkFinite, checkNonNegative, checkPositive, type Force } from './force.js';

/** Per-particle GB-OBC parameters, in the form the energy uses them. */
export interface GBSAOBCParticle {
  /** Charge q (e). */
  charge: number;
  /** Offset radius o = ρ − dielectricOffset (nm); ρ is the intrinsic (e.g. mbondi2) radius. */
  offsetRadius: number;
  /** Scaled offset radius S = s·o (nm), s the screening factor. */
  scaledRadius: number;
}

/** The three constants of the OBC Born-radius rescaling tanh(αψ − βψ² + γψ³). */
export interface ObcVariant {
  alpha: number;
  beta: number;
  gamma: number;
}

/** OBC model I (Onufriev, Bashford & Case 2004; Amber igb=2). */
export const OBC1: ObcVariant = { alpha: 0.8, beta: 0, gamma: 2.909125 };
/** OBC model II (Amber igb=5; OpenMM's native GBSAOBCForce). */
export const OBC2: ObcVariant = { alpha: 1, beta: 0.8, gamma: 4.85 };

export interface GBSAOBCOptions extends ObcVariant {
  soluteDielectric: number;
  solventDielectric: number;
  /** Coulomb constant in the GB prefactor (kJ·nm/(mol·e²)); OpenMM's CustomGBForce scripts use 138.935485. */
  coulombConstant: number;
  /** ACE surface-area factor A (kJ/mol/nm²) = 4π × surface-area energy; 0 turns the term off. */
  surfaceAreaFactor: number;
  /** Solvent probe radius of the ACE term (nm), 0.14 in OpenMM. */
  probeRadius: number;
  /** ρ − o (nm), 0.009 in OpenMM. */
  dielectricOffset: number;
  /** Cutoff r_c (nm) or null for none (OpenMM NoCutoff). */
  cutoff: number | null;
  /**
   * Adds 1/o_i − 1/L to the descreening sum when o_i < S_j − r (atom i inside atom j's scaled sphere),
   * as OpenMM's native GBSAOBCForce does; the CustomGBForce scripts (implicit/obc1.xml, obc2.xml) do not.
   */
  engulfmentCorrection: boolean;
  name?: string;
}

/**
 * Generalized Born with OBC Born radii and the ACE non-polar term (OpenMM GBSAOBCForce,
 * or the CustomGBForce built by implicit/obc1.xml and obc2.xml).
 *
 * Over ordered pairs i ≠ j with r = r_ij < r_c (exclusions ignored) and r + S_j > o_i:
 *   I_i = Σ_j ½[1/L − 1/U + ¼(r − S_j²/r)(1/U² − 1/L²) + ½ ln(L/U)/r],  U = r + S_j, L = max(o_i, |r − S_j|)
 * (plus 1/o_i − 1/L when o_i < S_j − r and engulfmentCorrection is set);
 *   ψ_i = I_i o_i,  ρ_i = o_i + offset,  B_i = 1/(1/o_i − tanh(αψ_i − βψ_i² + γψ_i³)/ρ_i).
 * Energy, with K = coulombConstant·(1/ε_solute − 1/ε_solvent) and c = 1/r_c (0 without cutoff):
 *   Σ_i −½ K q_i²/B_i + Σ_i A (ρ_i + probe)² (ρ_i/B_i)⁶ + Σ_{i<j, r<r_c} −K q_i q_j (1/f_ij − c),
 *   f_ij = √(r² + B_iB_j exp(−r²/(4B_iB_j))).
 * Forces are exact: the pair terms' explicit r-dependence plus the chain through every B_i(I_i(r)).
 */
export class GBSAOBCForce implements Force {
  readonly name: string;
  readonly maxParticleIndex: number;
  readonly particleCount: number;
  readonly options: Readonly<GBSAOBCOptions>;
  /** The particles as given. */
  readonly particles: readonly Readonly<GBSAOBCParticle>[];
  private readonly charge: Float64Array;
  private readonly or: Float64Array;
  private readonly sr: Float64Array;
  private readonly rho: Float64Array;
  private readonly saPrefactor: Float64Array;
  private readonly prefactor: number;
  private readonly shift: number;
  private readonly cutoff2: number;
  private readonly nPairs: number;
  private readonly pi: Int32Array;
  private readonly pj: Int32Array;
  // Scratch space, reused by every evaluation.
  private readonly sumI: Float64Array;
  private readonly born: Float64Array;
  private readonly dBdI: Float64Array;
  private readonly dEdB: Float64Array;
  private readonly pairR: Float64Array;
  private readonly dIiDr: Float64Array;
  private readonly dIjDr: Float64Array;
  private readonly pairDEdr: Float64Array;
  private readonly engulfmentCorrection: boolean;
  private dtScratch = 0;

  constructor(particles: readonly GBSAOBCParticle[], options: GBSAOBCOptions) {
    const name = options.name ?? 'GBSAOBCForce';
    this.name = name;
    for (const key of ['alpha', 'beta', 'gamma', 'coulombConstant'] as const) checkFinite(`${name} ${key}`, options[key]);
    checkPositive(options.soluteDielectric, `${name} soluteDielectric`);
    checkPositive(options.solventDielectric, `${name} solventDielectric`);
    checkNonNegative(`${name} surfaceAreaFactor`, options.surfaceAreaFactor);
    checkNonNegative(`${name} probeRadius`, options.probeRadius);
    checkPositive(options.dielectricOffset, `${name} dielectricOffset`);
    if (options.cutoff !== null) checkPositive(options.cutoff, `${name} cutoff`);
    this.options = Object.freeze({ ...options });
    this.particles = Object.freeze(particles.map((p) => Object.freeze({ ...p })));
    this.engulfmentCorrection = options.engulfmentCorrection;
    const n = particles.length;
    this.particleCount = n;
    this.maxParticleIndex = n - 1;
    this.charge = new Float64Array(n);
    this.or = new Float64Array(n);
    this.sr = new Float64Array(n);
    this.rho = new Float64Array(n);
    this.saPrefactor = new Float64Array(n);
    particles.forEach((p, i) => {
      const what = `${name} particle ${i}`;
      this.charge[i] = checkFinite(`${what} charge`, p.charge);
      this.or[i] = checkPositive(p.offsetRadius, `${what} offset radius`);
      this.sr[i] = checkNonNegative(`${what} scaled radius`, p.scaledRadius);
      this.rho[i] = p.offsetRadius + options.dielectricOffset;
      const rp = this.rho[i] + options.probeRadius;
      this.saPrefactor[i] = options.surfaceAreaFactor * rp * rp;
    });
    this.prefactor = options.coulombConstant * (1 / options.soluteDielectric - 1 / options.solventDielectric);
    this.shift = options.cutoff === null ? 0 : 1 / options.cutoff;
    this.cutoff2 = options.cutoff === null ? Infinity : options.cutoff * options.cutoff;
    this.nPairs = (n * (n - 1)) / 2;
    this.pi = new Int32Array(this.nPairs);
    this.pj = new Int32Array(this.nPairs);
    let p = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        this.pi[p] = i;
        this.pj[p] = j;
        p++;
      }
    }
    this.sumI = new Float64Array(n);
    this.born = new Float64Array(n);
    this.dBdI = new Float64Array(n);
    this.dEdB = new Float64Array(n);
    this.pairR = new Float64Array(this.nPairs);
    this.dIiDr = new Float64Array(this.nPairs);
    this.dIjDr = new Float64Array(this.nPairs);
    this.pairDEdr = new Float64Array(this.nPairs);
  }

  /** Born radii B_i (nm) of one configuration. */
  bornRadii(x: Float64Array, off = 0): Float64Array {
    if (x.length < off + 3 * this.particleCount) {
      throw new UserError(`${this.name}: configuration needs ${3 * this.particleCount} coordinates from offset ${off}, array has ${x.length}`);
    }
    this.computeBornRadii(x, off);
    return this.born.slice();
  }

  evaluate(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    this.computeBornRadii(x, off);
    const n = this.particleCount;
    const { charge, born, dEdB, pi, pj, pairR, pairDEdr, saPrefactor, rho } = this;
    const K = this.prefactor;
    const shift = this.shift;
    const withForces = forces !== null;
    let energy = 0;
    for (let i = 0; i < n; i++) {
      const b = born[i];
      const q = charge[i];
      const self = (-0.5 * K * q * q) / b;
      const ratio = rho[i] / b;
      const r3 = ratio * ratio * ratio;
      const sa = saPrefactor[i] * r3 * r3;
      energy += self + sa;
      dEdB[i] = (-self - 6 * sa) / b;
    }
    for (let p = 0; p < this.nPairs; p++) {
      const r = pairR[p];
      if (r < 0) continue;
      const i = pi[p];
      const j = pj[p];
      const kqq = K * charge[i] * charge[j];
      const bb = born[i] * born[j];
      const d = (r * r) / (4 * bb);
      const e = Math.exp(-d);
      const f2 = r * r + bb * e;
      const f = Math.sqrt(f2);
      energy -= kqq * (1 / f - shift);
      if (withForces) {
        const g = kqq / (f2 * f);
        pairDEdr[p] = g * r * (1 - 0.25 * e);
        const h = 0.5 * g * e * (1 + d);
        dEdB[i] += h * born[j];
        dEdB[j] += h * born[i];
      }
    }
    if (forces !== null) this.applyForces(x, off, forces, fOff);
    return energy;
  }

  /** Adds −∇E, given the pair derivatives at fixed Born radii and dE/dB from `evaluate`. */
  private applyForces(x: Float64Array, off: number, forces: Float64Array, fOff: number): void {
    const { pi, pj, pairR, pairDEdr, dIiDr, dIjDr, dEdB, dBdI } = this;
    for (let i = 0; i < this.particleCount; i++) dEdB[i] *= dBdI[i];
    for (let p = 0; p < this.nPairs; p++) {
      const r = pairR[p];
      if (r < 0) continue;
      const i3 = 3 * pi[p];
      const j3 = 3 * pj[p];
      const dEdr = pairDEdr[p] + dEdB[pi[p]] * dIiDr[p] + dEdB[pj[p]] * dIjDr[p];
      const s = dEdr / r;
      const dx = x[off + j3] - x[off + i3];
      const dy = x[off + j3 + 1] - x[off + i3 + 1];
      const dz = x[off + j3 + 2] - x[off + i3 + 2];
      forces[fOff + i3] += s * dx;
      forces[fOff + i3 + 1] += s * dy;
      forces[fOff + i3 + 2] += s * dz;
      forces[fOff + j3] -= s * dx;
      forces[fOff + j3 + 1] -= s * dy;
      forces[fOff + j3 + 2] -= s * dz;
    }
  }

  /**
   * Fills pairR (−1 beyond the cutoff), dI_i/dr and dI_j/dr per pair, the Born radii and dB/dI.
   */
  private computeBornRadii(x: Float64Array, off: number): void {
    const { pi, pj, or, sr, rho, sumI, born, dBdI, pairR, dIiDr, dIjDr, cutoff2 } = this;
    const { alpha, beta, gamma } = this.options;
    const n = this.particleCount;
    sumI.fill(0);
    for (let p = 0; p < this.nPairs; p++) {
      const i = pi[p];
      const j = pj[p];
      const a = off + 3 * i;
      const b = off + 3 * j;
      const dx = x[b] - x[a];
      const dy = x[b + 1] - x[a + 1];
      const dz = x[b + 2] - x[a + 2];
      const r2 = dx * dx + dy * dy + dz * dz;
      if (r2 >= cutoff2) {
        pairR[p] = -1;
        continue;
      }
      const r = Math.sqrt(r2);
      const invR = 1 / r;
      pairR[p] = r;
      sumI[i] += this.descreen(r, invR, or[i], sr[j]);
      dIiDr[p] = this.dtScratch;
      sumI[j] += this.descreen(r, invR, or[j], sr[i]);
      dIjDr[p] = this.dtScratch;
    }
    for (let i = 0; i < n; i++) {
      const o = or[i];
      const psi = sumI[i] * o;
      const th = Math.tanh(psi * (alpha + psi * (gamma * psi - beta)));
      const bi = 1 / (1 / o - th / rho[i]);
      born[i] = bi;
      dBdI[i] = (bi * bi * (1 - th * th) * (alpha + psi * (3 * gamma * psi - 2 * beta)) * o) / rho[i];
    }
  }

  /**
   * Contribution of a sphere of radius S at distance r to I of a particle with offset radius o;
   * leaves its r-derivative in dtScratch.
   */
  private descreen(r: number, invR: number, o: number, s: number): number {
    const u = r + s;
    if (u <= o) {
      this.dtScratch = 0;
      return 0;
    }
    const engulfed = o < s - r;
    const l = engulfed ? s - r : Math.max(o, Math.abs(r - s));
    const invL = 1 / l;
    const invU = 1 / u;
    const diff = invU * invU - invL * invL;
    const logLU = Math.log(l * invU);
    let t = 0.5 * (invL - invU + 0.25 * (r - s * s * invR) * diff + 0.5 * logLU * invR);
    // With L constant or L = r − S the L-dependent parts of dt/dr cancel; with L = S − r they leave 1/L²,
    // which the engulfment correction's own derivative (−1/L²) cancels again.
    let dt = invR * invR * (0.125 * (r * r + s * s) * diff - 0.25 * logLU);
    if (engulfed) {
      if (this.engulfmentCorrection) t += 1 / o - invL;
      else dt += invL * invL;
    }
    this.dtScratch = dt;
    return t;
  }
}
