/**
 * The plain reverse-SDE sampler of the VE diffusion (docs/algorithm.md
 * §2.1, §2.4): no annealing, no weights. Start from x ~ N(0, σ_max²·I) (centroid
 * removed for particle systems), then for k = 0 … N−1 with t = 1 − k/N and
 * Δ = 1/N (Euler–Maruyama, coefficients at the left point):
 *
 *   x ← x + g²(t)·s(x, σ(t))·Δ + g(t)·√Δ·ξ,   ξ ~ N(0, I)
 *
 * followed by the centroid projection in mean-free mode. The last step lands
 * at t = 0 (no separate denoising step). The state and the noise live on the
 * host in float64 (noise from pita's Rng); the score runs in float32 chunks,
 * each in its own scope, so tensor memory stays flat, and the chunks' scores
 * are read back together once per step.
 */
import type { Rng } from '../core/rng.js';
import { assertFiniteRows } from '../core/errors.js';
import type { VectorField } from '../nets/types.js';
import * as T from '../tensor/index.js';
import { type ParticleLayout, removeCentroids } from './augment.js';
import { betaColumn, energyModelScore, scoreModelScore } from './models.js';
import { readAndDispose } from './readback.js';
import type { EdmSchedule } from './schedule.js';

/** A score s(x, σ) for rows x [B, D] and per-row σ [B, 1] → [B, D]. */
export type ScoreFunction = (x: T.Tensor, sigma: T.Tensor) => T.Tensor;

/** The score model's score (D_S − x)/σ² of network F_S at inverse temperature β (null: unconditioned). */
export function scoreModelScoreFunction(net: VectorField, beta: number | null): ScoreFunction {
  return (x, sigma) => scoreModelScore(net, x, sigma, betaColumn(beta, T.shapeOf(x)[0]));
}

/** The energy model's score −∇ₓU_θ of network F_E at inverse temperature β (null: unconditioned). */
export function energyModelScoreFunction(net: VectorField, beta: number | null): ScoreFunction {
  return (x, sigma) => energyModelScore(net, x, sigma, betaColumn(beta, T.shapeOf(x)[0]));
}

export interface ReverseSdeOptions {
  schedule: EdmSchedule;
  /** Number of samples. */
  n: number;
  /** Row dimension D. */
  dim: number;
  /** Noise source (initial state and every step). */
  rng: Rng;
  /** Euler steps N; default 1000. */
  steps?: number;
  /** Rows per score evaluation; default 1024. */
  batchSize?: number;
  /** Particle layout for the centroid projection; null or absent for non-particle systems. */
  meanFree?: ParticleLayout | null;
  /** Called after each step with the number of steps done. */
  onStep?: (done: number, total: number) => void;
}

/** n samples [n, D] (float64) of the reverse SDE driven by `score`. */
export async function sampleReverseSde(score: ScoreFunction, opts: ReverseSdeOptions): Promise<Float64Array> {
  const { schedule, n, dim, rng } = opts;
  const steps = opts.steps ?? 1000;
  const batchSize = opts.batchSize ?? 1024;
  const layout = opts.meanFree ?? null;
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`sampleReverseSde: n must be a positive integer, got ${n}`);
  if (!(Number.isInteger(dim) && dim >= 1)) throw new RangeError(`sampleReverseSde: dim must be a positive integer, got ${dim}`);
  if (!(Number.isInteger(steps) && steps >= 1)) throw new RangeError(`sampleReverseSde: steps must be a positive integer, got ${steps}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new RangeError(`sampleReverseSde: batchSize must be a positive integer, got ${batchSize}`);
  }
  if (layout !== null && layout.nParticles * layout.spatialDim !== dim) {
    throw new RangeError(`sampleReverseSde: layout ${layout.nParticles}×${layout.spatialDim} does not match dim ${dim}`);
  }
  const x = rng.normals(n * dim);
  for (let i = 0; i < x.length; i++) x[i] *= schedule.sigmaMax;
  if (layout !== null) removeCentroids(x, n, layout);
  const dt = 1 / steps;
  const s = new Float64Array(n * dim);
  const noise = new Float64Array(n * dim);
  for (let k = 0; k < steps; k++) {
    const t = 1 - k * dt;
    const sigma = schedule.sigma(t);
    const g2 = schedule.g2(t);
    // Each batch runs in its own scope (bounded memory); their scores are read back together.
    const scores: Record<string, T.Tensor> = {};
    try {
      for (let start = 0; start < n; start += batchSize) {
        const rows = Math.min(n, start + batchSize) - start;
        scores[start] = T.scope(() => score(T.fromF64(x.subarray(start * dim, (start + rows) * dim), [rows, dim]), T.full([rows, 1], sigma)));
      }
    } catch (e) {
      T.dispose(Object.values(scores));
      throw e;
    }
    for (const [key, chunk] of Object.entries(await readAndDispose(scores))) {
      const start = Number(key);
      const rows = Math.min(n, start + batchSize) - start;
      if (chunk.length !== rows * dim) {
        throw new RangeError(`sampleReverseSde: the score returned ${chunk.length} values for [${rows}, ${dim}]`);
      }
      s.set(chunk, start * dim);
    }
    assertFiniteRows(`sampleReverseSde: score at step ${k} (t = ${t})`, s, n, dim);
    const noiseScale = Math.sqrt(g2 * dt);
    const z = rng.normals(x.length, noise);
    for (let i = 0; i < x.length; i++) x[i] += g2 * s[i] * dt + noiseScale * z[i];
    if (layout !== null) removeCentroids(x, n, layout);
    opts.onStep?.(k + 1, steps);
  }
  return x;
}
