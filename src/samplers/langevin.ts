/**
 * Underdamped Langevin dynamics, BAOAB splitting (Leimkuhler & Matthews 2013),
 * batched over chains. Unadjusted (no Metropolis test): used to generate data.
 *
 *   dx = v dt,   M dv = F(x) dt − γ M v dt + √(2γ k_B T M) dW.
 * One step of size Δt:
 *   B: v ← v + (Δt/2) M⁻¹F(x)
 *   A: x ← x + (Δt/2) v
 *   O: v ← c v + √((1 − c²) k_B T) M^(−1/2) ξ,   c = exp(−γΔt)
 *   A: x ← x + (Δt/2) v
 *   B: v ← v + (Δt/2) M⁻¹F(x)       (F at the new x: one evaluation per step)
 * Configurational averages have O(Δt²) bias in general; for a harmonic
 * potential BAOAB's configurational marginal is exact for any stable Δt.
 *
 * Masses: one per particle (expanded over its spatial coordinates) or one
 * scalar; default the target's `masses`, else 1.
 *
 * com = 'remove' keeps the unweighted centroid of x at 0 (PITA's convention).
 * That is the linear constraint Σ_a x_a = 0 (per axis), so velocities must
 * satisfy Σ_a v_a = 0. The constrained dynamics uses the M-orthogonal
 * projection P_M v = v − M⁻¹1 (1ᵀv)/(1ᵀM⁻¹1) on every velocity increment
 * (forces and noise): P_M M⁻¹ F is the constrained force, and P_M M^(−1/2) ξ
 * has covariance P_M M⁻¹ P_Mᵀ, the Maxwell–Boltzmann law on the subspace.
 * With equal masses P_M is the plain mean removal.
 *
 * Kinetic temperature per chain: Σ_j m_j v_j² / (k_B · dof), dof = dim, or
 * dim − spatialDim when the centroid is removed.
 */
import type { Rng } from '../core/rng.js';
import { NonFiniteError, UserError, describeRows } from '../core/errors.js';
import { asPotential, type LogDensity, type Potential } from '../targets/density.js';
import type { Target } from '../targets/target.js';
import { checkHeating } from './divergence.js';
import { checkPositive, evaluate, initialBatch, resolveCom, rowFinite, projectRows, type ComMode, type Kernel } from './state.js';

export interface LangevinOptions {
  /** Temperature T (target's unit; default its default temperature, 1 for a LogDensity). */
  temperature?: number;
  /** Time step Δt (target's time unit; default target.defaultTimestep, else 0.005). */
  timestep?: number;
  /** Friction γ ≥ 0 (inverse time; default 1). γ = 0 is velocity Verlet. */
  friction?: number;
  /** Mass per particle, or one scalar for all (default: target.masses, else 1). */
  masses?: number | ArrayLike<number>;
  /** Centre-of-mass handling (default 'remove' for translation-invariant targets). */
  com?: ComMode;
}

export interface LangevinState {
  readonly n: number;
  /** Positions [n, dim]. */
  readonly x: Float64Array;
  /** Velocities [n, dim]. */
  readonly v: Float64Array;
  /** E(x) [n]. */
  readonly energy: Float64Array;
  /** −∇E(x) [n, dim] (projected when com = 'remove'). */
  readonly forces: Float64Array;
}

export interface LangevinInfo {
  /** Kinetic temperature per chain [n], after the step. */
  kineticTemperature: Float64Array;
  /** Mean kinetic temperature over chains. */
  meanKineticTemperature: number;
  /** Energy+force evaluations this step used (one per chain). */
  evaluations: number;
}

/** BAOAB Langevin on a Target at temperature T, or on any LogDensity π (T = 1 samples π, unit masses by default). */
export function langevin(model: Target | LogDensity, opts: LangevinOptions = {}): Kernel<LangevinState, LangevinInfo> {
  const target = asPotential(model);
  const project = resolveCom(target, opts.com) === 'remove';
  const { dim, nParticles, spatialDim } = target;
  const kT = target.kB * checkPositive(opts.temperature ?? target.defaultTemperature, 'temperature');
  const dt = checkPositive(opts.timestep ?? target.defaultTimestep ?? 0.005, 'timestep');
  const gamma = opts.friction ?? 1;
  if (typeof gamma !== 'number' || !Number.isFinite(gamma) || gamma < 0) throw new UserError(`friction must be a number ≥ 0, got ${gamma}`);
  const invMass = coordinateInverseMasses(target, opts.masses ?? target.masses ?? 1);
  const c1 = Math.exp(-gamma * dt);
  const noiseScale = Math.sqrt((1 - c1 * c1) * kT);
  const dof = project ? dim - spatialDim : dim;
  // Σ_a 1/m_a per particle set (the same for every axis), for P_M.
  let invMassSum = 0;
  for (let a = 0; a < nParticles; a++) invMassSum += invMass[a * spatialDim];

  /** P_M on one row, in place (see the module comment). */
  const projectVelocity = (v: Float64Array, off: number): void => {
    for (let d = 0; d < spatialDim; d++) {
      let s = 0;
      for (let a = 0; a < nParticles; a++) s += v[off + a * spatialDim + d];
      const k = s / invMassSum;
      for (let a = 0; a < nParticles; a++) v[off + a * spatialDim + d] -= invMass[a * spatialDim + d] * k;
    }
  };

  /** v ← scale·v + √(kT/m)·ξ·noise (projected), row by row. */
  const thermalise = (rng: Rng, v: Float64Array, n: number, scale: number, noise: number): void => {
    const xi = rng.normals(n * dim);
    for (let j = 0; j < xi.length; j++) xi[j] *= noise * Math.sqrt(invMass[j % dim]);
    if (project) for (let i = 0; i < n; i++) projectVelocity(xi, i * dim);
    for (let j = 0; j < v.length; j++) v[j] = scale * v[j] + xi[j];
  };

  const kick = (v: Float64Array, f: Float64Array, n: number): void => {
    const acc = new Float64Array(n * dim);
    for (let j = 0; j < acc.length; j++) acc[j] = f[j] * invMass[j % dim];
    if (project) for (let i = 0; i < n; i++) projectVelocity(acc, i * dim);
    for (let j = 0; j < v.length; j++) v[j] += 0.5 * dt * acc[j];
  };

  const drift = (x: Float64Array, v: Float64Array, n: number): void => {
    for (let j = 0; j < x.length; j++) x[j] += 0.5 * dt * v[j];
    if (project) projectRows(target, x, n); // rounding only: Σ_a v_a = 0
  };

  const kineticTemperatures = (v: Float64Array, n: number): Float64Array => {
    const t = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += (v[i * dim + j] * v[i * dim + j]) / invMass[j];
      t[i] = s / (target.kB * dof);
    }
    return t;
  };

  return {
    /** Positions from x0 (made mean-free for com 'remove'), velocities drawn from Maxwell–Boltzmann at T. */
    init(x0: Float64Array, rng: Rng): LangevinState {
      const b = initialBatch(target, x0, project);
      const v = new Float64Array(b.n * dim);
      thermalise(rng, v, b.n, 0, Math.sqrt(kT));
      return { ...b, v };
    },

    step(rng: Rng, s: LangevinState): { state: LangevinState; info: LangevinInfo } {
      const { n } = s;
      const x = s.x.slice();
      const v = s.v.slice();
      kick(v, s.forces, n);
      drift(x, v, n);
      thermalise(rng, v, n, c1, noiseScale);
      drift(x, v, n);
      const { energy, forces } = evaluate(target, x, n, project);
      const bad: number[] = [];
      for (let i = 0; i < n; i++) if (!rowFinite(energy, forces, i, dim)) bad.push(i);
      if (bad.length > 0) {
        throw new NonFiniteError(
          `langevin: energy or force became non-finite in ${bad.length} of ${n} chains (rows ${describeRows(bad)}); reduce the timestep (now ${dt})`,
          bad,
        );
      }
      kick(v, forces, n);
      const kineticTemperature = kineticTemperatures(v, n);
      checkHeating(kineticTemperature, kT / target.kB, dt, 'langevin');
      let mean = 0;
      for (const t of kineticTemperature) mean += t / n;
      return {
        state: { n, x, v, energy, forces },
        info: { kineticTemperature, meanKineticTemperature: mean, evaluations: n },
      };
    },
  };
}

/** 1/m per coordinate [dim] from a scalar mass or one mass per particle. */
function coordinateInverseMasses(target: Potential, masses: number | ArrayLike<number>): Float64Array {
  const { dim, nParticles, spatialDim } = target;
  const inv = new Float64Array(dim);
  if (typeof masses === 'number') {
    inv.fill(1 / checkPositive(masses, 'masses'));
    return inv;
  }
  if (masses.length !== nParticles) {
    throw new UserError(`masses has ${masses.length} entries; target ${target.name} has ${nParticles} particles (give one mass per particle or a scalar)`);
  }
  for (let a = 0; a < nParticles; a++) {
    const m = checkPositive(masses[a], `masses[${a}]`);
    for (let d = 0; d < spatialDim; d++) inv[a * spatialDim + d] = 1 / m;
  }
  return inv;
}
