/**
 * Adaptive warm-up and thinning, from the traces of the warm-up.
 *
 * The traces: every chain's energy at every warm-up step and, for targets
 * whose coordinates are identifiable (one particle: the Gaussian, GMM-40,
 * where a chain stuck in one mode shows only in the coordinates), its first
 * MAX_COORDINATES coordinates. Each trace is thinned to at most MAX_DRAWS
 * draws per chain over the second half of the warm-up (the first half holds
 * the transient from the start), which bounds the checks' cost.
 *
 * Autocorrelation time τ (in steps): the largest over the traces of
 * draws / bulk ESS · stride (resolved only down to the stride).
 *
 * Warm-up: when the caller does not fix the number of warm-up steps, the
 * driver warms up for at least `min` steps, then in blocks of `block` steps
 * until every trace, thinned to one draw per τ, has split-R̂ ≤ 1.05 with at
 * least MIN_TAU_DRAWS (20) draws per chain, or `max` steps are done; so the
 * warm-up spans at least 40·τ, and τ is estimated from a window of at least
 * 20·τ (Geyer's estimator over a window shorter than a few τ underestimates
 * it: Langevin on the Gaussian stopped at 1500 steps with τ taken as 88
 * where it is about 450). The thinning matters: on
 * draws of autocorrelation time τ, R̂ − 1 ≈ τ/(2·draws per half-chain) even in
 * equilibrium, so the unthinned check would ask for a warm-up of ~200·τ
 * (Langevin on the 2-D Gaussian: τ ≈ 400 steps, so never within the cap).
 * The threshold is 1.05, not the samples' 1.01, because a warm-up holds few
 * draws per τ: on independent normal draws, 20 chains × 8 draws exceed 1.01
 * with probability 0.61 and 1.05 with 0.19 (20 × 25: 0.23 and 0.00). It
 * screens for what a warm-up must remove, a transient or chains in different
 * modes (R̂ ≫ 1.05); the 1.01 test is made on the samples (convergence.ts).
 *
 * Thinning: when the caller does not fix `thin`, the steps between collected
 * samples are τ, within [AUTO_THIN.min, cap]. Draws τ apart are nearly
 * independent, so the returned samples have a bulk ESS near n and split-R̂
 * near 1. A fixed thin of 10 did neither for slow kernels: Langevin at
 * Δt = 0.005 on the 2-D Gaussian gave R̂ 3.4 and ESS n/8.
 */
import { essBulk, splitRhat } from './diagnostics.js';

export const AUTO_WARMUP = { min: 1000, block: 500, max: 40000 } as const;
/** Split-R̂ of the τ-thinned warm-up traces at or below which the warm-up stops (module comment). */
export const WARMUP_RHAT = 1.05;
/** Bounds of the adaptive thinning; `max` is the default cap. */
export const AUTO_THIN = { min: 10, max: 2000 } as const;
const MAX_DRAWS = 500;
/** τ-spaced draws per chain the warm-up check needs (module comment). */
const MIN_TAU_DRAWS = 20;
/** Coordinates traced for identifiable targets (the rest are checked only on the samples). */
export const MAX_COORDINATES = 32;

export class WarmupMonitor {
  /** trace[o][c]: observable o (0: energy, then coordinates) of chain c, one entry per step. */
  private readonly trace: number[][][];
  /** R̂ of the last check (NaN before the first, or with fewer than 4 τ-spaced draws per chain). */
  lastRhat = NaN;

  /** `coordinates`: how many leading coordinates of each chain to trace besides the energy. */
  constructor(
    readonly chains: number,
    readonly coordinates = 0,
  ) {
    this.trace = Array.from({ length: 1 + coordinates }, () => Array.from({ length: chains }, () => []));
  }

  /** Records one warm-up step: the energy of every chain and, when coordinates are traced, its sample row x [chains, dim]. */
  record(energy: ArrayLike<number>, x: ArrayLike<number> | null, dim: number): void {
    for (let c = 0; c < this.chains; c++) {
      this.trace[0][c].push(energy[c]);
      for (let j = 0; j < this.coordinates; j++) this.trace[1 + j][c].push((x as ArrayLike<number>)[c * dim + j]);
    }
  }

  /** Steps recorded so far. */
  get steps(): number {
    return this.trace[0][0].length;
  }

  /** Observable o's chains over the second half, every `stride`-th step counted back from the last. */
  private secondHalf(o: number, stride: number): Float64Array[] {
    const steps = this.steps;
    const from = Math.floor(steps / 2);
    return this.trace[o].map((t) => {
      const v: number[] = [];
      for (let i = steps - 1; i >= from; i -= stride) v.push(t[i]);
      return Float64Array.from(v.reverse());
    });
  }

  /** The stride that keeps the second half within MAX_DRAWS draws per chain. */
  private baseStride(): number {
    const steps = this.steps;
    return Math.max(1, Math.ceil((steps - Math.floor(steps / 2)) / MAX_DRAWS));
  }

  /** The autocorrelation time in steps, the largest over the traces (module comment); NaN when there are too few draws. */
  autocorrelationSteps(): number {
    const stride = this.baseStride();
    let tau = -Infinity;
    for (let o = 0; o < this.trace.length; o++) {
      const chains = this.secondHalf(o, stride);
      const t = (stride * chains[0].length * chains.length) / essBulk(chains);
      if (!(t <= tau)) tau = t; // NaN wins, so an unknown τ is never mistaken for a short one
    }
    return tau;
  }

  /**
   * True when every trace, thinned to one draw per τ, has split-R̂ ≤ WARMUP_RHAT.
   * The largest R̂ is kept in lastRhat; when the warm-up is too short for 4
   * draws per τ it is the R̂ of the unthinned traces (an overestimate). Fewer
   * than MIN_TAU_DRAWS draws per τ fail the check.
   */
  converged(): boolean {
    const tau = this.autocorrelationSteps();
    let draws = 0;
    const largest = (stride: number): number => {
      let rhat = -Infinity;
      for (let o = 0; o < this.trace.length; o++) {
        const chains = this.secondHalf(o, stride);
        draws = chains[0].length;
        const r = splitRhat(chains);
        if (!(r <= rhat)) rhat = r;
      }
      return rhat;
    };
    const thinned = largest(Math.max(this.baseStride(), Number.isFinite(tau) ? Math.ceil(tau) : 1));
    const enough = draws >= MIN_TAU_DRAWS;
    this.lastRhat = Number.isNaN(thinned) ? largest(this.baseStride()) : thinned;
    return enough && thinned <= WARMUP_RHAT;
  }
}

/** The adaptive thin for an autocorrelation time τ (steps): ⌈2τ⌉ within [AUTO_THIN.min, cap]; AUTO_THIN.min when τ is unknown. */
export function adaptiveThin(tau: number, cap: number): number {
  if (!Number.isFinite(tau)) return Math.min(AUTO_THIN.min, cap);
  return Math.min(cap, Math.max(AUTO_THIN.min, Math.ceil(2 * tau)));
}
