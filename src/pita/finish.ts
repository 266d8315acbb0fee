/**
 * The end of an annealing step T_k → T_{k+1}, where the true energy enters
 * (docs/algorithm.md §5.8–§5.9; departures in §6):
 *
 * 1. Final importance reweighting (optional, default on): the annealed
 *    particles approximately follow exp(−γ·U_θ(x, σ_min)), so
 *    log w = ℓ_{T_{k+1}}(x) + γ·U_θ(x, σ_at) + log w_carried with σ_at = σ_min
 *    (correct) or the reference's σ(t_end); optional quantile clamp; one
 *    systematic resample. Non-finite energies get zero weight. log w_carried
 *    are the weights the annealer carried past its resampling window
 *    (`resampling.tail: 'weight'`), 0 otherwise; with reweighting off they
 *    alone are resampled.
 * 2. Relaxation: `steps` steps of a kernel on p_{T_{k+1}}: any kernel of
 *    src/samplers over the target, given as a factory (called with the
 *    temperature and `stepSize`, like the kernel factories PT and runSampler
 *    take), as a kernel built beforehand, or by the config's name (mapped to
 *    a factory by `relaxationKernel`): MALA with a working step size, not the
 *    reference's inert 1e-13; BAOAB Langevin with time step `stepSize`; or
 *    none. A Metropolis kernel (step size in its state, acceptance
 *    probabilities in its step info) has its step size adapted
 *    (Robbins–Monro toward 0.574 acceptance across the steps) and its
 *    acceptance reported.
 * 3. The energies and forces of the final set (reused from the relaxation
 *    when it ran, so they cost no extra evaluations).
 *
 * Positions here are physical (the target's units); the caller converts
 * from model coordinates. Evaluations are attributed on the target's counter
 * to 'final-reweight', 'relaxation' and 'buffer-fill'.
 */
import { effectiveSampleFraction } from '../core/logweights.js';
import type { Rng } from '../core/rng.js';
import { removeCentroid } from '../core/particles.js';
import { StepSizeAdapter } from '../samplers/adapt.js';
import { langevin } from '../samplers/langevin.js';
import { mala } from '../samplers/mala.js';
import { systematicResample } from '../samplers/smc.js';
import type { Kernel } from '../samplers/state.js';
import type { Target } from '../targets/target.js';
import { clampAtQuantile } from './anneal.js';
import { logDensity } from './units.js';

/** The relaxation kernels a run config names (`annealing.relaxation.kernel`). */
export type RelaxationKernelName = 'mala' | 'langevin' | 'none';

/** What the relaxation reads of a kernel's state: the target's positions, energies and forces, and a Metropolis kernel's step sizes. */
export interface RelaxationState {
  readonly x: Float64Array;
  readonly energy: Float64Array;
  readonly forces: Float64Array;
  readonly stepSize?: Float64Array;
}

/** What the relaxation reads of a step's info: a Metropolis kernel's acceptance probabilities and rate. */
export interface RelaxationInfo {
  readonly evaluations: number;
  readonly acceptProb?: Float64Array;
  readonly acceptanceRate?: number;
}

/** A kernel over the target (MALA, HMC, Langevin, or one's own) on a batch of particles. */
export type RelaxationKernel = Kernel<RelaxationState, RelaxationInfo>;

/**
 * Builds the relaxation kernel at the rung's temperature with the configured
 * initial step size (for dynamics, the time step). Every McmcKernelFactory
 * over the target is one, e.g. `(o) => hmc(target, { ...o, leapfrogSteps: 5 })`.
 */
export type RelaxationKernelFactory = (opts: { temperature: number; stepSize: number }) => RelaxationKernel;

export interface FinishConfig {
  temperature: number;
  gamma: number;
  finalReweight: { enabled: boolean; clampQuantile: number | null };
  /** `stepSize` is what a factory (or a name) gets; a kernel built beforehand keeps its own. */
  relaxation: { kernel: RelaxationKernelName | RelaxationKernelFactory | RelaxationKernel; steps: number; stepSize: number };
}

/** The config's relaxation kernels as factories over `target` (null: no relaxation); the one place the names are mapped. */
export function relaxationKernel(name: RelaxationKernelName, target: Target): RelaxationKernelFactory | null {
  if (name === 'mala') return (o) => mala(target, o);
  if (name === 'langevin') return (o) => langevin(target, { temperature: o.temperature, timestep: o.stepSize });
  return null;
}

export interface FinishResult {
  x: Float64Array;
  energy: Float64Array;
  forces: Float64Array;
  /** ESS fraction of the final importance weights (1 when reweighting is off). */
  reweightEss: number;
  uniqueAfterReweight: number;
  /** Acceptance over the relaxation steps of a Metropolis kernel (null for dynamics such as Langevin, or none). */
  relaxationAcceptance: number | null;
  /** A Metropolis kernel's adapted step size (first row), else the step size a factory was given; null without relaxation or for a kernel built beforehand. */
  relaxationStepSize: number | null;
}

/**
 * `modelEnergy(x)`: U_θ at the reweighting σ for physical positions x [M, D]
 * (the caller maps them to model coordinates).
 */
export async function finishAnneal(
  target: Target,
  x: Float64Array,
  M: number,
  modelEnergy: (x: Float64Array) => Promise<Float64Array>,
  cfg: FinishConfig,
  rng: Rng,
  carriedLogW: Float64Array | null = null,
): Promise<FinishResult> {
  const D = target.dim;
  let reweightEss = 1;
  let uniqueAfterReweight = M;
  let pos = x;
  const carried = carriedLogW !== null && carriedLogW.some((v) => v !== 0);
  if (cfg.finalReweight.enabled || carried) {
    const lw = carried ? Float64Array.from(carriedLogW) : new Float64Array(M);
    if (cfg.finalReweight.enabled) {
      const e = target.counter.attribute('final-reweight', () => target.energy(pos, M));
      const u = await modelEnergy(pos);
      const logp = logDensity(target, e, cfg.temperature);
      for (let i = 0; i < M; i++) lw[i] += Number.isFinite(e[i]) && Number.isFinite(u[i]) ? logp[i] + cfg.gamma * u[i] : -Infinity;
    }
    if (cfg.finalReweight.clampQuantile !== null) clampFinite(lw, cfg.finalReweight.clampQuantile);
    reweightEss = effectiveSampleFraction(lw); // throws, naming the problem, if every weight is zero
    const idx = systematicResample(rng, lw);
    uniqueAfterReweight = new Set(idx).size;
    const next = new Float64Array(M * D);
    for (let k = 0; k < M; k++) next.set(pos.subarray(idx[k] * D, idx[k] * D + D), k * D);
    pos = next;
  }
  if (target.translationInvariant) removeCentroid(pos, M, target.nParticles, target.spatialDim);
  const { steps, stepSize } = cfg.relaxation;
  const spec = cfg.relaxation.kernel;
  const build = typeof spec === 'string' ? relaxationKernel(spec, target) : typeof spec === 'function' ? spec : null;
  if ((typeof spec === 'string' && build === null) || steps === 0) {
    const ef = target.counter.attribute('buffer-fill', () => target.energyAndForces(pos, M));
    return { x: pos, energy: ef.energy, forces: ef.forces, reweightEss, uniqueAfterReweight, relaxationAcceptance: null, relaxationStepSize: null };
  }
  const kernel = build ? build({ temperature: cfg.temperature, stepSize }) : (spec as RelaxationKernel);
  return target.counter.attribute('relaxation', () => {
    let state = kernel.init(pos, rng);
    // A Metropolis kernel carries its step sizes in its state: they adapt across the steps.
    const adapter = state.stepSize ? new StepSizeAdapter(state.stepSize, { targetAcceptance: 0.574 }) : null;
    let accepted = 0;
    for (let s = 0; s < steps; s++) {
      const r = kernel.step(rng, state);
      state = r.state;
      if (adapter && r.info.acceptProb) {
        accepted += r.info.acceptanceRate ?? 0;
        state = { ...state, stepSize: adapter.update(r.info.acceptProb) };
      }
    }
    return {
      x: Float64Array.from(state.x),
      energy: Float64Array.from(state.energy),
      forces: Float64Array.from(state.forces),
      reweightEss,
      uniqueAfterReweight,
      relaxationAcceptance: adapter ? accepted / steps : null,
      relaxationStepSize: adapter && state.stepSize ? state.stepSize[0] : build ? stepSize : null,
    };
  });
}

function clampFinite(lw: Float64Array, q: number): void {
  const finite = lw.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return;
  clampAtQuantile(finite, q);
  const cap = Math.max(...finite);
  for (let i = 0; i < lw.length; i++) if (lw[i] > cap) lw[i] = cap;
}
