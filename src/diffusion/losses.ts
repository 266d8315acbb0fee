/**
 * The four PITA training losses (algorithm spec §4). For a batch of B rows
 * (x_0, ℓ(x_0), f(x_0)) with noise levels σ and noise ε, x_σ = x_0 + σε,
 * λ(σ) = (σ²+1)/σ², ‖·‖² summed over the D coordinates:
 *
 *   L_S   = (1/B) Σ_b 1{σ_b ≥ σ_min}·λ(σ_b)·‖D_S(x_σ) − x_0‖²
 *   L_ES  = (1/B) Σ_b λ(σ_b)·‖D_E(x_σ) − sg(D_S(x_σ))‖²             (sg: stop-gradient)
 *   L_EM  = (1/B) Σ_b 1{Ē_b ≤ 1000}·(U_θ(x_0, σ_pin,b) − Ē_b)²,  Ē = −ℓ(x_0)
 *   L_TSM = (1/|S|) Σ_{b∈S} ‖D_S(x_σ) − (x_σ + σ²·clip(f))‖²,  S = {b : σ_b² < h(0.2)}
 *
 * Masked rows count as zeros in the 1/B means; L_TSM averages over S only
 * (0 when S is empty). clip rescales each row's whole force vector to norm
 * ≤ 1000. Total: L = w_ES·L_ES + w_S·L_S + w_EM·L_EM + w_TSM·L_TSM.
 * σ_pin = σ_min (the reference) unless the caller passes per-row pin levels
 * (`pinSigma`, an extension: −log q_σ(x_0) = Ē − (σ²/2)(‖∇ℓ‖² + Δℓ) + O(σ⁴),
 * whose correction averages to zero over each basin, so pinning at small σ
 * too keeps U_θ's offsets between modes from drifting with σ).
 *
 * Masks, λ, the 1/B and 1/|S| normalisers, the TSM target and the pinned
 * energies are computed once on the host in float64 (`prepareLossBatch`) and
 * folded into per-row weights, so that the loss of any row range is its
 * additive share of the full-batch loss: micro-batches (tensor-engine spec
 * §4.7) reproduce the full-batch loss and gradients exactly.
 *
 * The gradients separate: L_S and L_TSM reach only F_S, L_ES and L_EM only
 * F_E; `lossesAndGrads` therefore runs one reverse pass per network and
 * reuses the score pass's (detached) D_S inside L_ES.
 */
import type { Network, VectorField } from '../nets/types.js';
import * as T from '../tensor/index.js';
import { betaColumn, energy, energyDenoiser, scoreDenoiser } from './models.js';
import type { EdmSchedule } from './schedule.js';

type Tensor = T.Tensor;

export interface LossWeights {
  /** w_ES, energy-score distillation. */
  energyScore: number;
  /** w_S, denoising score matching. */
  score: number;
  /** w_EM, energy matching at σ_min. */
  energyMatching: number;
  /** w_TSM, target score matching. */
  targetScore: number;
}

/** Spec defaults (ALDP/AL3); the LJ-13 preset uses targetScore 0. */
export const DEFAULT_LOSS_WEIGHTS: Readonly<LossWeights> = { energyScore: 1, score: 1, energyMatching: 1, targetScore: 0.01 };

export interface LossOptions {
  schedule: EdmSchedule;
  weights?: LossWeights;
  /** TSM uses rows with h < h(tsmMaxTime); default 0.2. */
  tsmMaxTime?: number;
  /** Per-row force norm clip of the TSM target; default 1000. */
  forceClip?: number;
  /** L_EM drops rows with Ē > this; default 1000. */
  energyMaskThreshold?: number;
}

/** A training batch on the host (float64, row-major). */
export interface LossBatchInput {
  rows: number;
  dim: number;
  /** Clean samples x_0 [B, D] (augmented, CoM-free where applicable). */
  x0: Float64Array;
  /** ℓ(x_0) = −E/(k_B T) [B]. */
  logp: Float64Array;
  /** f = ∇ₓℓ(x_0) [B, D], in the same frame as x0. */
  force: Float64Array;
  /** Noise levels σ [B]. */
  sigma: Float64Array;
  /** Noise ε [B, D] (CoM-free where applicable). */
  eps: Float64Array;
  /** Relative inverse temperature fed to the networks, or null when they are not conditioned. */
  beta: number | null;
  /** Noise levels at which L_EM pins U_θ to Ē [B]; default σ_min for every row. */
  pinSigma?: Float64Array;
}

/** Everything the loss tensors need, per row, float64. */
export interface LossBatch {
  rows: number;
  dim: number;
  beta: number | null;
  /** σ of the L_EM pin per row [B]. */
  pinSigma: Float64Array;
  x0: Float64Array;
  /** x_σ = x_0 + σε [B, D]. */
  xSigma: Float64Array;
  sigma: Float64Array;
  /** 1{σ ≥ σ_min}·λ(σ)/B [B]. */
  weightScore: Float64Array;
  /** λ(σ)/B [B]. */
  weightEnergyScore: Float64Array;
  /** 1{Ē ≤ threshold}/B [B]. */
  weightEnergyMatching: Float64Array;
  /** Ē where kept, 0 where masked [B]. */
  energyTarget: Float64Array;
  /** 1{h < h(tsmMaxTime)}/|S| [B]. */
  weightTargetScore: Float64Array;
  /** x_σ + σ²·clip(f) on S, 0 elsewhere [B, D]. */
  targetScoreTarget: Float64Array;
  /** Rows kept by each mask. */
  counts: { score: number; energyMatching: number; targetScore: number };
}

/** Loss values (host numbers). Each term is unweighted; `total` applies the weights. */
export interface LossValues {
  total: number;
  score: number;
  energyScore: number;
  energyMatching: number;
  targetScore: number;
}

function checkArray(name: string, a: Float64Array, n: number): void {
  if (!(a instanceof Float64Array) || a.length !== n) {
    throw new RangeError(`prepareLossBatch: ${name} must be a Float64Array of length ${n}, got length ${a?.length}`);
  }
  for (let i = 0; i < n; i++) if (!Number.isFinite(a[i])) throw new RangeError(`prepareLossBatch: ${name}[${i}] = ${a[i]} is not finite`);
}

function checkWeights(w: LossWeights): void {
  for (const [k, v] of Object.entries(w)) {
    if (!(v >= 0 && Number.isFinite(v))) throw new RangeError(`loss weight ${k} must be a finite number ≥ 0, got ${v}`);
  }
}

/** Masks, weights and targets of a batch (float64). */
export function prepareLossBatch(input: LossBatchInput, opts: LossOptions): LossBatch {
  const { rows: B, dim: D } = input;
  if (!(Number.isInteger(B) && B >= 1 && Number.isInteger(D) && D >= 1)) {
    throw new RangeError(`prepareLossBatch: rows and dim must be positive integers, got ${B} and ${D}`);
  }
  checkArray('x0', input.x0, B * D);
  checkArray('logp', input.logp, B);
  checkArray('force', input.force, B * D);
  checkArray('sigma', input.sigma, B);
  checkArray('eps', input.eps, B * D);
  if (input.pinSigma) checkArray('pinSigma', input.pinSigma, B);
  for (let b = 0; b < B; b++) if (!(input.sigma[b] > 0)) throw new RangeError(`prepareLossBatch: sigma[${b}] = ${input.sigma[b]} must be > 0`);
  const tsmMaxTime = opts.tsmMaxTime ?? 0.2;
  const forceClip = opts.forceClip ?? 1000;
  const threshold = opts.energyMaskThreshold ?? 1000;
  if (!(forceClip > 0)) throw new RangeError(`prepareLossBatch: forceClip must be > 0, got ${forceClip}`);
  if (!Number.isFinite(threshold)) throw new RangeError(`prepareLossBatch: energyMaskThreshold must be finite, got ${threshold}`);
  const { schedule } = opts;
  const sigmaMin = schedule.sigmaMin;
  const hTsm = schedule.h(tsmMaxTime);

  const xSigma = new Float64Array(B * D);
  const weightScore = new Float64Array(B);
  const weightEnergyScore = new Float64Array(B);
  const weightEnergyMatching = new Float64Array(B);
  const energyTarget = new Float64Array(B);
  const weightTargetScore = new Float64Array(B);
  const targetScoreTarget = new Float64Array(B * D);
  const counts = { score: 0, energyMatching: 0, targetScore: 0 };
  for (let b = 0; b < B; b++) {
    const s = input.sigma[b];
    const h = s * s;
    const lambda = (h + 1) / h;
    for (let d = 0; d < D; d++) xSigma[b * D + d] = input.x0[b * D + d] + s * input.eps[b * D + d];
    weightEnergyScore[b] = lambda / B;
    if (h >= sigmaMin * sigmaMin) {
      weightScore[b] = lambda / B;
      counts.score++;
    }
    const eBar = -input.logp[b];
    if (eBar <= threshold) {
      weightEnergyMatching[b] = 1 / B;
      energyTarget[b] = eBar;
      counts.energyMatching++;
    }
    if (h < hTsm) {
      counts.targetScore++;
      let norm2 = 0;
      for (let d = 0; d < D; d++) norm2 += input.force[b * D + d] ** 2;
      const scale = Math.sqrt(norm2) > forceClip ? forceClip / Math.sqrt(norm2) : 1;
      for (let d = 0; d < D; d++) targetScoreTarget[b * D + d] = xSigma[b * D + d] + h * scale * input.force[b * D + d];
    }
  }
  if (counts.targetScore > 0) {
    for (let b = 0; b < B; b++) if (input.sigma[b] ** 2 < hTsm) weightTargetScore[b] = 1 / counts.targetScore;
  }
  return {
    rows: B,
    dim: D,
    beta: input.beta,
    pinSigma: input.pinSigma ?? new Float64Array(B).fill(sigmaMin),
    x0: input.x0,
    xSigma,
    sigma: input.sigma,
    weightScore,
    weightEnergyScore,
    weightEnergyMatching,
    energyTarget,
    weightTargetScore,
    targetScoreTarget,
    counts,
  };
}

/** The tensors of rows [start, end) of a batch. */
interface LossTensors {
  x0: Tensor;
  xSigma: Tensor;
  sigma: Tensor;
  pinSigma: Tensor;
  beta: Tensor | null;
  weightScore: Tensor;
  weightEnergyScore: Tensor;
  weightEnergyMatching: Tensor;
  energyTarget: Tensor;
  weightTargetScore: Tensor;
  targetScoreTarget: Tensor;
}

function uploadRows(batch: LossBatch, start: number, end: number): LossTensors {
  const { dim: D } = batch;
  const n = end - start;
  const rowsOf = (a: Float64Array, width: number) => T.fromF64(a.subarray(start * width, end * width), [n, width]);
  return {
    x0: rowsOf(batch.x0, D),
    xSigma: rowsOf(batch.xSigma, D),
    sigma: rowsOf(batch.sigma, 1),
    pinSigma: rowsOf(batch.pinSigma, 1),
    beta: betaColumn(batch.beta, n),
    weightScore: rowsOf(batch.weightScore, 1),
    weightEnergyScore: rowsOf(batch.weightEnergyScore, 1),
    weightEnergyMatching: rowsOf(batch.weightEnergyMatching, 1),
    energyTarget: rowsOf(batch.energyTarget, 1),
    weightTargetScore: rowsOf(batch.weightTargetScore, 1),
    targetScoreTarget: rowsOf(batch.targetScoreTarget, D),
  };
}

/** Σ_b w_b·‖a_b − c_b‖² for a, c [n, D] and w [n, 1]. */
function weightedSquaredError(w: Tensor, a: Tensor, c: Tensor): Tensor {
  return T.sum(T.mul(w, T.sum(T.square(T.sub(a, c)), 1, true)));
}

/** The score-network terms of rows of a batch: shares of L_S and L_TSM, and D_S. */
function scoreTerms(net: VectorField, t: LossTensors): { score: Tensor; targetScore: Tensor; denoised: Tensor } {
  const denoised = scoreDenoiser(net, t.xSigma, t.sigma, t.beta);
  return {
    score: weightedSquaredError(t.weightScore, denoised, t.x0),
    targetScore: weightedSquaredError(t.weightTargetScore, denoised, t.targetScoreTarget),
    denoised,
  };
}

/** The energy-network terms of rows of a batch: shares of L_ES (against a detached D_S) and L_EM. */
function energyTerms(net: VectorField, t: LossTensors, scoreDenoised: Tensor): { energyScore: Tensor; energyMatching: Tensor } {
  const de = energyDenoiser(net, t.xSigma, t.sigma, t.beta);
  const u0 = energy(net, t.x0, t.pinSigma, t.beta);
  return {
    energyScore: weightedSquaredError(t.weightEnergyScore, de, T.stopGradient(scoreDenoised)),
    energyMatching: T.sum(T.mul(t.weightEnergyMatching, T.square(T.sub(u0, t.energyTarget)))),
  };
}

function resolvedWeights(weights: LossWeights | undefined): LossWeights {
  const w = weights ?? DEFAULT_LOSS_WEIGHTS;
  checkWeights(w);
  return w;
}

function total(v: Omit<LossValues, 'total'>, w: LossWeights): LossValues {
  return {
    total: w.energyScore * v.energyScore + w.score * v.score + w.energyMatching * v.energyMatching + w.targetScore * v.targetScore,
    ...v,
  };
}

function checkChunk(microBatchSize: number, rows: number): void {
  if (!(Number.isInteger(microBatchSize) && microBatchSize >= 1)) {
    throw new RangeError(`microBatchSize must be a positive integer, got ${microBatchSize} (batch has ${rows} rows)`);
  }
}

/** [L_S, L_TSM] or [L_ES, L_EM] as one device vector, so a step reads its losses once. */
function termVector(a: Tensor, b: Tensor): Tensor {
  return T.concat([T.reshape(a, [1]), T.reshape(b, [1])], 0);
}

/**
 * The loss values from the device vector [L_S, L_TSM, L_ES, L_EM] that
 * `lossesAndGrads` returns (one read; the weighted total in float64).
 */
export async function readLossValues(terms: Tensor, weights?: LossWeights): Promise<LossValues> {
  return lossValues(await T.readF64(terms), weights);
}

/** The loss values from host values of [L_S, L_TSM, L_ES, L_EM] (extra entries ignored). */
export function lossValues(v: ArrayLike<number>, weights?: LossWeights): LossValues {
  return total({ score: v[0], targetScore: v[1], energyScore: v[2], energyMatching: v[3] }, resolvedWeights(weights));
}

/** The four losses of a batch without parameter gradients (rows processed in chunks, summed on the device, read once). */
export async function evaluateLosses(
  scoreNet: VectorField,
  energyNet: VectorField,
  batch: LossBatch,
  weights?: LossWeights,
  microBatchSize = batch.rows,
): Promise<LossValues> {
  const w = resolvedWeights(weights);
  checkChunk(microBatchSize, batch.rows);
  let acc: Tensor | null = null;
  try {
    for (let start = 0; start < batch.rows; start += microBatchSize) {
      const end = Math.min(batch.rows, start + microBatchSize);
      const prev: Tensor | null = acc;
      acc = T.scope(() => {
        const t = uploadRows(batch, start, end);
        const s = scoreTerms(scoreNet, t);
        const e = energyTerms(energyNet, t, s.denoised);
        const v = T.concat([termVector(s.score, s.targetScore), termVector(e.energyScore, e.energyMatching)], 0);
        return prev === null ? v : T.add(prev, v);
      });
      T.dispose(prev);
    }
    return await readLossValues(acc as Tensor, w);
  } finally {
    T.dispose(acc);
  }
}

/**
 * The losses of a batch and the parameter gradients of the weighted total:
 * `scoreGrads` over the score network's store (w_S·L_S + w_TSM·L_TSM),
 * `energyGrads` over the energy network's store (w_ES·L_ES + w_EM·L_EM).
 * Rows go through in micro-batches of at most `microBatchSize`; the gradients
 * are the full-batch gradients either way. Nothing is read back: `terms` is
 * the device vector [L_S, L_TSM, L_ES, L_EM] (see `readLossValues`). All
 * returned tensors belong to the caller's scope.
 */
export function lossesAndGrads(
  scoreNet: Pick<Network, 'params' | 'apply'>,
  energyNet: Pick<Network, 'params' | 'apply'>,
  batch: LossBatch,
  weights?: LossWeights,
  microBatchSize = batch.rows,
): { terms: Tensor; scoreGrads: T.ParamGrads; energyGrads: T.ParamGrads } {
  const w = resolvedWeights(weights);
  checkChunk(microBatchSize, batch.rows);
  // D_S of each chunk, detached and kept across the two passes, then freed;
  // likewise each chunk's detached loss terms until they are summed.
  const denoised: Tensor[] = [];
  const scoreParts: Tensor[] = [];
  const energyParts: Tensor[] = [];
  try {
    const score = T.accumulateParamGrads(scoreNet.params, batch.rows, microBatchSize, (start, end) => {
      const s = scoreTerms(scoreNet.apply, uploadRows(batch, start, end));
      scoreParts.push(T.keep(T.stopGradient(termVector(s.score, s.targetScore))));
      denoised.push(T.keep(T.stopGradient(s.denoised)));
      return T.add(T.mul(s.score, w.score), T.mul(s.targetScore, w.targetScore));
    });
    let chunk = 0;
    const energyPass = T.accumulateParamGrads(energyNet.params, batch.rows, microBatchSize, (start, end) => {
      const e = energyTerms(energyNet.apply, uploadRows(batch, start, end), denoised[chunk++]);
      energyParts.push(T.keep(T.stopGradient(termVector(e.energyScore, e.energyMatching))));
      return T.add(T.mul(e.energyScore, w.energyScore), T.mul(e.energyMatching, w.energyMatching));
    });
    T.dispose([score.loss, energyPass.loss]);
    const terms = T.concat([scoreParts.reduce((a, b) => T.add(a, b)), energyParts.reduce((a, b) => T.add(a, b))], 0);
    return { terms, scoreGrads: score.grads, energyGrads: energyPass.grads };
  } finally {
    T.dispose([...denoised, ...scoreParts, ...energyParts]);
  }
}
