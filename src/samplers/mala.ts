/**
 * Metropolis-adjusted Langevin (MALA) at temperature T, batched over chains.
 *
 * Target π(x) ∝ exp(−β E(x)), β = 1/(k_B T), so ∇log π = β F with F = −∇E.
 * Proposal, per chain with step size h:
 *   x' = x + h β F(x) + √(2h) ξ,   ξ ~ N(0, I),
 * i.e. q(x'|x) = N(x'; x + hβF(x), 2h I), log q(x'|x) = −|x' − x − hβF(x)|²/(4h) + c.
 * Accepted with probability min(1, exp(−β(E' − E) + log q(x|x') − log q(x'|x))).
 *
 * Centre of mass, com = 'remove': x, F(x) and ξ are projected onto the
 * mean-free subspace V (orthogonal projection P). Then x' ∈ V, and Pξ is a
 * standard normal on V, so q restricted to V is the Gaussian with the same
 * mean and covariance 2h·I_V: its log-density is the same quadratic form
 * with a constant that is identical in both directions and cancels in the
 * ratio. The target restricted to V is exp(−βE) (E is translation-invariant,
 * so F ∈ V already and the projection only removes rounding).
 *
 * Cost: one energy+force evaluation per chain per step (the current state's
 * energy and forces are carried in the state).
 */
import type { Rng } from '../core/rng.js';
import { asPotential, type LogDensity } from '../targets/density.js';
import type { Target } from '../targets/target.js';
import {
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

/** Temperature T (target's unit; default its default temperature, 1 for a LogDensity), initial step size h (default 0.01), com mode. */
export type MalaOptions = McmcKernelOptions;

/** MALA on a Target at temperature T, or on any LogDensity π (T = 1 samples π). */
export function mala(model: Target | LogDensity, opts: MalaOptions = {}): Kernel<McmcState, McmcInfo> {
  const target = asPotential(model);
  const project = resolveCom(target, opts.com) === 'remove';
  const dim = target.dim;
  const stepSize0 = opts.stepSize ?? 0.01;
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
      const { n, x, energy, forces, stepSize } = s;
      const beta = inverseTemperatures(target, temperature, n);
      const xp = new Float64Array(n * dim);
      const noise = rng.normals(n * dim);
      if (project) projectRows(target, noise, n);
      for (let i = 0; i < n; i++) {
        const hb = stepSize[i] * beta[i];
        const sd = Math.sqrt(2 * stepSize[i]);
        for (let j = i * dim; j < (i + 1) * dim; j++) xp[j] = x[j] + hb * forces[j] + sd * noise[j];
      }
      if (project) projectRows(target, xp, n); // rounding only: every term is already mean-free
      const prop = evaluate(target, xp, n, project);

      const nx = x.slice();
      const ne = energy.slice();
      const nf = forces.slice();
      const acceptProb = new Float64Array(n);
      const accepted = new Uint8Array(n);
      let nAccepted = 0;
      let nonFinite = 0;
      for (let i = 0; i < n; i++) {
        const u = rng.uniformPositive();
        if (!rowFinite(prop.energy, prop.forces, i, dim)) {
          nonFinite++;
          continue;
        }
        const h = stepSize[i];
        const hb = h * beta[i];
        let fwd = 0; // |x' − x − hβF(x)|²
        let rev = 0; // |x − x' − hβF(x')|²
        for (let j = i * dim; j < (i + 1) * dim; j++) {
          const a = xp[j] - x[j] - hb * forces[j];
          const c = x[j] - xp[j] - hb * prop.forces[j];
          fwd += a * a;
          rev += c * c;
        }
        const logRatio = -beta[i] * (prop.energy[i] - energy[i]) + (fwd - rev) / (4 * h);
        acceptProb[i] = logRatio >= 0 ? 1 : Math.exp(logRatio);
        if (Math.log(u) < logRatio) {
          accepted[i] = 1;
          nAccepted++;
          nx.set(xp.subarray(i * dim, (i + 1) * dim), i * dim);
          nf.set(prop.forces.subarray(i * dim, (i + 1) * dim), i * dim);
          ne[i] = prop.energy[i];
        }
      }
      return {
        state: { n, x: nx, energy: ne, forces: nf, stepSize },
        info: { acceptProb, accepted, acceptanceRate: nAccepted / n, evaluations: n, nonFinite },
      };
    },
  };
}
