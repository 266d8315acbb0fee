/**
 * The EDM ("elucidating") noise schedule of the variance-exploding diffusion
 * (docs/algorithm.md §2.2), host-side float64.
 *
 * With a = σ_max^{1/ρ} and c = σ_min^{1/ρ} − σ_max^{1/ρ} (< 0), for EDM time t ∈ [0, 1]:
 *   σ(t)  = (a + (1−t)c)^ρ            σ(0) = σ_min, σ(1) = σ_max
 *   h(t)  = σ(t)²
 *   g²(t) = dh/dt = −2ρc·(a + (1−t)c)^{2ρ−1}
 *   dσ/dt = −ρc·(a + (1−t)c)^{ρ−1}
 *   t(h)  = 1 − (h^{1/(2ρ)} − a)/c     (the inverse of h; also defined outside [σ_min², σ_max²])
 *
 * Also here: the training noise distribution ln σ ~ N(P_mean, P_std²) (docs/algorithm.md §2.3)
 * and the sampling grid t_k = 1 − k/N (docs/algorithm.md §2.4).
 */
import type { Rng } from '../core/rng.js';

export interface EdmScheduleOptions {
  /** σ(0); spec default 0.01 (LJ-13 uses 0.05). */
  sigmaMin?: number;
  /** σ(1); default 80. */
  sigmaMax?: number;
  /** Default 7. */
  rho?: number;
}

export const EDM_DEFAULTS = { sigmaMin: 0.01, sigmaMax: 80, rho: 7 } as const;

function checkTime(t: number, where: string): void {
  if (!(t >= 0 && t <= 1)) throw new RangeError(`EdmSchedule.${where}: t must be in [0, 1], got ${t}`);
}

export class EdmSchedule {
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  readonly rho: number;
  /** σ_max^{1/ρ}. */
  private readonly a: number;
  /** σ_min^{1/ρ} − σ_max^{1/ρ}. */
  private readonly c: number;

  constructor(opts: EdmScheduleOptions = {}) {
    this.sigmaMin = opts.sigmaMin ?? EDM_DEFAULTS.sigmaMin;
    this.sigmaMax = opts.sigmaMax ?? EDM_DEFAULTS.sigmaMax;
    this.rho = opts.rho ?? EDM_DEFAULTS.rho;
    if (!(this.sigmaMin > 0 && Number.isFinite(this.sigmaMin))) {
      throw new RangeError(`EdmSchedule: sigmaMin must be a positive number, got ${this.sigmaMin}`);
    }
    if (!(this.sigmaMax > this.sigmaMin && Number.isFinite(this.sigmaMax))) {
      throw new RangeError(`EdmSchedule: sigmaMax must be finite and > sigmaMin = ${this.sigmaMin}, got ${this.sigmaMax}`);
    }
    if (!(this.rho > 0 && Number.isFinite(this.rho))) throw new RangeError(`EdmSchedule: rho must be a positive number, got ${this.rho}`);
    this.a = this.sigmaMax ** (1 / this.rho);
    this.c = this.sigmaMin ** (1 / this.rho) - this.a;
  }

  /** a + (1−t)c, the base of every power. */
  private base(t: number): number {
    return this.a + (1 - t) * this.c;
  }

  /** Noise level σ(t). */
  sigma(t: number): number {
    checkTime(t, 'sigma');
    return this.base(t) ** this.rho;
  }

  /** Variance h(t) = σ(t)². */
  h(t: number): number {
    checkTime(t, 'h');
    return this.base(t) ** (2 * this.rho);
  }

  /** g(t)² = dh/dt. */
  g2(t: number): number {
    checkTime(t, 'g2');
    return -2 * this.rho * this.c * this.base(t) ** (2 * this.rho - 1);
  }

  /** dσ/dt (converts ∂U/∂σ into ∂U/∂t). */
  dSigmaDt(t: number): number {
    checkTime(t, 'dSigmaDt');
    return -this.rho * this.c * this.base(t) ** (this.rho - 1);
  }

  /** The time t with h(t) = h (h > 0; lies outside [0, 1] when h is outside [σ_min², σ_max²]). */
  tOfH(h: number): number {
    if (!(h > 0 && Number.isFinite(h))) throw new RangeError(`EdmSchedule.tOfH: h must be a positive number, got ${h}`);
    return 1 - (h ** (1 / (2 * this.rho)) - this.a) / this.c;
  }

  /** The time t with σ(t) = σ. */
  tOfSigma(sigma: number): number {
    if (!(sigma > 0 && Number.isFinite(sigma))) throw new RangeError(`EdmSchedule.tOfSigma: sigma must be a positive number, got ${sigma}`);
    return this.tOfH(sigma * sigma);
  }
}

/**
 * The reverse-integration grid t_k = 1 − k/N, k = 0 … N−1 (linspace(1, 0, N+1)
 * without its last point); every Euler step of size Δ = 1/N starts at t_k.
 */
export function samplingGrid(steps: number): Float64Array {
  if (!(Number.isInteger(steps) && steps >= 1)) throw new RangeError(`samplingGrid: steps must be a positive integer, got ${steps}`);
  const t = new Float64Array(steps);
  for (let k = 0; k < steps; k++) t[k] = 1 - k / steps;
  return t;
}

/** The training noise distribution ln σ ~ N(pMean, pStd²), not truncated (docs/algorithm.md §2.3). */
export interface TrainingNoise {
  pMean: number;
  pStd: number;
}

export const TRAINING_NOISE_DEFAULTS: TrainingNoise = { pMean: -1.2, pStd: 1.2 };

/** n noise levels σ = exp(pMean + pStd·z), z ~ N(0, 1). */
export function sampleTrainingSigmas(rng: Rng, n: number, noise: TrainingNoise = TRAINING_NOISE_DEFAULTS): Float64Array {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`sampleTrainingSigmas: n must be a non-negative integer, got ${n}`);
  if (!Number.isFinite(noise.pMean) || !(noise.pStd >= 0 && Number.isFinite(noise.pStd))) {
    throw new RangeError(`sampleTrainingSigmas: need finite pMean and pStd ≥ 0, got pMean ${noise.pMean}, pStd ${noise.pStd}`);
  }
  const s = rng.normals(n);
  for (let i = 0; i < n; i++) s[i] = Math.exp(noise.pMean + noise.pStd * s[i]);
  return s;
}
