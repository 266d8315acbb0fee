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
 * 2. Relaxation: `steps` MALA sweeps on p_{T_{k+1}} with a working step size
 *    (Robbins–Monro adaptation toward 0.574 acceptance across the sweeps,
 *    started at `stepSize`, not the reference's inert 1e-13), or BAOAB
 *    Langevin steps with time step `stepSize`, or none.
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
import type { Target } from '../targets/target.js';
import { clampAtQuantile } from './anneal.js';
import { logDensity } from './units.js';

export interface FinishConfig {
  temperature: number;
  gamma: number;
  finalReweight: { enabled: boolean; clampQuantile: number | null };
  relaxation: { kernel: 'mala' | 'langevin' | 'none'; steps: number; stepSize: number };
}

export interface FinishResult {
  x: Float64Array;
  energy: Float64Array;
  forces: Float64Array;
  /** ESS fraction of the final importance weights (1 when reweighting is off). */
  reweightEss: number;
  uniqueAfterReweight: number;
  /** MALA acceptance over the relaxation sweeps (null for Langevin or none). */
  relaxationAcceptance: number | null;
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
  const { kernel, steps, stepSize } = cfg.relaxation;
  if (kernel === 'none' || steps === 0) {
    const ef = target.counter.attribute('buffer-fill', () => target.energyAndForces(pos, M));
    return { x: pos, energy: ef.energy, forces: ef.forces, reweightEss, uniqueAfterReweight, relaxationAcceptance: null, relaxationStepSize: null };
  }
  return target.counter.attribute('relaxation', () => {
    if (kernel === 'mala') {
      const k = mala(target, { temperature: cfg.temperature, stepSize });
      let state = k.init(pos, rng);
      const adapter = new StepSizeAdapter(state.stepSize, { targetAcceptance: 0.574 });
      let accepted = 0;
      for (let s = 0; s < steps; s++) {
        const r = k.step(rng, state);
        accepted += r.info.acceptanceRate;
        state = { ...r.state, stepSize: adapter.update(r.info.acceptProb) };
      }
      return {
        x: Float64Array.from(state.x),
        energy: Float64Array.from(state.energy),
        forces: Float64Array.from(state.forces),
        reweightEss,
        uniqueAfterReweight,
        relaxationAcceptance: accepted / steps,
        relaxationStepSize: state.stepSize[0],
      };
    }
    const k = langevin(target, { temperature: cfg.temperature, timestep: stepSize });
    let state = k.init(pos, rng);
    for (let s = 0; s < steps; s++) state = k.step(rng, state).state;
    return { x: Float64Array.from(state.x), energy: Float64Array.from(state.energy), forces: Float64Array.from(state.forces), reweightEss, uniqueAfterReweight, relaxationAcceptance: null, relaxationStepSize: stepSize };
  });
}

function clampFinite(lw: Float64Array, q: number): void {
  const finite = lw.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return;
  clampAtQuantile(finite, q);
  const cap = Math.max(...finite);
  for (let i = 0; i < lw.length; i++) if (lw[i] > cap) lw[i] = cap;
}
