import { checkDistinct, checkFinite, checkIndex, type Force } from './force.js';

/** One harmonic angle p1–p2–p3 (p2 is the vertex): E = ½ k (θ − angle)². */
export interface HarmonicAngle {
  p1: number;
  p2: number;
  p3: number;
  /** Equilibrium angle θ0 (radians). */
  angle: number;
  /** Force constant k (kJ/mol/rad²). */
  k: number;
}

/**
 * Sum of harmonic angle terms ½ k (θ − θ0)² (OpenMM HarmonicAngleForce).
 * θ = atan2(|u × v|, u·v) with u = x1 − x2, v = x3 − x2, accurate near 0 and π.
 * Gradient: ∂θ/∂u = u × p / (|u|² |p|), ∂θ/∂v = −v × p / (|v|² |p|), p = u × v.
 */
export class HarmonicAngleForce implements Force {
  readonly maxParticleIndex: number;
  readonly count: number;
  private readonly i3: Int32Array;
  private readonly j3: Int32Array;
  private readonly k3: Int32Array;
  private readonly theta0: Float64Array;
  private readonly k: Float64Array;

  constructor(
    angles: readonly HarmonicAngle[],
    readonly name = 'HarmonicAngleForce',
  ) {
    const n = angles.length;
    this.count = n;
    this.i3 = new Int32Array(n);
    this.j3 = new Int32Array(n);
    this.k3 = new Int32Array(n);
    this.theta0 = new Float64Array(n);
    this.k = new Float64Array(n);
    let max = -1;
    angles.forEach((a, t) => {
      const what = `${name} angle ${t}`;
      checkDistinct(what, [checkIndex(what, a.p1), checkIndex(what, a.p2), checkIndex(what, a.p3)]);
      this.i3[t] = 3 * a.p1;
      this.j3[t] = 3 * a.p2;
      this.k3[t] = 3 * a.p3;
      this.theta0[t] = checkFinite(`${what} angle`, a.angle);
      this.k[t] = checkFinite(`${what} k`, a.k);
      max = Math.max(max, a.p1, a.p2, a.p3);
    });
    this.maxParticleIndex = max;
  }

  evaluate(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    const { i3, j3, k3, theta0, k } = this;
    let energy = 0;
    for (let t = 0; t < this.count; t++) {
      const a = off + i3[t];
      const b = off + j3[t];
      const c = off + k3[t];
      const ux = x[a] - x[b];
      const uy = x[a + 1] - x[b + 1];
      const uz = x[a + 2] - x[b + 2];
      const vx = x[c] - x[b];
      const vy = x[c + 1] - x[b + 1];
      const vz = x[c + 2] - x[b + 2];
      let px = uy * vz - uz * vy;
      let py = uz * vx - ux * vz;
      let pz = ux * vy - uy * vx;
      let pn = Math.sqrt(px * px + py * py + pz * pz);
      const theta = Math.atan2(pn, ux * vx + uy * vy + uz * vz);
      const dTheta = theta - theta0[t];
      energy += 0.5 * k[t] * dTheta * dTheta;
      if (forces === null) continue;
      const u2 = ux * ux + uy * uy + uz * uz;
      const v2 = vx * vx + vy * vy + vz * vz;
      const dEdTheta = k[t] * dTheta;
      if (dEdTheta === 0 || u2 === 0 || v2 === 0) continue;
      if (pn <= 1e-14 * Math.sqrt(u2 * v2)) {
        // Collinear: any axis normal to u is a valid rotation axis; take u × (the coordinate axis least aligned with u).
        const ax = Math.abs(ux);
        const ay = Math.abs(uy);
        const az = Math.abs(uz);
        if (ax <= ay && ax <= az) [px, py, pz] = [0, uz, -uy];
        else if (ay <= az) [px, py, pz] = [-uz, 0, ux];
        else [px, py, pz] = [uy, -ux, 0];
        pn = Math.sqrt(px * px + py * py + pz * pz);
      }
      // F1 = −dE/dθ · u × p / (|u|²|p|); F3 = dE/dθ · v × p / (|v|²|p|); F2 = −F1 − F3.
      const su = -dEdTheta / (u2 * pn);
      const sv = dEdTheta / (v2 * pn);
      const f1x = su * (uy * pz - uz * py);
      const f1y = su * (uz * px - ux * pz);
      const f1z = su * (ux * py - uy * px);
      const f3x = sv * (vy * pz - vz * py);
      const f3y = sv * (vz * px - vx * pz);
      const f3z = sv * (vx * py - vy * px);
      const fa = fOff + i3[t];
      const fb = fOff + j3[t];
      const fc = fOff + k3[t];
      forces[fa] += f1x;
      forces[fa + 1] += f1y;
      forces[fa + 2] += f1z;
      forces[fc] += f3x;
      forces[fc + 1] += f3y;
      forces[fc + 2] += f3z;
      forces[fb] -= f1x + f3x;
      forces[fb + 1] -= f1y + f3y;
      forces[fb + 2] -= f1z + f3z;
    }
    return energy;
  }
}
