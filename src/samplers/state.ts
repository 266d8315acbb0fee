/**
 * Pieces shared by the MCMC and MD kernels: the BlackJAX-style kernel shape,
 * the batched chain state, centre-of-mass handling and per-row parameters.
 *
 * A kernel is a pair `init(x) → state`, `step(rng, state) → {state, info}`.
 * `step` never mutates its input state (a new state is returned; arrays that
 * did not change may be shared), so a state can be kept, compared or resumed.
 */
import type { Rng } from '../core/rng.js';
import { NonFiniteError, UserError, describeRows, nonFiniteRows } from '../core/errors.js';
import { removeCentroidRow } from '../core/particles.js';
import type { Potential } from '../targets/density.js';
import { batchSize } from '../targets/target.js';

/**
 * One kernel: `init` builds the state of a batch of chains from positions
 * x [n, dim] (and `rng` for any random part of the state, such as Langevin
 * velocities; MALA and HMC draw nothing), `step` advances every chain once.
 */
export interface Kernel<S, I> {
  init(x: Float64Array, rng: Rng): S;
  step(rng: Rng, state: S): { state: S; info: I };
}

/** What a Metropolis kernel factory is given: per-row temperatures and step sizes, and the centre-of-mass mode. */
export interface McmcKernelOptions {
  /** Temperature T, one value or one per chain (default: the target's default temperature; 1 for a LogDensity). */
  temperature?: number | ArrayLike<number>;
  /** Initial step size, one value or one per chain (default: the kernel's own). */
  stepSize?: number | ArrayLike<number>;
  /** Centre-of-mass handling (default 'remove' for translation-invariant targets). */
  com?: ComMode;
}

/**
 * Builds a Metropolis kernel (MALA, HMC or a user's own) for given
 * temperatures; parallel tempering and the sampling driver take one in place
 * of a kernel name, e.g. `(o) => hmc(density, { ...o, leapfrogSteps: 20 })`.
 */
export type McmcKernelFactory = (opts: McmcKernelOptions) => Kernel<McmcState, McmcInfo>;

/**
 * Centre-of-mass handling. 'remove': states are kept mean-free (unweighted
 * centroid 0 per spatial axis) by projecting positions, forces, noise and
 * momenta onto the mean-free subspace. 'keep': no projection.
 */
export type ComMode = 'remove' | 'keep';

/** The effective mode: the given one, else 'remove' for translation-invariant targets and 'keep' otherwise. */
export function resolveCom(target: Potential, com?: ComMode): ComMode {
  if (com === undefined) return target.translationInvariant ? 'remove' : 'keep';
  if (com !== 'remove' && com !== 'keep') throw new UserError(`com must be 'remove' or 'keep', got '${String(com)}'`);
  return com;
}

/** State of a batch of Metropolis chains (MALA, HMC): positions with their energies and forces. */
export interface McmcState {
  /** Number of chains (rows). */
  readonly n: number;
  /** Positions [n, dim]; mean-free per row when com = 'remove'. */
  readonly x: Float64Array;
  /** E(x) per row [n]. */
  readonly energy: Float64Array;
  /** −∇E(x) [n, dim], projected onto the mean-free subspace when com = 'remove'. */
  readonly forces: Float64Array;
  /** Step size per row [n] (fixed by `step`; changed only by an adapter during warm-up). */
  readonly stepSize: Float64Array;
}

/** What one Metropolis step did. */
export interface McmcInfo {
  /** min(1, Metropolis–Hastings ratio) per row [n] (0 for rejected non-finite proposals). */
  acceptProb: Float64Array;
  /** 1 where the proposal was accepted, per row [n]. */
  accepted: Uint8Array;
  /** Fraction of rows accepted in this step. */
  acceptanceRate: number;
  /** Energy(+force) evaluations this step used (rows × evaluations per row). */
  evaluations: number;
  /** Proposals rejected because their energy or force was NaN or infinite. */
  nonFinite: number;
}

/** Projects each row of a batch onto the mean-free subspace (in place). */
export function projectRows(target: Potential, a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) removeCentroidRow(a, i * target.dim, target.nParticles, target.spatialDim);
}

/**
 * Energies and forces of a batch; forces projected when `project`. Counts n
 * evaluations on the target's counter.
 */
export function evaluate(target: Potential, x: Float64Array, n: number, project: boolean): { energy: Float64Array; forces: Float64Array } {
  const { energy, forces } = target.energyAndForces(x, n);
  if (project) projectRows(target, forces, n);
  return { energy, forces };
}

/** True when row i has a finite energy and finite forces. */
export function rowFinite(energy: Float64Array, forces: Float64Array, i: number, dim: number): boolean {
  if (!Number.isFinite(energy[i])) return false;
  for (let j = i * dim; j < (i + 1) * dim; j++) if (!Number.isFinite(forces[j])) return false;
  return true;
}

/**
 * Copies a starting batch, makes it mean-free when `project`, evaluates it and
 * checks that every position, energy and force is finite (a chain cannot
 * start from a point of zero density).
 */
export function initialBatch(
  target: Potential,
  x0: Float64Array,
  project: boolean,
): { n: number; x: Float64Array; energy: Float64Array; forces: Float64Array } {
  const rows = batchSize(target, x0);
  if (rows < 1) throw new UserError(`sampler init: need at least one chain, got a batch of ${rows} rows`);
  const x = x0.slice(0, rows * target.dim);
  const badX = nonFiniteRows(x, rows, target.dim);
  if (badX.length > 0) throw new NonFiniteError(`sampler init: starting positions of rows ${describeRows(badX)} are not finite`, badX);
  if (project) projectRows(target, x, rows);
  const { energy, forces } = evaluate(target, x, rows, project);
  const bad: number[] = [];
  for (let i = 0; i < rows; i++) if (!rowFinite(energy, forces, i, target.dim)) bad.push(i);
  if (bad.length > 0) {
    throw new NonFiniteError(`sampler init: energy or force is not finite at ${bad.length} of ${rows} starting rows (rows ${describeRows(bad)})`, bad);
  }
  return { n: rows, x, energy, forces };
}

/**
 * A per-row array of positive finite values from a scalar or an array of
 * length n (`what` names the option in errors).
 */
export function positivePerRow(value: number | ArrayLike<number>, n: number, what: string): Float64Array {
  const out = new Float64Array(n);
  if (typeof value === 'number') {
    checkPositive(value, what);
    out.fill(value);
    return out;
  }
  if (value.length !== n) throw new UserError(`${what} has ${value.length} entries; expected 1 or ${n} (one per chain)`);
  for (let i = 0; i < n; i++) out[i] = checkPositive(value[i], `${what}[${i}]`);
  return out;
}

/** Inverse temperatures 1/(k_B T) per row from a scalar temperature or one per row. */
export function inverseTemperatures(target: Potential, temperature: number | ArrayLike<number>, n: number): Float64Array {
  const t = positivePerRow(temperature, n, 'temperature');
  for (let i = 0; i < n; i++) t[i] = 1 / (target.kB * t[i]);
  return t;
}

/** Returns v if it is a positive finite number, else throws a UserError naming `what`. */
export function checkPositive(v: number, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new UserError(`${what} must be a positive number, got ${v}`);
  return v;
}

/** Returns v if it is an integer ≥ min, else throws a UserError naming `what`. */
export function checkInteger(v: number, what: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new UserError(`${what} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

/** Checks that an acceptance-rate target lies strictly inside (0, 1). */
export function checkAcceptance(v: number, what = 'targetAcceptance'): number {
  if (typeof v !== 'number' || !(v > 0 && v < 1)) throw new UserError(`${what} must lie strictly between 0 and 1, got ${v}`);
  return v;
}
