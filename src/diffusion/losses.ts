/**
 * The four PITA training losses (docs/algorithm.md §4.1). For a batch of B rows
 * (x_0, ℓ(x_0), f(x_0)) with noise levels σ and noise ε, x_σ = x_0 + σε,
 * λ(σ) = (σ²+1)/σ², ‖·‖² summed over the D coordinates:
 *
 *   L_S   = (1/B) Σ_b 1{σ_b ≥ σ_min}·λ(σ_b)·‖D_S(x_σ) − x_0‖²
 *   L_ES  = (1/B) Σ_b λ_ES(σ_b)·‖D_E(x_σ) − sg(D_S(x_σ))‖²          (sg: stop-gradient)
 *   L_EM  = (1/B) Σ_b 1{Ē_b ≤ 1000}·(U_θ(x_0, σ_pin,b) − Ē_b)²,  Ē = −ℓ(x_0)
 *   L_TSM = (1/|S|) Σ_{b∈S} ‖D_S(x_σ) − (x_σ + σ²·clip(f))‖²,  S = {b : σ_b² < h(0.2)}
 *
 * λ_ES = λ (`energyScoreWeighting` 'edm', the reference) or λ² ('score'): since
 * D_E − D_S = σ²(s_E − s_S), λ·‖D_E − D_S‖² = (1+σ²)σ²‖s_E − s_S‖² all but ignores the
 * energy model's score error at small σ, while λ²·‖D_E − D_S‖² = (1+σ²)²‖s_E − s_S‖² weighs it
 * about equally at every σ (an extension, for the stiff pair potentials of LJ-13).
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
 * additive share of the full-batch loss: micro-batches
 * (docs/tensor-engine.md §2.7) reproduce the full-batch loss and gradients exactly.
 *
 * The gradients separate: L_S and L_TSM reach only F_S, L_ES and L_EM only
 * F_E; `lossesAndGrads` therefore runs one reverse pass per network and
 * reuses the score pass's (detached) D_S inside L_ES.
 */
import { NonFiniteError } from '../core/errors.js';
import type { Network, VectorField } from '../nets/types.js';
import * as T from '../tensor/index.js';
import { E } from '../tensor/index.js';
import { energy, energyDenoiser, scoreDenoiser } from './models.js';
import type { EdmSchedule } from './schedule.js';

const [X0, X1, X2] = [0, 1, 2].map((i) => E.input(i));

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
  /** λ_ES: 'edm' = λ(σ) (default, the reference) or 'score' = λ(σ)² (module comment). */
  energyScoreWeighting?: EnergyScoreWeighting;
}

export type EnergyScoreWeighting = 'edm' | 'score';

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
  /** λ_ES(σ)/B [B]. */
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
  const esWeighting = opts.energyScoreWeighting ?? 'edm';
  if (esWeighting !== 'edm' && esWeighting !== 'score') throw new RangeError(`prepareLossBatch: energyScoreWeighting must be 'edm' or 'score', got ${String(esWeighting)}`);
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
    weightEnergyScore[b] = (esWeighting === 'score' ? lambda * lambda : lambda) / B;
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

/**
 * A loss batch as one float32 matrix [B, 3D + 8] for one upload (and one
 * input of a captured training step): columns x₀ | x_σ | TSM target (D each),
 * then σ, pin σ, β (0 when unconditioned), and the five per-row weights and
 * targets in the order of `PACKED_COLUMNS`.
 */
export interface PackedLossRows {
  rows: number;
  dim: number;
  /** Whether the networks take β (the β column is ignored otherwise). */
  conditioned: boolean;
  data: Tensor;
}

const PACKED_COLUMNS = ['sigma', 'pinSigma', 'beta', 'weightScore', 'weightEnergyScore', 'weightEnergyMatching', 'energyTarget', 'weightTargetScore'] as const;

/** Columns of the packed matrix for a batch of dimension D. */
export function packedWidth(dim: number): number {
  return 3 * dim + PACKED_COLUMNS.length;
}

/** The host values of `PackedLossRows.data` (row-major [B, 3D + 8]); throws if a value overflows float32. */
export function packLossBatch(batch: LossBatch): Float32Array {
  const { rows: B, dim: D } = batch;
  const W = packedWidth(D);
  const out = new Float32Array(B * W);
  // Each per-row column as an array, or one value for every row (beta); the rows written with plain loops
  // (a closure per value took ~1 ms of the host's ~3.4 at B = 512, D = 39).
  const columns: (Float64Array | number)[] = PACKED_COLUMNS.map((c) => (c === 'beta' ? (batch.beta ?? 0) : batch[c]));
  const { x0, xSigma, targetScoreTarget } = batch;
  for (let b = 0; b < B; b++) {
    const o = b * W;
    const r = b * D;
    for (let d = 0; d < D; d++) {
      out[o + d] = x0[r + d];
      out[o + D + d] = xSigma[r + d];
      out[o + 2 * D + d] = targetScoreTarget[r + d];
    }
    for (let j = 0; j < columns.length; j++) {
      const c = columns[j];
      out[o + 3 * D + j] = typeof c === 'number' ? c : c[b];
    }
  }
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) throw new NonFiniteError(`loss batch: row ${Math.floor(i / W)} overflows float32 (column ${i % W} of ${W})`);
  }
  return out;
}

/** `batch` packed and uploaded (in the caller's scope). */
export function uploadLossBatch(batch: LossBatch): PackedLossRows {
  return { rows: batch.rows, dim: batch.dim, conditioned: batch.beta !== null, data: T.fromF32(packLossBatch(batch), [batch.rows, packedWidth(batch.dim)]) };
}

function packed(batch: LossBatch | PackedLossRows): PackedLossRows {
  return 'data' in batch ? batch : uploadLossBatch(batch);
}

/** Rows [start, end) of a packed batch, split into its columns. */
function rowsOf(p: PackedLossRows, start: number, end: number): LossTensors {
  const { dim: D } = p;
  const n = end - start;
  const cols = (c: number, width: number) => T.slice(p.data, [start, c], [n, width]);
  const col = (name: (typeof PACKED_COLUMNS)[number]) => cols(3 * D + PACKED_COLUMNS.indexOf(name), 1);
  return {
    x0: cols(0, D),
    xSigma: cols(D, D),
    targetScoreTarget: cols(2 * D, D),
    sigma: col('sigma'),
    pinSigma: col('pinSigma'),
    beta: p.conditioned ? col('beta') : null,
    weightScore: col('weightScore'),
    weightEnergyScore: col('weightEnergyScore'),
    weightEnergyMatching: col('weightEnergyMatching'),
    energyTarget: col('energyTarget'),
    weightTargetScore: col('weightTargetScore'),
  };
}

/** Σ_b w_b·‖a_b − c_b‖² for a, c [n, D] and w [n, 1]: two kernels on WebGPU (fused sums; the CPU runs the ops as written). */
function weightedSquaredError(w: Tensor, a: Tensor, c: Tensor): Tensor {
  return T.fusedSum(E.mul(X0, X1), [w, T.fusedSum(E.square(E.sub(X0, X1)), [a, c], 1, true)], [0, 1]);
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
    energyMatching: T.fusedSum(E.mul(X0, E.square(E.sub(X1, X2))), [t.weightEnergyMatching, u0, t.energyTarget], [0, 1]),
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
  const p = T.scope(() => uploadLossBatch(batch));
  try {
    for (let start = 0; start < batch.rows; start += microBatchSize) {
      const end = Math.min(batch.rows, start + microBatchSize);
      const prev: Tensor | null = acc;
      acc = T.scope(() => {
        const t = rowsOf(p, start, end);
        const s = scoreTerms(scoreNet, t);
        const e = energyTerms(energyNet, t, s.denoised);
        const v = T.concat([termVector(s.score, s.targetScore), termVector(e.energyScore, e.energyMatching)], 0);
        return prev === null ? v : T.add(prev, v);
      });
      T.dispose(prev);
    }
    return await readLossValues(acc as Tensor, w);
  } finally {
    T.dispose([acc, p.data]);
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
  batch: LossBatch | PackedLossRows,
  weights?: LossWeights,
  microBatchSize = batch.rows,
): { terms: Tensor; scoreGrads: T.ParamGrads; energyGrads: T.ParamGrads } {
  const w = resolvedWeights(weights);
  checkChunk(microBatchSize, batch.rows);
  const p = packed(batch);
  // D_S of each chunk, detached and kept across the two passes, then freed;
  // likewise each chunk's detached loss terms until they are summed.
  const denoised: Tensor[] = [];
  const scoreParts: Tensor[] = [];
  const energyParts: Tensor[] = [];
  try {
    const score = T.accumulateParamGrads(scoreNet.params, batch.rows, microBatchSize, (start, end) => {
      const s = scoreTerms(scoreNet.apply, rowsOf(p, start, end));
      scoreParts.push(T.keep(T.stopGradient(termVector(s.score, s.targetScore))));
      denoised.push(T.keep(T.stopGradient(s.denoised)));
      return T.add(T.mul(s.score, w.score), T.mul(s.targetScore, w.targetScore));
    });
    let chunk = 0;
    const energyPass = T.accumulateParamGrads(energyNet.params, batch.rows, microBatchSize, (start, end) => {
      const e = energyTerms(energyNet.apply, rowsOf(p, start, end), denoised[chunk++]);
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
