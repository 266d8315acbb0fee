/**
 * Feynman–Kac SMC annealing from T_k to T_{k+1} (docs/algorithm.md §5).
 *
 * With γ = β_{k+1}/β_k, the particles follow the reverse SDE of the path
 * p̃_t(x) = exp(−γ·U(x, t)) on the EDM grid t_j = 1 − j/N (Euler–Maruyama,
 * left point, Δ = 1/N):
 *
 *   b = (g²/2)·s(x, t)                       score-model half of the drift
 *   v = γ·(g²/2)·(−∇ₓU) + γ_s·b              mixed drift
 *   x ← x + v·Δ + g·√Δ·ξ                     (then centroid removed for particle systems)
 *   A = γ·γ_s⟨−∇ₓU, b⟩ + γ_s·div b + γ·∂_tU + (dγ/dt)·U   log-weight rate
 *   log w ← log w + A·Δ                       while start ≤ j < end (and after, with tail 'weight')
 *
 * A derivation (docs/algorithm.md §5.3) shows these weights make the weighted particles
 * track p̃_t for any score model s and any score factor γ_s; only the energy
 * model U (its gradient and ∂U/∂t) and the divergence of s enter. The
 * reference code forces γ_s = γ (docs/algorithm.md §6.7). For a Gaussian path the
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
 * ESS-triggered resampling the last step of the window always resamples, so the
 * particles returned are equally weighted, unless the tail after the window
 * keeps weighting (`tail: 'weight'`): then the result carries its log-weights.
 * `weighting: 'discrete'` replaces the rate A by the exact importance weights
 * of the discretised chain (see `annealKernel`): the Riemann sum of A is biased
 * at finite N (on DW-4 with 100–400 steps it over-weights compact
 * configurations), the discrete weights are not.
 * Final reweighting and relaxation need the true energy and live in
 * `finishAnneal` (src/pita/finish.ts).
 *
 * The annealer is a kernel with explicit state (`annealKernel`: init and
 * step on an `AnnealState`); `anneal` loops over it. Each step's random
 * numbers come from a stream derived from the step index, and within it from
 * one stream per particle, so the result does not depend on the chunking,
 * and a run resumed from a saved state (`AnnealOptions.resume`) continues
 * bit-identically. Where the field is computed does not matter either, as
 * long as each row's values do not depend on the other rows of its
 * evaluation: PITA's runs split every evaluation's rows across worker
 * threads (src/pita/data-parallel.ts), which is exact because the networks
 * compute every row on its own (measured bit for bit on tfjs-wasm, and
 * tested in test/pita/anneal-workers.test.ts). The host's largest share of a
 * step, the noise, is drawn while the field is evaluated elsewhere (a GPU,
 * worker threads): a step's own noise with continuous weights, the next
 * step's with discrete ones (docs/tensor-engine.md §2.21).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { InterruptedError, NonFiniteError, describeRows } from '../core/errors.js';
import { effectiveSampleFraction } from '../core/logweights.js';
import { removeCentroidRow } from '../core/particles.js';
import type { Rng, RngState } from '../core/rng.js';
import { systematicResample, uniqueCount } from '../samplers/smc.js';
import { type NoiseSource, particleNormalsInto } from './particle-noise.js';

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

/** The values the proposal needs: U, ∇ₓU and s (no divergence, no ∂U/∂t). */
export type DriftValues = Pick<FieldValues, 'energy' | 'gradEnergy' | 'score'>;

/** The random stream of row i of an evaluation (the annealer derives one per particle; see `AnnealKernel`). */
export type RowStreams = (row: number) => Rng;

export interface AnnealField {
  /** Everything at once; a field with random parts (Hutchinson probes) draws row i's from `rows(i)`. */
  evaluate(x: Float64Array, m: number, t: number, rows: RowStreams): Promise<FieldValues>;
  /** U, ∇ₓU and s only (discrete weighting needs nothing else); falls back to `evaluate`. */
  drift?(x: Float64Array, m: number, t: number): Promise<DriftValues>;
  /** U and ∇ₓU only (for rejuvenation moves); falls back to `evaluate`. */
  energy?(x: Float64Array, m: number, t: number): Promise<{ energy: Float64Array; gradEnergy: Float64Array }>;
  /** Frees what the field holds on the device (its owner calls it when the annealing is over). */
  dispose?(): void;
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
  /** Resampling may happen at steps start ≤ j < end (reference: end 800 of 1000 for peptides, 900 for LJ-13). */
  start: number;
  end: number;
  /**
   * Steps j ≥ end: 'discard' runs them without weights (the reference; biased when U_θ's offsets between
   * modes change over those σ); 'weight' keeps accumulating the exact weights without resampling, and the
   * result carries them (`AnnealResult.logWeights`) into the final reweight. Default 'discard'.
   */
  tail?: 'discard' | 'weight';
  /** Probability floor of systematic resampling without renormalisation (reference: 1e-6); 0 = none (unbiased). */
  floor: number;
}

/**
 * γ(t) along the path (docs/algorithm.md §5.1): 'constant' (the reference's only use) keeps
 * γ for all t; 'linear' and 'sigmoid' go from `start` (t ≥ tStart) to γ
 * (t ≤ tEnd). The sigmoid is the reference's logistic in (centre − t)/width
 * with `sharpness`, rescaled here so that it reaches exactly `start` and γ at
 * the window's ends (the reference's does not, and its dγ/dt has the wrong
 * sign). With start = 1 the particles follow the model's own reverse
 * diffusion until tStart and are tempered only inside the window.
 */
export interface GammaSchedule {
  kind: 'constant' | 'linear' | 'sigmoid';
  start: number;
  tStart: number;
  tEnd: number;
  sharpness: number;
}

export interface AnnealConfig {
  /** γ = β_{k+1}/β_k, the factor at t = 0 (and everywhere for a constant schedule). */
  gamma: number;
  gammaSchedule?: GammaSchedule;
  /**
   * 'continuous' (the reference): log w += A·Δ with the FK rate A, exact only as Δ → 0.
   * 'discrete': exact importance weights of the discretised path (see `annealKernel`).
   */
  weighting?: 'continuous' | 'discrete';
  /** γ_s, the factor of the score half of the drift; default γ(t) (the reference). */
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
  /** Log-weights left after the last step (0 after a resampling; the tail's weights with `tail: 'weight'`). */
  logWeights: Float64Array;
  log: AnnealStepLog[];
  resamplings: number;
}

/** γ(t) and dγ/dt of a config (constant γ when no schedule is given). */
export function gammaPath(cfg: Pick<AnnealConfig, 'gamma' | 'gammaSchedule'>): { at(t: number): number; rate(t: number): number } {
  const g = cfg.gamma;
  const sc = cfg.gammaSchedule;
  if (!sc || sc.kind === 'constant') return { at: () => g, rate: () => 0 };
  const { start, tStart, tEnd } = sc;
  const width = tStart - tEnd;
  if (sc.kind === 'linear') {
    const slope = (start - g) / width;
    return { at: (t) => (t >= tStart ? start : t <= tEnd ? g : g + slope * (t - tEnd)), rate: (t) => (t > tStart || t < tEnd ? 0 : slope) };
  }
  const centre = (tStart + tEnd) / 2;
  const logistic = (t: number) => 1 / (1 + Math.exp((-sc.sharpness * (centre - t)) / width));
  const lo = logistic(tStart);
  const span = logistic(tEnd) - lo;
  const at = (t: number) => (t >= tStart ? start : t <= tEnd ? g : start + ((g - start) * (logistic(t) - lo)) / span);
  const rate = (t: number) => {
    if (t > tStart || t < tEnd) return 0;
    const l = logistic(t);
    return (-(g - start) * (sc.sharpness / width) * l * (1 - l)) / span;
  };
  return { at, rate };
}

/**
 * Everything a step needs, so that annealing can stop after any step and
 * continue bit-identically (a checkpoint of this and the run's seed is enough).
 */
export interface AnnealState {
  /** Index j of the next step (0 … steps); the particles are at t_j = 1 − j/N. */
  step: number;
  /** Particles [M, D] in model coordinates. */
  x: Float64Array;
  /** Accumulated log-weights [M] (0 after a resampling; the tail's weights with `tail: 'weight'`). */
  logWeights: Float64Array;
  /** Rejuvenation step factor ε (δ = ε·σ(t)²), adapted after every sweep. */
  moveStepSize: number;
  resamplings: number;
  /** Discrete weighting: U, ∇ₓU and s at (x, t_j), carried so that a step costs one evaluation; null for continuous. */
  drift: DriftValues | null;
}

/**
 * The annealer as a kernel: `init(rng)` draws the prior population,
 * `step(rng, state)` advances it by one Euler step (weights, resampling and
 * rejuvenation included) without changing `state`. Every random number of a
 * step comes from the `rng` given to it, and within the step from a stream
 * derived for each particle (`Rng.derive`): particle i's noise, the field's
 * randomness for row i (Hutchinson probes) and its rejuvenation proposals do
 * not depend on which chunk i is evaluated in. The population is therefore
 * bit-identical for any `chunkSize` (or split across workers), except that
 * the quantile clamp of A, when on, is per chunk by definition.
 */
export interface AnnealKernel {
  init(rng: Rng): Promise<AnnealState>;
  /**
   * `following`, when given, is the stream the next step will get: the step then draws that step's
   * noise while its own field evaluation runs (on a GPU or in worker threads), and the next step takes
   * it instead of drawing it. The values are the same either way.
   */
  step(rng: Rng, state: AnnealState, following?: Rng): Promise<{ state: AnnealState; info: AnnealStepLog }>;
}

/** Keys of the per-step sub-streams (first key of `Rng.derive`). */
const STREAM = { prior: 0, field: 1, noise: 2, resample: 3, move: 4, moveField: 5, afterMoves: 6 } as const;

/** The streams of an annealing run drawn from `rng`: the init's, and step j's derived from j (so a resumed run finds the same ones). */
export function annealStreams(rng: Rng): { init: Rng; step(j: number): Rng } {
  const base = rng.fork('anneal');
  return { init: base.derive(0), step: (j) => base.derive(1, j) };
}

/** How `anneal` reports, stops and resumes (none of it changes the result). */
export interface AnnealOptions {
  /** Each step's log as it is taken (progress bars, log.jsonl). */
  onStep?: (s: AnnealStepLog) => void;
  /** With a signal, the event loop gets a turn before every step (so that signal handlers run); once aborted, the run stops with an InterruptedError. */
  signal?: AbortSignal;
  /** Continue from this state (a checkpoint of an earlier call with the same field, config and rng) and the step logs before it, instead of drawing the prior. */
  resume?: { state: AnnealState; log: readonly AnnealStepLog[] };
  /**
   * Receives the state after every step ('step') and, before the InterruptedError, the state the
   * aborted run reached ('abort'), with the step logs so far: what `resume` needs. Awaited, so it can write a checkpoint.
   */
  onState?: (state: AnnealState, log: readonly AnnealStepLog[], reason: 'step' | 'abort') => void | Promise<void>;
  /** Where the noise is drawn (worker threads beside a GPU, particle-noise.ts); default this thread. The values are the same. */
  noise?: NoiseSource;
}

/**
 * Runs the weighted reverse SDE (the kernel's steps from the prior, or from
 * `opts.resume`). Step j always draws from the stream derived from j, so a
 * run resumed from any step's state ends bit-identical to an uninterrupted one.
 */
export async function anneal(field: AnnealField, schedule: AnnealSchedule, cfg: AnnealConfig, rng: Rng, opts: AnnealOptions = {}): Promise<AnnealResult> {
  const { onStep, signal, resume, onState } = opts;
  const kernel = annealKernel(field, schedule, cfg, opts.noise);
  const streams = annealStreams(rng);
  let state = resume ? resume.state : await kernel.init(streams.init);
  const log: AnnealStepLog[] = resume ? [...resume.log] : [];
  if (log.length !== state.step) throw new RangeError(`anneal: resuming at step ${state.step} needs the ${state.step} step logs before it, got ${log.length}`);
  while (state.step < cfg.steps) {
    if (signal) await yieldToEventLoop();
    if (signal?.aborted) {
      await onState?.(state, log, 'abort');
      throw new InterruptedError(`annealing interrupted at step ${state.step} of ${cfg.steps}`);
    }
    const r = await kernel.step(streams.step(state.step), state, state.step + 1 < cfg.steps ? streams.step(state.step + 1) : undefined);
    state = r.state;
    log.push(r.info);
    onStep?.(r.info);
    await onState?.(state, log, 'step');
  }
  return { x: state.x, logWeights: state.logWeights, log, resamplings: state.resamplings };
}

/**
 * The kernel of `cfg` (validated here). Weighting 'continuous' moves with the
 * rate A of the module comment; 'discrete' is the SMC sampler of the
 * Euler–Maruyama chain itself, so the weights are exact for any step count
 * (the continuous rate A is exact only as Δ → 0, and its Riemann-sum error
 * biases the population when N is small). For the move x → x' from t to
 * t' = t − Δ with forward kernel K = N(x + v(x, t)Δ, g²Δ) and the backward
 * (noising) kernel L(x | x') = N(x' + u(x', t')Δ, g²Δ),
 * u = −v + g²∇log p̃ = −(g²/2)(γ_s s + γ∇U) (the time reversal of the sampler
 * with respect to the target path, as in controlled Monte Carlo diffusions),
 * the increment is
 *
 *   log w += −γU(x', t') + γU(x, t) + log L(x | x') − log K(x' | x),
 *
 * with the Gaussian densities on the mean-free subspace for particle systems
 * (γ and γ_s taken at each density's and kernel's own time when γ follows a schedule).
 * It tends to A·Δ as Δ → 0 but needs neither div s nor ∂U/∂t, so a step costs
 * one score pass and one energy-gradient pass. When the window starts at 0 the
 * prior is corrected too: log w₀ = −γ₁U(x, 1) − log N(x; 0, σ_max²/γ₁), γ₁ = γ(1).
 *
 * After the move, both weightings do the same: ESS, systematic resampling
 * (samplers/smc.ts) when due inside the window (every step, below the ESS
 * threshold, and at the window's last step unless the tail is weighted),
 * then the rejuvenation moves.
 */
export function annealKernel(field: AnnealField, schedule: AnnealSchedule, cfg: AnnealConfig, noiseSource?: NoiseSource): AnnealKernel {
  validate(cfg);
  const { particles: M, dim: D, steps: N } = cfg;
  const gp = gammaPath(cfg);
  const scoreGammaAt = (t: number) => cfg.scoreGamma ?? gp.at(t);
  const discrete = cfg.weighting === 'discrete';
  const dt = 1 / N;
  const sqrtDt = Math.sqrt(dt);
  const timeOf = (j: number) => (j >= N ? 0 : 1 - j * dt);
  const chunks = chunkStarts(M, cfg.chunkSize);
  const rowsOf = (rng: Rng, key: number, c0: number) => (i: number) => rng.derive(key, c0 + i);
  const noise = new StepNoise(M, D, noiseSource);

  /** U, ∇ₓU and s of the whole population at t, chunk by chunk (every chunk requested before any is awaited). */
  const driftAt = async (x: Float64Array, t: number, j: number, rng: Rng): Promise<DriftValues> => {
    const parts = await Promise.all(
      chunks.map(async (c0) => {
        const m = Math.min(cfg.chunkSize, M - c0);
        const xc = x.subarray(c0 * D, (c0 + m) * D);
        const f = field.drift ? await field.drift(xc, m, t) : await field.evaluate(xc, m, t, rowsOf(rng, STREAM.field, c0));
        checkField(f, m, D, j);
        return f;
      }),
    );
    const out = { energy: new Float64Array(M), gradEnergy: new Float64Array(M * D), score: new Float64Array(M * D) };
    parts.forEach((f, c) => {
      const c0 = chunks[c];
      const m = Math.min(cfg.chunkSize, M - c0);
      out.energy.set(f.energy.subarray(0, m), c0);
      out.gradEnergy.set(f.gradEnergy.subarray(0, m * D), c0 * D);
      out.score.set(f.score.subarray(0, m * D), c0 * D);
    });
    return out;
  };

  /** Continuous weighting: the moved particles and A·Δ per particle (A clamped per chunk when configured). */
  const continuousMove = async (rng: Rng, s: AnnealState, t: number) => {
    const g2 = schedule.g2(t);
    const half = 0.5 * g2;
    const sd = Math.sqrt(g2) * sqrtDt;
    const [gamma, gs, dGamma] = [gp.at(t), scoreGammaAt(t), gp.rate(t)];
    const x = s.x;
    const next = new Float64Array(M * D);
    const inc = new Float64Array(M);
    const evaluations = Promise.all(chunks.map((c0) => field.evaluate(x.subarray(c0 * D, (c0 + Math.min(cfg.chunkSize, M - c0)) * D), Math.min(cfg.chunkSize, M - c0), t, rowsOf(rng, STREAM.field, c0))));
    // The noise does not depend on the field: it is drawn while the field is evaluated.
    const [fields, drawn] = await meanwhile(evaluations, () => noise.of(rng, s.step));
    const z = await drawn;
    fields.forEach((f, c) => {
      const c0 = chunks[c];
      const m = Math.min(cfg.chunkSize, M - c0);
      checkField(f, m, D, s.step);
      const { score, gradEnergy } = f;
      for (let i = 0; i < m; i++) {
        let dot = 0;
        for (let k = i * D, o = (c0 + i) * D; k < (i + 1) * D; k++, o++) {
          const sc = score[k];
          const gu = gradEnergy[k];
          dot += -gu * (half * sc);
          next[o] = x[o] + half * (gs * sc - gamma * gu) * dt + sd * z[o];
        }
        inc[c0 + i] = gamma * gs * dot + gs * 0.5 * g2 * f.divScore[i] + gamma * f.dEnergyDt[i] + dGamma * f.energy[i];
      }
      if (cfg.clampQuantile !== null) clampAtQuantile(inc.subarray(c0, c0 + m), cfg.clampQuantile);
    });
    for (let i = 0; i < M; i++) inc[i] *= dt;
    project(next, M, cfg);
    return { next, inc, fNext: null };
  };

  /**
   * Discrete weighting: the moved particles, the exact increments, and the drift at the new positions.
   * With `following` (the stream of the next step), that step's noise is drawn while the drift is evaluated.
   */
  const discreteMove = async (rng: Rng, s: AnnealState, t: number, tNext: number, weighted: boolean, following: Rng | undefined) => {
    const f = s.drift!;
    const x = s.x;
    const g2 = schedule.g2(t);
    const half = 0.5 * g2;
    const sd = Math.sqrt(g2) * sqrtDt;
    const [gamma, gs, gammaNext, gsNext] = [gp.at(t), scoreGammaAt(t), gp.at(tNext), scoreGammaAt(tNext)];
    const z = await noise.of(rng, s.step);
    const { score, gradEnergy } = f;
    // vΔ, kept for log K below.
    const step = new Float64Array(M * D);
    const next = new Float64Array(M * D);
    for (let k = 0; k < M * D; k++) {
      step[k] = half * (gs * score[k] - gamma * gradEnergy[k]) * dt;
      next[k] = x[k] + step[k] + sd * z[k];
    }
    project(next, M, cfg);
    const evaluation = driftAt(next, tNext, s.step + 1, rng);
    const norm = 2 * g2 * dt;
    // log K(x'|x) (residual x' − x − vΔ) needs only this side of the move: computed while the drift at x' is evaluated.
    const logK = (): Float64Array => {
      const out = new Float64Array(M);
      const residual = new Float64Array(D);
      for (let i = 0; i < M; i++) {
        for (let d = 0, o = i * D; d < D; d++, o++) residual[d] = next[o] - x[o] - step[o];
        out[i] = -meanFreeSqNorm(residual, cfg) / norm;
      }
      return out;
    };
    const [fNext, forward] = await meanwhile(evaluation, () => {
      if (following) noise.prepare(following, s.step + 1);
      return weighted ? logK() : null;
    });
    const inc = new Float64Array(M);
    if (forward !== null) {
      const residual = new Float64Array(D);
      const back = -0.5 * g2;
      const { score: sNext, gradEnergy: gNext, energy: uNext } = fNext;
      for (let i = 0; i < M; i++) {
        // log L(x|x'): residual x − x' − u(x')Δ, u = −(g²/2)(γ_s s + γ∇U) at (x', t').
        for (let d = 0, o = i * D; d < D; d++, o++) residual[d] = x[o] - next[o] - back * (gsNext * sNext[o] + gammaNext * gNext[o]) * dt;
        const logL = -meanFreeSqNorm(residual, cfg) / norm;
        inc[i] = -gammaNext * uNext[i] + gamma * f.energy[i] + logL - forward[i];
      }
      if (cfg.clampQuantile !== null) for (const c0 of chunks) clampAtQuantile(inc.subarray(c0, Math.min(M, c0 + cfg.chunkSize)), cfg.clampQuantile);
    }
    return { next, inc, fNext };
  };

  return {
    async init(rng: Rng): Promise<AnnealState> {
      // Prior (reference): x ~ N(0, σ_max²/γ₁ · I), centroid removed; initial log-weights 0.
      const sigmaMax = schedule.sigma(1);
      const gamma1 = gp.at(1);
      const priorStd = sigmaMax / Math.sqrt(gamma1);
      const x = particleNormals(rng, STREAM.prior, M, D);
      for (let k = 0; k < x.length; k++) x[k] = priorStd * x[k];
      project(x, M, cfg);
      const logWeights = new Float64Array(M);
      const drift = discrete ? await driftAt(x, 1, 0, rng) : null;
      if (drift && cfg.resampling.start === 0 && cfg.resampling.mode !== 'never') {
        for (let i = 0; i < M; i++) logWeights[i] = -gamma1 * drift.energy[i] + (gamma1 * sqNorm(x, i * D, D)) / (2 * sigmaMax * sigmaMax);
      }
      return { step: 0, x, logWeights, moveStepSize: cfg.rejuvenation?.stepSize ?? 0, resamplings: 0, drift };
    },

    async step(rng: Rng, s: AnnealState, following?: Rng) {
      const j = s.step;
      if (!(Number.isInteger(j) && j >= 0 && j < N)) throw new RangeError(`annealing step ${j} is outside 0..${N - 1}`);
      const t = timeOf(j);
      const tNext = timeOf(j + 1);
      const weighted = isWeighted(cfg, j);
      const moved = discrete ? await discreteMove(rng, s, t, tNext, weighted, following) : await continuousMove(rng, s, t);
      let x: Float64Array = moved.next;
      let logWeights: Float64Array = Float64Array.from(s.logWeights);
      if (weighted) for (let i = 0; i < M; i++) logWeights[i] += moved.inc[i];
      let ess = 1;
      let variance = 0;
      let idx: Int32Array | null = null;
      let moveStepSize = s.moveStepSize;
      let acceptance: number | null = null;
      const r = cfg.resampling;
      if (weighted) {
        ess = effectiveSampleFraction(logWeights);
        variance = varianceOf(logWeights);
        // Inside the window: every step, below the ESS threshold, and at its last step unless the tail carries the weights on.
        if (j < r.end && (r.mode === 'every-step' || ess < r.essThreshold || (j === r.end - 1 && r.tail !== 'weight'))) {
          idx = systematicResample(rng.derive(STREAM.resample), logWeights, M, r.floor);
          x = gatherRows(x, idx, D);
          logWeights = new Float64Array(M);
          if (cfg.rejuvenation && cfg.rejuvenation.steps > 0) {
            const mv = await rejuvenate(field, x, cfg, chunks, gp.at(tNext), tNext, schedule.sigma(tNext), moveStepSize, rng);
            moveStepSize = mv.epsilon;
            acceptance = mv.acceptance;
          }
        }
      }
      let drift: DriftValues | null = null;
      if (moved.fNext) {
        if (acceptance !== null) drift = await driftAt(x, tNext, j + 1, rng.derive(STREAM.afterMoves));
        else drift = idx ? { energy: gatherRows(moved.fNext.energy, idx, 1), gradEnergy: gatherRows(moved.fNext.gradEnergy, idx, D), score: gatherRows(moved.fNext.score, idx, D) } : moved.fNext;
      }
      const info: AnnealStepLog = {
        step: j,
        t,
        sigma: schedule.sigma(t),
        ess,
        logWeightVariance: variance,
        unique: idx ? uniqueCount(idx) : M,
        resampled: idx !== null,
        ...(acceptance !== null ? { moveAcceptance: acceptance } : {}),
      };
      const state: AnnealState = { step: j + 1, x, logWeights, moveStepSize, resamplings: s.resamplings + (idx ? 1 : 0), drift };
      return { state, info };
    },
  };
}

/** Whether step j adds weight increments: inside the resampling window, or after it with tail 'weight'. */
function isWeighted(cfg: AnnealConfig, j: number): boolean {
  const r = cfg.resampling;
  return r.mode !== 'never' && j >= r.start && (j < r.end || r.tail === 'weight');
}

/** Particle i's D standard normals from `rng.derive(key, i)`, as rows [M, D]. */
function particleNormals(rng: Rng, key: number, M: number, D: number): Float64Array {
  const z = new Float64Array(M * D);
  particleNormalsInto(rng, key, D, 0, M, z);
  return z;
}

/**
 * The noise ξ of a step: particle i's from the step's stream derived for (noise, i). One step's may
 * be drawn ahead (`prepare`); `of` hands it out only to the step and stream it was drawn for.
 */
class StepNoise {
  private ahead: { step: number; state: RngState; z: Float64Array | Promise<Float64Array> } | null = null;

  constructor(
    private readonly M: number,
    private readonly D: number,
    private readonly source: NoiseSource | undefined,
  ) {}

  of(rng: Rng, step: number): Float64Array | Promise<Float64Array> {
    const a = this.ahead;
    this.ahead = null;
    if (a !== null && a.step === step && sameState(a.state, rng.getState())) return a.z;
    return this.draw(rng);
  }

  prepare(rng: Rng, step: number): void {
    this.ahead = { step, state: rng.getState(), z: this.draw(rng) };
  }

  /** On this thread, or started on the source's (a failure there is reported where the noise is awaited). */
  private draw(rng: Rng): Float64Array | Promise<Float64Array> {
    if (this.source === undefined) return particleNormals(rng, STREAM.noise, this.M, this.D);
    const z = this.source.particleNormals(rng, STREAM.noise, this.M, this.D);
    z.catch(() => {});
    return z;
  }
}

function sameState(a: RngState, b: RngState): boolean {
  return a.spare === b.spare && a.s.every((v, i) => v === b.s[i]);
}

/**
 * Host work done while `pending` (already started) computes elsewhere: the event loop first gets a
 * turn, so that the pending evaluation is submitted to the GPU (or posted to the workers) before `work`
 * holds the thread.
 */
async function meanwhile<P, R>(pending: Promise<P>, work: () => R): Promise<[P, R]> {
  // A rejection while `work` runs is handled (by the await below), not reported as unhandled.
  pending.catch(() => {});
  await yieldToEventLoop();
  const r = work();
  return [await pending, r];
}

/** First particle of each chunk of `size`. */
function chunkStarts(M: number, size: number): number[] {
  return Array.from({ length: Math.ceil(M / size) }, (_, c) => c * size);
}

function sqNorm(x: Float64Array, offset: number, D: number): number {
  let s = 0;
  for (let d = 0; d < D; d++) s += x[offset + d] ** 2;
  return s;
}

/** ‖P r‖² with P the centroid projection (identity for non-particle targets); r is one row. */
function meanFreeSqNorm(r: Float64Array, cfg: AnnealConfig): number {
  if (cfg.meanFree) removeCentroidRow(r, 0, cfg.meanFree.nParticles, cfg.meanFree.spatialDim);
  return sqNorm(r, 0, r.length);
}

/**
 * `steps` MALA sweeps on exp(−γU(·, t)) in place; returns the adapted ε and
 * the mean acceptance. Sweep w of particle i draws from the step's stream
 * derived for (move, w, i); the chunks of a sweep are evaluated together.
 */
async function rejuvenate(field: AnnealField, x: Float64Array, cfg: AnnealConfig, chunks: number[], gamma: number, t: number, sigma: number, epsilon: number, rng: Rng): Promise<{ epsilon: number; acceptance: number }> {
  const { particles: M, dim: D } = cfg;
  const energyOf = (xc: Float64Array, m: number, rows: (i: number) => Rng) => (field.energy ? field.energy(xc, m, t) : field.evaluate(xc, m, t, rows));
  let accepted = 0;
  for (let sweep = 0; sweep < cfg.rejuvenation!.steps; sweep++) {
    const delta = epsilon * sigma * sigma;
    const sd = Math.sqrt(delta);
    const moves = await Promise.all(
      chunks.map(async (c0) => {
        const m = Math.min(cfg.chunkSize, M - c0);
        const xc = x.subarray(c0 * D, (c0 + m) * D);
        const cur = await energyOf(xc, m, (i) => rng.derive(STREAM.moveField, 2 * sweep, c0 + i));
        const streams = Array.from({ length: m }, (_, i) => rng.derive(STREAM.move, sweep, c0 + i));
        const prop = new Float64Array(m * D);
        const z = new Float64Array(D);
        for (let i = 0; i < m; i++) {
          streams[i].fillNormals(z, 0, D);
          for (let d = 0, k = i * D; d < D; d++, k++) prop[k] = xc[k] - 0.5 * delta * gamma * cur.gradEnergy[k] + sd * z[d];
        }
        project(prop, m, { ...cfg, particles: m });
        const nxt = await energyOf(prop, m, (i) => rng.derive(STREAM.moveField, 2 * sweep + 1, c0 + i));
        return { c0, m, xc, cur, prop, nxt, streams };
      }),
    );
    let acc = 0;
    for (const { m, xc, cur, prop, nxt, streams } of moves) {
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
        if (Number.isFinite(logAlpha) && Math.log(streams[i].uniform()) < logAlpha) {
          xc.set(prop.subarray(i * D, (i + 1) * D), i * D);
          acc++;
        }
      }
    }
    accepted += acc;
    epsilon = acc / M > 0.574 ? epsilon * 1.1 : epsilon / 1.1;
  }
  return { epsilon, acceptance: accepted / (M * cfg.rejuvenation!.steps) };
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

/** Non-finite model outputs stop the run, naming the particles (the optional fields are checked when present). */
function checkField(f: DriftValues & Partial<FieldValues>, m: number, D: number, step: number): void {
  const bad: number[] = [];
  for (let i = 0; i < m; i++) {
    let ok = Number.isFinite(f.energy[i]) && (f.dEnergyDt === undefined || Number.isFinite(f.dEnergyDt[i])) && (f.divScore === undefined || Number.isFinite(f.divScore[i]));
    for (let d = 0; ok && d < D; d++) ok = Number.isFinite(f.score[i * D + d]) && Number.isFinite(f.gradEnergy[i * D + d]);
    if (!ok) bad.push(i);
  }
  if (bad.length > 0) throw new NonFiniteError(`annealing step ${step}: the model returned non-finite values for ${bad.length} of ${m} particles (chunk rows ${describeRows(bad)})`, bad);
}

function validate(cfg: AnnealConfig): void {
  const r = cfg.resampling;
  const problems: string[] = [];
  if (!(cfg.gamma > 0) || !Number.isFinite(cfg.gamma)) problems.push(`gamma must be positive, got ${cfg.gamma}`);
  const sc = cfg.gammaSchedule;
  if (sc && sc.kind !== 'constant') {
    if (!(sc.start > 0 && Number.isFinite(sc.start))) problems.push(`gammaSchedule.start must be positive, got ${sc.start}`);
    if (!(sc.tEnd >= 0 && sc.tEnd < sc.tStart && sc.tStart <= 1)) problems.push(`gammaSchedule needs 0 ≤ tEnd < tStart ≤ 1, got tStart ${sc.tStart}, tEnd ${sc.tEnd}`);
    if (sc.kind === 'sigmoid' && !(sc.sharpness > 0)) problems.push(`gammaSchedule.sharpness must be positive, got ${sc.sharpness}`);
  }
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
