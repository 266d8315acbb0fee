/**
 * Hamiltonian Monte Carlo with a leapfrog integrator, batched over chains.
 *
 * Target π(x) ∝ exp(−β E(x)), β = 1/(k_B T). Dimensionless Hamiltonian with
 * a scalar mass m: H(x, p) = β E(x) + |p|²/(2m), momenta p ~ N(0, m I).
 * One step: draw p, run L leapfrog steps of size ε
 *   p ← p + (ε/2) β F(x);  x ← x + ε p/m;  p ← p + (ε/2) β F(x),
 * accept (x_L, p_L) with probability min(1, exp(−ΔH)).
 *
 * Cost: L energy+force evaluations per chain per step. The forces at the
 * start of the trajectory are those stored in the state (the end point of the
 * previous accepted trajectory), so no extra evaluation is needed.
 *
 * com = 'remove': momenta and forces are projected onto the mean-free
 * subspace V, so x stays in V; Pξ is standard normal on V and the kinetic
 * energy of a projected momentum is the same quadratic form, so ΔH is
 * unchanged (see mala.ts for why the projection leaves the formulas intact).
 *
 * A chain whose energy or forces turn non-finite mid-trajectory stops moving
 * for the rest of that trajectory and is rejected (counted in `nonFinite`).
 */
import type { Rng } from '../core/rng.js';
import { asPotential, type LogDensity } from '../targets/density.js';
import type { Target } from '../targets/target.js';
import {
  checkInteger,
  checkPositive,
  evaluate,
  initialBatch,
  inverseTemperatures,
  positivePerRow,
  projectRows,
  resolveCom,
  rowFinite,
  type Kernel,
  type McmcInfo,
  type McmcKernelOptions,
  type McmcState,
} from './state.js';

/** Temperature (default the target's default, 1 for a LogDensity), initial leapfrog step size ε (default 0.05), com mode, and: */
export interface HmcOptions extends McmcKernelOptions {
  /** Leapfrog steps L per HMC step (default 10). */
  leapfrogSteps?: number;
  /** Scalar mass m (default 1). */
  mass?: number;
}

/** HMC on a Target at temperature T, or on any LogDensity π (T = 1 samples π). */
export function hmc(model: Target | LogDensity, opts: HmcOptions = {}): Kernel<McmcState, McmcInfo> {
  const target = asPotential(model);
  const project = resolveCom(target, opts.com) === 'remove';
  const dim = target.dim;
  const L = checkInteger(opts.leapfrogSteps ?? 10, 'leapfrogSteps', 1);
  const mass = checkPositive(opts.mass ?? 1, 'mass');
  const stepSize0 = opts.stepSize ?? 0.05;
  const temperature = opts.temperature ?? target.defaultTemperature;
  // Validate the temperatures now; init checks that a per-chain list matches the batch.
  inverseTemperatures(target, temperature, typeof temperature === 'number' ? 1 : temperature.length);

  return {
    init(x0: Float64Array): McmcState {
      const b = initialBatch(target, x0, project);
      inverseTemperatures(target, temperature, b.n);
      return { ...b, stepSize: positivePerRow(stepSize0, b.n, 'stepSize') };
    },

    step(rng: Rng, s: McmcState): { state: McmcState; info: McmcInfo } {
      const { n, stepSize } = s;
      const beta = inverseTemperatures(target, temperature, n);
      const p = rng.normals(n * dim);
      const sqrtM = Math.sqrt(mass);
      for (let j = 0; j < p.length; j++) p[j] *= sqrtM;
      if (project) projectRows(target, p, n);
      const kinetic0 = kineticEnergies(p, n, dim, mass);

      const x = s.x.slice();
      let e = s.energy;
      let f = s.forces;
      const diverged = new Uint8Array(n);
      for (let l = 0; l < L; l++) {
        for (let i = 0; i < n; i++) {
          if (diverged[i]) continue;
          const half = 0.5 * stepSize[i] * beta[i];
          const drift = stepSize[i] / mass;
          for (let j = i * dim; j < (i + 1) * dim; j++) {
            p[j] += half * f[j];
            x[j] += drift * p[j];
          }
        }
        if (project) projectRows(target, x, n); // rounding only
        ({ energy: e, forces: f } = evaluate(target, x, n, project));
        for (let i = 0; i < n; i++) {
          if (diverged[i]) continue;
          if (!rowFinite(e, f, i, dim)) {
            diverged[i] = 1;
            continue;
          }
          const half = 0.5 * stepSize[i] * beta[i];
          for (let j = i * dim; j < (i + 1) * dim; j++) p[j] += half * f[j];
        }
      }
      const kinetic1 = kineticEnergies(p, n, dim, mass);

      const nx = s.x.slice();
      const ne = s.energy.slice();
      const nf = s.forces.slice();
      const acceptProb = new Float64Array(n);
      const accepted = new Uint8Array(n);
      let nAccepted = 0;
      let nonFinite = 0;
      for (let i = 0; i < n; i++) {
        const u = rng.uniformPositive();
        if (diverged[i] || !Number.isFinite(kinetic1[i])) {
          nonFinite++;
          continue;
        }
        const logRatio = -(beta[i] * (e[i] - s.energy[i]) + kinetic1[i] - kinetic0[i]);
        acceptProb[i] = logRatio >= 0 ? 1 : Math.exp(logRatio);
        if (Math.log(u) < logRatio) {
          accepted[i] = 1;
          nAccepted++;
          nx.set(x.subarray(i * dim, (i + 1) * dim), i * dim);
          nf.set(f.subarray(i * dim, (i + 1) * dim), i * dim);
          ne[i] = e[i];
        }
      }
      return {
        state: { n, x: nx, energy: ne, forces: nf, stepSize },
        info: { acceptProb, accepted, acceptanceRate: nAccepted / n, evaluations: n * L, nonFinite },
      };
    },
  };
}

/** |p_i|²/(2m) per row. */
function kineticEnergies(p: Float64Array, n: number, dim: number, mass: number): Float64Array {
  const k = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = i * dim; j < (i + 1) * dim; j++) s += p[j] * p[j];
    k[i] = s / (2 * mass);
  }
  return k;
}
