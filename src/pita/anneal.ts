/**
 * Feynman–Kac SMC annealing from T_k to T_{k+1} (algorithm spec §5).
 *
 * With γ = β_{k+1}/β_k, the particles follow the reverse SDE of the path
 * p̃_t(x) = exp(−γ·U(x, t)) on the EDM grid t_j = 1 − j/N (Euler–Maruyama,
 * left point, Δ = 1/N):
 *
 *   b = (g²/2)·s(x, t)                       score-model half of the drift
 *   v = γ·(g²/2)·(−∇ₓU) + γ_s·b              mixed drift
 *   x ← x + v·Δ + g·√Δ·ξ                     (then centroid removed for particle systems)
 *   A = γ·γ_s⟨−∇ₓU, b⟩ + γ_s·div b + γ·∂_tU   log-weight rate (constant γ)
 *   log w ← log w + A·Δ                       while start ≤ j < end
 *
 * A derivation (spec §5.3) shows these weights make the weighted particles
 * track p̃_t for any score model s and any score factor γ_s; only the energy
 * model U (its gradient and ∂U/∂t) and the divergence of s enter. The
 * reference code forces γ_s = γ (spec §10.7). For a Gaussian path the
 * unweighted SDE then contracts too much (variance 1/3 instead of 1/2 at
 * γ = 2), while γ_s = 1 follows the tempered marginals exactly: the drift
 * coefficient (γ + γ_s)/2 must equal (γ + 1)/2. γ_s = 1 therefore needs much
 * smaller weight corrections (lower log-weight variance, fewer duplicated
 * particles); it is `scoreGamma` = 1 in the run config. The field that supplies U, ∇U, ∂_tU,
 * s and div s is abstract (`AnnealField`): the neural models in production,
 * analytic ones in tests.
 *
 * Every choice the reference code makes implicitly is a config key here:
 * resampling every step or below an ESS threshold, the resampling window, the
 * quantile clamp of A (per chunk, as the reference, or off), and the
 * probability floor of systematic resampling (the reference floors at 1e-6
 * without renormalising; default here is no floor, which is unbiased). With
 * ESS-triggered resampling the last weighted step always resamples, so the
 * particles returned are equally weighted.
 * Final reweighting and relaxation need the true energy and live in
 * `finishAnneal` (see below).
 */
import { NonFiniteError, describeRows } from '../core/errors.js';
import { effectiveSampleFraction, normalizedWeights } from '../core/logweights.js';
import { removeCentroidRow } from '../core/particles.js';
import type { Rng } from '../core/rng.js';

/** The noise schedule the annealer needs (the EDM schedule of src/diffusion satisfies it). */
export interface AnnealSchedule {
  sigma(t: number): number;
  /** g(t)² = dσ²/dt. */
  g2(t: number): number;
}

/** What the models provide for m particles x [m, D] at EDM time t (per-particle arrays). */
export interface FieldValues {
  /** U(x, t) [m] */
  energy: Float64Array;
  /** ∇ₓU [m, D] */
  gradEnergy: Float64Array;
  /** ∂U/∂t [m] */
  dEnergyDt: Float64Array;
  /** s(x, t) [m, D] */
  score: Float64Array;
  /** div s = tr(∂s/∂x) [m] (exact or a Hutchinson estimate) */
  divScore: Float64Array;
}

export interface AnnealField {
  evaluate(x: Float64Array, m: number, t: number, rng: Rng): FieldValues;
  /** U and ∇ₓU only (for rejuvenation moves); falls back to `evaluate`. */
  energy?(x: Float64Array, m: number, t: number): { energy: Float64Array; gradEnergy: Float64Array };
}

/**
 * Resample-move: after each resampling, `steps` MALA moves on the current
 * path density p̃_t = exp(−γU(x, t)) (model energy only, no true-energy
 * evaluations). They leave the weighted particle measure invariant and give
 * duplicated particles distinct positions again, so fewer lineages collapse.
 * Step δ = ε·σ(t)², ε starting at `stepSize` and adapted after every sweep
 * (×1.1 above 0.574 acceptance, ÷1.1 below).
 */
export interface RejuvenationConfig {
  steps: number;
  stepSize: number;
}

export interface ResamplingConfig {
  /** 'every-step': resample after every weighted step (reference); 'ess': when the ESS fraction falls below `essThreshold`; 'never'. */
  mode: 'every-step' | 'ess' | 'never';
  essThreshold: number;
  /** Weighted steps are start ≤ j < end; later steps run without weights (reference: end 800 of 1000 for peptides, 900 for LJ-13). */
  start: number;
  end: number;
  /** Probability floor of systematic resampling without renormalisation (reference: 1e-6); 0 = none (unbiased). */
  floor: number;
}

export interface AnnealConfig {
  gamma: number;
  /** γ_s, the factor of the score half of the drift; default γ (the reference). */
  scoreGamma?: number;
  /** Number of Euler steps N. */
  steps: number;
  particles: number;
  dim: number;
  /** Particle layout for the centroid projection; null for non-particle targets. */
  meanFree: { nParticles: number; spatialDim: number } | null;
  resampling: ResamplingConfig;
  /** Clamp A at this quantile of A within each chunk (reference: 0.9); null = no clamp (unbiased). */
  clampQuantile: number | null;
  /** Particles per model evaluation (and per clamp quantile). */
  chunkSize: number;
  /** MALA moves after each resampling; default none (the reference). */
  rejuvenation?: RejuvenationConfig;
}

export interface AnnealStepLog {
  step: number;
  t: number;
  sigma: number;
  /** ESS fraction of the accumulated weights before any resampling at this step (1 outside the window). */
  ess: number;
  /** Variance of the accumulated log-weights before resampling. */
  logWeightVariance: number;
  /** Distinct ancestors after resampling (M when no resampling happened). */
  unique: number;
  resampled: boolean;
  /** Mean MALA acceptance of the rejuvenation moves after this step's resampling. */
  moveAcceptance?: number;
}

export interface AnnealResult {
  x: Float64Array;
  /** Log-weights left after the last step (0 after a resampling). */
  logWeights: Float64Array;
  log: AnnealStepLog[];
  resamplings: number;
}

/** Runs the weighted reverse SDE; `onStep` receives each step's log (for progress bars and log.jsonl). */
export function anneal(field: AnnealField, schedule: AnnealSchedule, cfg: AnnealConfig, rng: Rng, onStep?: (s: AnnealStepLog) => void): AnnealResult {
  validate(cfg);
  const { particles: M, dim: D, gamma, steps: N } = cfg;
  const gs = cfg.scoreGamma ?? gamma;
  const dt = 1 / N;
  const sqrtDt = Math.sqrt(dt);
  // Prior (reference): x ~ N(0, σ_max²/γ · I), centroid removed; initial log-weights 0.
  let x: Float64Array = new Float64Array(M * D);
  const priorStd = schedule.sigma(1) / Math.sqrt(gamma);
  for (let i = 0; i < x.length; i++) x[i] = priorStd * rng.normal();
  project(x, M, cfg);
  let logW: Float64Array = new Float64Array(M);
  const A = new Float64Array(M);
  const log: AnnealStepLog[] = [];
  let resamplings = 0;
  let epsilon = cfg.rejuvenation?.stepSize ?? 0;
  let acceptance: number | null = null;
  for (let j = 0; j < N; j++) {
    const t = 1 - j * dt;
    const g2 = schedule.g2(t);
    const g = Math.sqrt(g2);
    const weighted = j >= cfg.resampling.start && j < cfg.resampling.end && cfg.resampling.mode !== 'never';
    const next = new Float64Array(M * D);
    for (let c0 = 0; c0 < M; c0 += cfg.chunkSize) {
      const m = Math.min(cfg.chunkSize, M - c0);
      const xc = x.subarray(c0 * D, (c0 + m) * D);
      const f = field.evaluate(xc, m, t, rng);
      checkField(f, m, D, j);
      for (let i = 0; i < m; i++) {
        let dot = 0;
        for (let d = 0; d < D; d++) {
          const k = i * D + d;
          const s = f.score[k];
          const gu = f.gradEnergy[k];
          dot += -gu * (0.5 * g2 * s);
          next[(c0 + i) * D + d] = xc[k] + 0.5 * g2 * (gs * s - gamma * gu) * dt + g * sqrtDt * rng.normal();
        }
        A[c0 + i] = gamma * gs * dot + gs * 0.5 * g2 * f.divScore[i] + gamma * f.dEnergyDt[i];
      }
      if (cfg.clampQuantile !== null) clampAtQuantile(A.subarray(c0, c0 + m), cfg.clampQuantile);
    }
    project(next, M, cfg);
    x = next;
    let ess = 1;
    let variance = 0;
    let unique = M;
    let resampled = false;
    if (weighted) {
      for (let i = 0; i < M; i++) logW[i] += A[i] * dt;
      ess = effectiveSampleFraction(logW);
      variance = varianceOf(logW);
      // The last weighted step always resamples, so the output is an equally weighted set.
      const lastWeighted = j === cfg.resampling.end - 1;
      if (cfg.resampling.mode === 'every-step' || ess < cfg.resampling.essThreshold || lastWeighted) {
        const idx = systematicIndices(rng, logW, cfg.resampling.floor);
        x = gatherRows(x, idx, D);
        logW = new Float64Array(M);
        unique = new Set(idx).size;
        resampled = true;
        resamplings++;
        if (cfg.rejuvenation && cfg.rejuvenation.steps > 0) {
          const r = rejuvenate(field, x, cfg, t - dt, schedule.sigma(t - dt), epsilon, rng);
          epsilon = r.epsilon;
          acceptance = r.acceptance;
        }
      }
    }
    const entry: AnnealStepLog = { step: j, t, sigma: schedule.sigma(t), ess, logWeightVariance: variance, unique, resampled, ...(acceptance !== null && resampled ? { moveAcceptance: acceptance } : {}) };
    log.push(entry);
    onStep?.(entry);
  }
  return { x, logWeights: logW, log, resamplings };
}

/** `steps` MALA sweeps on exp(−γU(·, t)) in place, chunk by chunk; returns the adapted ε and the mean acceptance. */
function rejuvenate(field: AnnealField, x: Float64Array, cfg: AnnealConfig, t: number, sigma: number, epsilon: number, rng: Rng): { epsilon: number; acceptance: number } {
  const { particles: M, dim: D, gamma } = cfg;
  const energyOf = (xc: Float64Array, m: number) => (field.energy ? field.energy(xc, m, t) : field.evaluate(xc, m, t, rng));
  let accepted = 0;
  let tried = 0;
  for (let sweep = 0; sweep < cfg.rejuvenation!.steps; sweep++) {
    const delta = epsilon * sigma * sigma;
    const sd = Math.sqrt(delta);
    let acc = 0;
    for (let c0 = 0; c0 < M; c0 += cfg.chunkSize) {
      const m = Math.min(cfg.chunkSize, M - c0);
      const xc = x.subarray(c0 * D, (c0 + m) * D);
      const cur = energyOf(xc, m);
      const prop = new Float64Array(m * D);
      for (let k = 0; k < m * D; k++) prop[k] = xc[k] - 0.5 * delta * gamma * cur.gradEnergy[k] + sd * rng.normal();
      project(prop, m, { ...cfg, particles: m });
      const nxt = energyOf(prop, m);
      for (let i = 0; i < m; i++) {
        // log q(a|b) = −‖a − b + (δ/2)γ∇U(b)‖²/(2δ)
        let fwd = 0;
        let bwd = 0;
        for (let d = 0; d < D; d++) {
          const k = i * D + d;
          fwd += (prop[k] - xc[k] + 0.5 * delta * gamma * cur.gradEnergy[k]) ** 2;
          bwd += (xc[k] - prop[k] + 0.5 * delta * gamma * nxt.gradEnergy[k]) ** 2;
        }
        const logAlpha = -gamma * (nxt.energy[i] - cur.energy[i]) - (bwd - fwd) / (2 * delta);
        if (Number.isFinite(logAlpha) && Math.log(rng.uniform()) < logAlpha) {
          xc.set(prop.subarray(i * D, (i + 1) * D), i * D);
          acc++;
        }
      }
    }
    accepted += acc;
    tried += M;
    epsilon = acc / M > 0.574 ? epsilon * 1.1 : epsilon / 1.1;
  }
  return { epsilon, acceptance: accepted / tried };
}

/**
 * Systematic resampling on log-weights: one uniform u, points (u + k)/M;
 * with `floor` > 0 the probabilities are clipped below at `floor` without
 * renormalising (the reference's quirk), and a point past the total maps to
 * the last index.
 */
export function systematicIndices(rng: Rng, logW: Float64Array, floor = 0): Int32Array {
  const M = logW.length;
  const p = normalizedWeights(logW);
  if (floor > 0) for (let i = 0; i < M; i++) p[i] = Math.min(1, Math.max(floor, p[i]));
  const u = rng.uniform();
  const out = new Int32Array(M);
  let i = 0;
  let cum = p[0];
  for (let k = 0; k < M; k++) {
    const point = (u + k) / M;
    while (point >= cum && i < M - 1) cum += p[++i];
    out[k] = i;
  }
  return out;
}

/** Replaces every value above the q-quantile (linear interpolation, as numpy/torch) with it. */
export function clampAtQuantile(a: Float64Array, q: number): void {
  if (a.length === 0) return;
  const sorted = Float64Array.from(a).sort();
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const cap = sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
  for (let i = 0; i < a.length; i++) if (a[i] > cap) a[i] = cap;
}

function gatherRows(x: Float64Array, idx: Int32Array, D: number): Float64Array {
  const out = new Float64Array(idx.length * D);
  for (let k = 0; k < idx.length; k++) out.set(x.subarray(idx[k] * D, idx[k] * D + D), k * D);
  return out;
}

function project(x: Float64Array, M: number, cfg: AnnealConfig): void {
  if (!cfg.meanFree) return;
  const { nParticles, spatialDim } = cfg.meanFree;
  for (let i = 0; i < M; i++) removeCentroidRow(x, i * cfg.dim, nParticles, spatialDim);
}

function varianceOf(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  const mean = s / a.length;
  let ss = 0;
  for (const v of a) ss += (v - mean) ** 2;
  return ss / a.length;
}

function checkField(f: FieldValues, m: number, D: number, step: number): void {
  const bad: number[] = [];
  for (let i = 0; i < m; i++) {
    let ok = Number.isFinite(f.energy[i]) && Number.isFinite(f.dEnergyDt[i]) && Number.isFinite(f.divScore[i]);
    for (let d = 0; ok && d < D; d++) ok = Number.isFinite(f.score[i * D + d]) && Number.isFinite(f.gradEnergy[i * D + d]);
    if (!ok) bad.push(i);
  }
  if (bad.length > 0) throw new NonFiniteError(`annealing step ${step}: the model returned non-finite values for ${bad.length} of ${m} particles (chunk rows ${describeRows(bad)})`, bad);
}

function validate(cfg: AnnealConfig): void {
  const r = cfg.resampling;
  const problems: string[] = [];
  if (!(cfg.gamma > 0) || !Number.isFinite(cfg.gamma)) problems.push(`gamma must be positive, got ${cfg.gamma}`);
  if (cfg.rejuvenation && !(Number.isInteger(cfg.rejuvenation.steps) && cfg.rejuvenation.steps >= 0 && cfg.rejuvenation.stepSize > 0)) problems.push(`rejuvenation needs integer steps ≥ 0 and stepSize > 0, got ${JSON.stringify(cfg.rejuvenation)}`);
  if (cfg.scoreGamma !== undefined && !(cfg.scoreGamma > 0 && Number.isFinite(cfg.scoreGamma))) problems.push(`scoreGamma must be positive, got ${cfg.scoreGamma}`);
  if (!Number.isInteger(cfg.steps) || cfg.steps < 1) problems.push(`steps must be an integer ≥ 1, got ${cfg.steps}`);
  if (!Number.isInteger(cfg.particles) || cfg.particles < 1) problems.push(`particles must be an integer ≥ 1, got ${cfg.particles}`);
  if (!Number.isInteger(cfg.chunkSize) || cfg.chunkSize < 1) problems.push(`chunkSize must be an integer ≥ 1, got ${cfg.chunkSize}`);
  if (!(r.start >= 0 && r.start <= r.end && r.end <= cfg.steps)) problems.push(`resampling window must satisfy 0 ≤ start ≤ end ≤ steps, got ${r.start}..${r.end} of ${cfg.steps}`);
  if (!(r.essThreshold > 0 && r.essThreshold <= 1)) problems.push(`essThreshold must be in (0, 1], got ${r.essThreshold}`);
  if (!(r.floor >= 0 && r.floor < 1 / cfg.particles + 1e-12)) problems.push(`resampling floor must be in [0, 1/particles], got ${r.floor}`);
  if (cfg.clampQuantile !== null && !(cfg.clampQuantile > 0 && cfg.clampQuantile <= 1)) problems.push(`clampQuantile must be in (0, 1] or null, got ${cfg.clampQuantile}`);
  if (problems.length > 0) throw new RangeError(`invalid annealing config: ${problems.join('; ')}`);
}
