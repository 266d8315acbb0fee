import type { Rng } from '../core/rng.js';
import { EvalCounter } from '../core/counter.js';
import { UserError } from '../core/errors.js';

/** Energies and forces of a batch. `energy`: [n]; `forces`: [n, dim], forces = −∂E/∂x. */
export interface EnergyForces {
  energy: Float64Array;
  forces: Float64Array;
}

/**
 * A Boltzmann target p_T(x) ∝ exp(−E(x)/(k_B T)). Batches are row-major
 * Float64Array [n, dim]; for particle systems dim = nParticles·spatialDim with
 * columns atom-major (x0, y0, z0, x1, …).
 */
export interface Target {
  readonly name: string;
  readonly dim: number;
  readonly nParticles: number;
  readonly spatialDim: number;
  /** Boltzmann constant in the target's energy unit per temperature unit (1 for reduced units). */
  readonly kB: number;
  readonly energyUnit: string;
  readonly lengthUnit: string;
  readonly temperatureUnit: string;
  /** The temperature the target is usually sampled at (1 for reduced units, 300 K for peptides). */
  readonly defaultTemperature: number;
  /**
   * True when E(x + c) = E(x) for every translation c (particle systems). The
   * density is then improper along the centre of mass, so samplers must hold
   * the centre of mass fixed (see samplers' `com` option).
   */
  readonly translationInvariant: boolean;
  /** Per-particle masses (amu for peptides), used by molecular dynamics; absent means unit masses. */
  readonly masses?: Float64Array;
  /**
   * The sampler `pita sample` (and runSampler) uses when none is named:
   * 'mala' where one local sampler mixes (the Gaussian), else 'pt' (absent
   * means 'pt'): metastable systems need the tempering ladder to pass their
   * own convergence diagnostics (README, "Sampler defaults").
   */
  readonly defaultSampler?: 'mala' | 'hmc' | 'langevin' | 'pt';
  /**
   * Langevin's default time step in the target's time unit (absent: 0.005, for
   * reduced-unit particle systems). Peptides: 0.001 ps, as `pita md`.
   */
  readonly defaultTimestep?: number;
  /**
   * Parallel tempering's default hottest temperature as a multiple of the
   * sampling temperature (absent: 10). LJ clusters 2, peptides 4, measured
   * (see LennardJonesTarget, MoleculeTarget).
   */
  readonly defaultTMaxFactor?: number;
  /** Counts every configuration whose energy was evaluated. */
  readonly counter: EvalCounter;
  /** Energies of n configurations; counts n evaluations. */
  energy(x: Float64Array, n?: number): Float64Array;
  /** Energies and forces of n configurations; counts n evaluations. */
  energyAndForces(x: Float64Array, n?: number): EnergyForces;
  /** Exact i.i.d. samples at temperature T, where the target allows it. */
  sampleExact?(rng: Rng, n: number, temperature: number): Float64Array;
  /** Random starting configurations (not equilibrium samples) for samplers. */
  initialConfigurations(rng: Rng, n: number): Float64Array;
}

/** Number of rows in a batch, checking that its length is a multiple of dim. */
export function batchSize(target: Pick<Target, 'name' | 'dim'>, x: Float64Array, n?: number): number {
  const rows = n ?? x.length / target.dim;
  if (!Number.isInteger(rows) || rows * target.dim > x.length) {
    throw new UserError(`target ${target.name}: batch of length ${x.length} is not [n, ${target.dim}]`);
  }
  return rows;
}

/**
 * Base class: subclasses implement one configuration's energy (and, when
 * `forces` is given, write −∇E into it at `fOff`). Batching, counting and
 * shape checks live here once.
 */
export abstract class BaseTarget implements Target {
  abstract readonly name: string;
  abstract readonly dim: number;
  abstract readonly nParticles: number;
  abstract readonly spatialDim: number;
  readonly kB: number = 1;
  readonly energyUnit: string = 'reduced';
  readonly lengthUnit: string = 'reduced';
  readonly temperatureUnit: string = 'reduced';
  readonly defaultTemperature: number = 1;
  abstract readonly translationInvariant: boolean;
  readonly counter = new EvalCounter();

  /** Energy of the configuration at x[off .. off+dim); writes −∇E to forces[fOff ..] if forces is given. */
  protected abstract evalOne(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number;

  energy(x: Float64Array, n?: number): Float64Array {
    const rows = batchSize(this, x, n);
    const e = new Float64Array(rows);
    for (let i = 0; i < rows; i++) e[i] = this.evalOne(x, i * this.dim, null, 0);
    this.counter.add(rows);
    return e;
  }

  energyAndForces(x: Float64Array, n?: number): EnergyForces {
    const rows = batchSize(this, x, n);
    const energy = new Float64Array(rows);
    const forces = new Float64Array(rows * this.dim);
    for (let i = 0; i < rows; i++) energy[i] = this.evalOne(x, i * this.dim, forces, i * this.dim);
    this.counter.add(rows);
    return { energy, forces };
  }

  abstract initialConfigurations(rng: Rng, n: number): Float64Array;
}

/** log p_T(x) = −E/(k_B T), up to the normalising constant. */
export function logProb(target: Pick<Target, 'kB'>, energy: Float64Array, temperature: number): Float64Array {
  const beta = 1 / (target.kB * temperature);
  const out = new Float64Array(energy.length);
  for (let i = 0; i < energy.length; i++) out[i] = -beta * energy[i];
  return out;
}

/** Validates a temperature from user input. */
export function checkTemperature(t: number, what = 'temperature'): number {
  if (!Number.isFinite(t) || t <= 0) throw new UserError(`${what} must be a positive number, got ${t}`);
  return t;
}
