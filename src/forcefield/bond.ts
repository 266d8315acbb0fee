import { checkDistinct, checkFinite, checkIndex, checkNonNegative, type Force } from './force.js';

/** One harmonic bond: E = ½ k (r − length)², r = |x_p2 − x_p1|. */
export interface HarmonicBond {
  p1: number;
  p2: number;
  /** Equilibrium length r0 (nm). */
  length: number;
  /** Force constant k (kJ/mol/nm²). */
  k: number;
}

/** Sum of harmonic bond terms ½ k (r − r0)² (OpenMM HarmonicBondForce). */
export class HarmonicBondForce implements Force {
  readonly maxParticleIndex: number;
  readonly count: number;
  private readonly i3: Int32Array;
  private readonly j3: Int32Array;
  private readonly r0: Float64Array;
  private readonly k: Float64Array;

  constructor(
    bonds: readonly HarmonicBond[],
    readonly name = 'HarmonicBondForce',
  ) {
    const n = bonds.length;
    this.count = n;
    this.i3 = new Int32Array(n);
    this.j3 = new Int32Array(n);
    this.r0 = new Float64Array(n);
    this.k = new Float64Array(n);
    let max = -1;
    bonds.forEach((b, t) => {
      const what = `${name} bond ${t}`;
      checkDistinct(what, [checkIndex(what, b.p1), checkIndex(what, b.p2)]);
      this.i3[t] = 3 * b.p1;
      this.j3[t] = 3 * b.p2;
      this.r0[t] = checkNonNegative(`${what} length`, b.length);
      this.k[t] = checkFinite(`${what} k`, b.k);
      max = Math.max(max, b.p1, b.p2);
    });
    this.maxParticleIndex = max;
  }

  evaluate(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    const { i3, j3, r0, k } = this;
    let energy = 0;
    for (let t = 0; t < this.count; t++) {
      const a = off + i3[t];
      const b = off + j3[t];
      const dx = x[b] - x[a];
      const dy = x[b + 1] - x[a + 1];
      const dz = x[b + 2] - x[a + 2];
      const r = Math.sqrt(dx * dx + dy * dy + dz * dz);
      const dr = r - r0[t];
      energy += 0.5 * k[t] * dr * dr;
      // At r = 0 the direction is undefined; the gradient is taken as zero there.
      if (forces !== null && r > 0) {
        const s = (k[t] * dr) / r;
        const fa = fOff + i3[t];
        const fb = fOff + j3[t];
        forces[fa] += s * dx;
        forces[fa + 1] += s * dy;
        forces[fa + 2] += s * dz;
        forces[fb] -= s * dx;
        forces[fb + 1] -= s * dy;
        forces[fb + 2] -= s * dz;
      }
    }
    return energy;
  }
}
