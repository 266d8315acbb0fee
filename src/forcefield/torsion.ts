import { UserError } from '../core/errors.js';
import { checkDistinct, checkFinite, checkIndex, type Force } from './force.js';

/** One periodic torsion term over p1–p2–p3–p4: E = k (1 + cos(n φ − phase)). */
export interface PeriodicTorsion {
  p1: number;
  p2: number;
  p3: number;
  p4: number;
  /** Periodicity n (positive integer). */
  periodicity: number;
  /** Phase φ0 (radians). */
  phase: number;
  /** Barrier k (kJ/mol). */
  k: number;
}

/**
 * Sum of periodic torsion terms k (1 + cos(n φ − φ0)) (OpenMM PeriodicTorsionForce),
 * proper and improper alike. φ follows the IUPAC/OpenMM convention:
 * b1 = x2 − x1, b2 = x3 − x2, b3 = x4 − x3, m = b1 × b2, n = b2 × b3,
 * φ = atan2(|b2| b1·n, m·n) ∈ (−π, π].
 * Gradient (Bekker; Blondel & Karplus 1996), with p = −b1·b2/|b2|², q = −b3·b2/|b2|²:
 * F1 = (dE/dφ) |b2|/|m|² m, F4 = −(dE/dφ) |b2|/|n|² n, s = p F1 − q F4,
 * F2 = −F1 + s, F3 = −F4 − s. Terms sharing the same four particles share the geometry.
 */
export class PeriodicTorsionForce implements Force {
  readonly maxParticleIndex: number;
  /** Number of (n, k, φ0) terms. */
  readonly count: number;
  private readonly nQuads: number;
  private readonly quad3: Int32Array;
  private readonly termStart: Int32Array;
  private readonly periodicity: Float64Array;
  private readonly phase: Float64Array;
  private readonly k: Float64Array;

  constructor(
    torsions: readonly PeriodicTorsion[],
    readonly name = 'PeriodicTorsionForce',
  ) {
    this.count = torsions.length;
    const groups = new Map<string, { quad: number[]; terms: PeriodicTorsion[] }>();
    let max = -1;
    torsions.forEach((t, idx) => {
      const what = `${name} torsion ${idx}`;
      const quad = [t.p1, t.p2, t.p3, t.p4].map((p) => checkIndex(what, p));
      checkDistinct(what, quad);
      if (!Number.isInteger(t.periodicity) || t.periodicity < 1) {
        throw new UserError(`${what}: periodicity must be a positive integer, got ${t.periodicity}`);
      }
      checkFinite(`${what} phase`, t.phase);
      checkFinite(`${what} k`, t.k);
      max = Math.max(max, ...quad);
      const key = quad.join(',');
      const g = groups.get(key);
      if (g) g.terms.push(t);
      else groups.set(key, { quad, terms: [t] });
    });
    this.maxParticleIndex = max;
    this.nQuads = groups.size;
    this.quad3 = new Int32Array(4 * this.nQuads);
    this.termStart = new Int32Array(this.nQuads + 1);
    this.periodicity = new Float64Array(this.count);
    this.phase = new Float64Array(this.count);
    this.k = new Float64Array(this.count);
    let q = 0;
    let term = 0;
    for (const g of groups.values()) {
      for (let a = 0; a < 4; a++) this.quad3[4 * q + a] = 3 * g.quad[a];
      this.termStart[q] = term;
      for (const t of g.terms) {
        this.periodicity[term] = t.periodicity;
        this.phase[term] = t.phase;
        this.k[term] = t.k;
        term++;
      }
      q++;
    }
    this.termStart[this.nQuads] = term;
  }

  evaluate(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    const { quad3, termStart, periodicity, phase, k } = this;
    let energy = 0;
    for (let q = 0; q < this.nQuads; q++) {
      const a = off + quad3[4 * q];
      const b = off + quad3[4 * q + 1];
      const c = off + quad3[4 * q + 2];
      const d = off + quad3[4 * q + 3];
      const b1x = x[b] - x[a];
      const b1y = x[b + 1] - x[a + 1];
      const b1z = x[b + 2] - x[a + 2];
      const b2x = x[c] - x[b];
      const b2y = x[c + 1] - x[b + 1];
      const b2z = x[c + 2] - x[b + 2];
      const b3x = x[d] - x[c];
      const b3y = x[d + 1] - x[c + 1];
      const b3z = x[d + 2] - x[c + 2];
      const mx = b1y * b2z - b1z * b2y;
      const my = b1z * b2x - b1x * b2z;
      const mz = b1x * b2y - b1y * b2x;
      const nx = b2y * b3z - b2z * b3y;
      const ny = b2z * b3x - b2x * b3z;
      const nz = b2x * b3y - b2y * b3x;
      const b2sq = b2x * b2x + b2y * b2y + b2z * b2z;
      const b2n = Math.sqrt(b2sq);
      const phi = Math.atan2(b2n * (b1x * nx + b1y * ny + b1z * nz), mx * nx + my * ny + mz * nz);
      let dEdPhi = 0;
      for (let t = termStart[q]; t < termStart[q + 1]; t++) {
        const arg = periodicity[t] * phi - phase[t];
        energy += k[t] * (1 + Math.cos(arg));
        dEdPhi -= k[t] * periodicity[t] * Math.sin(arg);
      }
      if (forces === null || dEdPhi === 0) continue;
      const m2 = mx * mx + my * my + mz * mz;
      const n2 = nx * nx + ny * ny + nz * nz;
      // Collinear bonds leave φ undefined; no force is applied there.
      if (m2 === 0 || n2 === 0) continue;
      const s1 = (dEdPhi * b2n) / m2;
      const s4 = (-dEdPhi * b2n) / n2;
      const f1x = s1 * mx;
      const f1y = s1 * my;
      const f1z = s1 * mz;
      const f4x = s4 * nx;
      const f4y = s4 * ny;
      const f4z = s4 * nz;
      const p = -(b1x * b2x + b1y * b2y + b1z * b2z) / b2sq;
      const r = -(b3x * b2x + b3y * b2y + b3z * b2z) / b2sq;
      const sx = p * f1x - r * f4x;
      const sy = p * f1y - r * f4y;
      const sz = p * f1z - r * f4z;
      const fa = fOff + quad3[4 * q];
      const fb = fOff + quad3[4 * q + 1];
      const fc = fOff + quad3[4 * q + 2];
      const fd = fOff + quad3[4 * q + 3];
      forces[fa] += f1x;
      forces[fa + 1] += f1y;
      forces[fa + 2] += f1z;
      forces[fb] += sx - f1x;
      forces[fb + 1] += sy - f1y;
      forces[fb + 2] += sz - f1z;
      forces[fc] -= f4x + sx;
      forces[fc + 1] -= f4y + sy;
      forces[fc + 2] -= f4z + sz;
      forces[fd] += f4x;
      forces[fd + 1] += f4y;
      forces[fd + 2] += f4z;
    }
    return energy;
  }
}
