/**
 * What the sampling kernels need from a distribution, and the adapters
 * between the two ways of giving one.
 *
 * A `LogDensity` is the smallest thing a researcher writes: a dimension and,
 * for a batch, log π(x) (up to a constant) with its gradient. A `Target` is a
 * physical system (energies, forces, k_B, particles). The kernels are written
 * once against a `Potential` (energy E and force F = −∇E with k_B): a Target
 * is one as it stands, and a LogDensity becomes one with E = −log π, F = ∇log π
 * and k_B = 1, so temperature T samples π^(1/T) and T = 1 samples π itself.
 * Negation is exact in floating point, so nothing is lost in the adaptation,
 * and Targets take exactly the code path they always took.
 */
import { EvalCounter } from '../core/counter.js';
import { UserError } from '../core/errors.js';
import { logProb, type EnergyForces, type Target } from './target.js';

/** An unnormalised log-density over R^dim, evaluated on batches x [n, dim] (row-major). */
export interface LogDensity {
  readonly dim: number;
  /** Used in error messages (default 'density'). */
  readonly name?: string;
  /**
   * Particle layout when the coordinates are nParticles points in spatialDim
   * dimensions (atom-major). With translationInvariant, kernels hold the
   * centre of mass fixed by default (see the samplers' `com` option).
   */
  readonly layout?: { nParticles: number; spatialDim: number; translationInvariant: boolean };
  /** log π of each row [n] and ∇log π [n, dim]. */
  logDensityAndGradient(x: Float64Array, n: number): { logDensity: Float64Array; gradient: Float64Array };
}

/** The part of a Target the kernels and the sampling driver use. */
export type Potential = Pick<
  Target,
  'name' | 'dim' | 'nParticles' | 'spatialDim' | 'kB' | 'translationInvariant' | 'masses' | 'counter' | 'energyAndForces' | 'defaultTemperature'
> &
  Partial<Pick<Target, 'initialConfigurations' | 'defaultTimestep'>>;

/** True for a Target (it has energies and forces), false for a bare LogDensity. */
export function isTarget(m: Target | LogDensity): m is Target {
  return typeof (m as Partial<Target>).energyAndForces === 'function';
}

// One potential per density, so its evaluation counter lives as long as the density.
const potentials = new WeakMap<LogDensity, Potential>();

/** The Potential the kernels run on: a Target itself, or E = −log π, F = ∇log π, k_B = 1 for a LogDensity. */
export function asPotential(m: Target | LogDensity): Potential {
  if (isTarget(m)) return m;
  const cached = potentials.get(m);
  if (cached) return cached;
  const name = m.name ?? 'density';
  const dim = m.dim;
  if (!Number.isInteger(dim) || dim < 1) throw new UserError(`${name}: dim must be an integer ≥ 1, got ${String(dim)}`);
  const layout = m.layout ?? { nParticles: dim, spatialDim: 1, translationInvariant: false };
  if (layout.nParticles * layout.spatialDim !== dim) {
    throw new UserError(`${name}: layout ${layout.nParticles} × ${layout.spatialDim} does not match dim ${dim}`);
  }
  const counter = new EvalCounter();
  const p: Potential = {
    name,
    dim,
    nParticles: layout.nParticles,
    spatialDim: layout.spatialDim,
    translationInvariant: layout.translationInvariant,
    kB: 1,
    defaultTemperature: 1,
    counter,
    energyAndForces(x: Float64Array, n?: number): EnergyForces {
      const rows = n ?? x.length / dim;
      const r = m.logDensityAndGradient(x, rows);
      if (r.logDensity.length !== rows || r.gradient.length !== rows * dim) {
        throw new UserError(`${name}: logDensityAndGradient returned ${r.logDensity.length} values and a gradient of ${r.gradient.length}; expected ${rows} and ${rows * dim}`);
      }
      counter.add(rows);
      // Copies: kernels project forces in place and must not touch the caller's arrays.
      return { energy: Float64Array.from(r.logDensity, (l) => -l), forces: Float64Array.from(r.gradient) };
    },
  };
  potentials.set(m, p);
  return p;
}

/** A Target as a LogDensity at `temperature`: log p_T = −E/(k_B T), ∇log p_T = F/(k_B T). Evaluations count on the target. */
export function targetLogDensity(target: Target, temperature: number = target.defaultTemperature): LogDensity {
  const beta = 1 / (target.kB * temperature);
  return {
    name: target.name,
    dim: target.dim,
    layout: { nParticles: target.nParticles, spatialDim: target.spatialDim, translationInvariant: target.translationInvariant },
    logDensityAndGradient(x, n) {
      const { energy, forces } = target.energyAndForces(x, n);
      return { logDensity: logProb(target, energy, temperature), gradient: Float64Array.from(forces, (f) => beta * f) };
    },
  };
}
