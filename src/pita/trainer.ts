/**
 * The training loop of the score network F_S and the energy network F_E on
 * replay buffers (docs/algorithm.md §1.6, §4). One step:
 *
 *   1. pick a source uniformly among those given (one buffer = the active
 *      temperature; several = train_on_all_temps), draw B entries with
 *      replacement;
 *   2. augment: a uniform random rotation per row applied to x_0 and f
 *      (molecules), the centroid removed from x_0 (mean-free mode);
 *   3. ln σ ~ N(P_mean, P_std²), ε ~ N(0, I) (centroid removed in mean-free mode);
 *   4. the four losses (src/diffusion/losses.ts) and their gradients, in
 *      micro-batches if asked;
 *   5. grad-norm clip (global over both networks, the reference; or per
 *      network with clipScope 'network'), one Adam step, one EMA update of
 *      each network.
 *
 * F_E starts as a copy of F_S's initial weights. "A single Adam over both
 * networks" is realised as one Adam per network with the same settings: Adam
 * is per-parameter, so this is the same update; the clip norm is global over
 * both (clipScope 'global'). With clipScope 'network' each network's
 * gradients are clipped by their own norm, so a loss of one network with
 * large gradients (on LJ-13 the energy matching, ~100× the rest) no longer
 * scales down the other network's steps. Every random draw comes from one training Rng (in that order:
 * source, batch indices, rotations, σ, ε), whose state is part of the
 * checkpoint, so resuming reproduces an uninterrupted run bit for bit.
 */
import { appendFileSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { NonFiniteError, UserError } from '../core/errors.js';
import { Rng, type RngState } from '../core/rng.js';
import { type ParticleLayout, removeCentroids, rotateBatch } from '../diffusion/augment.js';
import { DEFAULT_LOSS_WEIGHTS, type EnergyScoreWeighting, type LossValues, type LossWeights, lossValues, lossesAndGrads, packLossBatch, packedWidth, prepareLossBatch } from '../diffusion/losses.js';
import { EDM_DEFAULTS, EdmSchedule, TRAINING_NOISE_DEFAULTS, sampleTrainingSigmas } from '../diffusion/schedule.js';
import type { Network } from '../nets/types.js';
import * as T from '../tensor/index.js';
import type { ReplayBuffer } from './buffer.js';
import type { AnnealField } from './anneal.js';
import { NetworkWorkers, networkRecipe, type SummedGradients, workerFailure } from './data-parallel.js';
import { neuralField, type NeuralFieldOptions } from './neural-field.js';
import { HostOptimizer, type HostNetworkLayout, type HostNetworkState } from './host-optimizer.js';

/** Builds a network with fresh, deterministic parameters drawn from `rng`. */
export type NetworkFactory = (rng: Rng) => Network;

/** A buffer to train on and the relative inverse temperature β fed to conditioned networks. */
export interface TrainingSource {
  buffer: ReplayBuffer;
  beta: number | null;
}

export interface TrainerConfig {
  /** Seed of the network initialisation and of the training stream. */
  seed: number;
  /** Rows per step (spec: 512 LJ-13, 2048 peptides). */
  batchSize: number;
  /** Rows per gradient pass (gradients accumulate to the full batch); default batchSize. */
  microBatchSize: number;
  lr: number;
  /** Grad-norm clip. */
  clipNorm: number;
  /** 'global': one norm over both networks (the reference); 'network': each network clipped by its own norm. */
  clipScope: 'global' | 'network';
  emaDecay: number;
  weights: LossWeights;
  sigmaMin: number;
  sigmaMax: number;
  rho: number;
  /** ln σ ~ N(pMean, pStd²). */
  pMean: number;
  pStd: number;
  /** TSM rows: h < h(tsmMaxTime). */
  tsmMaxTime: number;
  /**
   * L_EM pins U_θ(x_0, σ) to Ē at σ log-uniform in [σ_min, pinSigmaMax] per row (an extension; σ_min
   * alone, the reference, when pinSigmaMax ≤ σ_min, which draws nothing from the stream).
   */
  pinSigmaMax: number;
  forceClip: number;
  energyMaskThreshold: number;
  /** λ_ES of L_ES: 'edm' = λ(σ) (the reference) or 'score' = λ(σ)² (src/diffusion/losses.ts). */
  energyScoreWeighting: EnergyScoreWeighting;
  /** Particle layout (mean-free mode and rotations need it); null for non-particle targets. */
  layout: ParticleLayout | null;
  /** Remove the centroid of x_0 and ε. */
  meanFree: boolean;
  /** Uniform random SO(3) rotation of x_0 and f per row. */
  rotate: boolean;
}

export const TRAINER_DEFAULTS: Omit<TrainerConfig, 'microBatchSize'> = {
  seed: 0,
  batchSize: 512,
  lr: 1e-3,
  clipNorm: 0.5,
  clipScope: 'global',
  emaDecay: 0.999,
  weights: { ...DEFAULT_LOSS_WEIGHTS },
  sigmaMin: EDM_DEFAULTS.sigmaMin,
  sigmaMax: EDM_DEFAULTS.sigmaMax,
  rho: EDM_DEFAULTS.rho,
  pMean: TRAINING_NOISE_DEFAULTS.pMean,
  pStd: TRAINING_NOISE_DEFAULTS.pStd,
  tsmMaxTime: 0.2,
  pinSigmaMax: 0,
  forceClip: 1000,
  energyMaskThreshold: 1000,
  energyScoreWeighting: 'edm',
  layout: null,
  meanFree: false,
  rotate: false,
};

/** The defaults completed by `overrides`, validated (UserError naming the key). */
export function resolveTrainerConfig(overrides: Partial<TrainerConfig> = {}): TrainerConfig {
  const valid = [...Object.keys(TRAINER_DEFAULTS), 'microBatchSize'];
  const unknown = Object.keys(overrides).filter((k) => !valid.includes(k));
  if (unknown.length > 0) throw new UserError(`trainer config: unknown key(s) ${unknown.join(', ')}; valid keys: ${valid.join(', ')}`);
  const c: TrainerConfig = {
    ...TRAINER_DEFAULTS,
    microBatchSize: overrides.batchSize ?? TRAINER_DEFAULTS.batchSize,
    ...overrides,
    weights: { ...(overrides.weights ?? TRAINER_DEFAULTS.weights) },
  };
  const bad = (key: string, want: string, got: unknown): never => {
    throw new UserError(`trainer config: '${key}' must be ${want}, got ${JSON.stringify(got)}`);
  };
  if (!Number.isInteger(c.seed)) bad('seed', 'an integer', c.seed);
  for (const key of ['batchSize', 'microBatchSize'] as const) {
    if (!(Number.isInteger(c[key]) && c[key] >= 1)) bad(key, 'a positive integer', c[key]);
  }
  for (const key of ['lr', 'clipNorm', 'sigmaMin', 'sigmaMax', 'rho', 'forceClip'] as const) {
    if (!(Number.isFinite(c[key]) && c[key] > 0)) bad(key, 'a finite number > 0', c[key]);
  }
  if (!(c.emaDecay >= 0 && c.emaDecay <= 1)) bad('emaDecay', 'in [0, 1]', c.emaDecay);
  if (c.clipScope !== 'global' && c.clipScope !== 'network') bad('clipScope', "'global' or 'network'", c.clipScope);
  if (!Number.isFinite(c.pMean)) bad('pMean', 'finite', c.pMean);
  if (!(Number.isFinite(c.pStd) && c.pStd >= 0)) bad('pStd', 'a finite number ≥ 0', c.pStd);
  if (!(c.tsmMaxTime >= 0 && c.tsmMaxTime <= 1)) bad('tsmMaxTime', 'in [0, 1]', c.tsmMaxTime);
  if (!(Number.isFinite(c.pinSigmaMax) && c.pinSigmaMax >= 0)) bad('pinSigmaMax', 'a finite number ≥ 0', c.pinSigmaMax);
  if (!Number.isFinite(c.energyMaskThreshold)) bad('energyMaskThreshold', 'finite', c.energyMaskThreshold);
  if (c.energyScoreWeighting !== 'edm' && c.energyScoreWeighting !== 'score') bad('energyScoreWeighting', "'edm' or 'score'", c.energyScoreWeighting);
  const wKeys = Object.keys(DEFAULT_LOSS_WEIGHTS);
  for (const [k, v] of Object.entries(c.weights)) {
    if (!wKeys.includes(k)) bad(`weights.${k}`, `one of ${wKeys.join(', ')}`, k);
    if (!(Number.isFinite(v) && v >= 0)) bad(`weights.${k}`, 'a finite number ≥ 0', v);
  }
  for (const k of wKeys) if (!(k in c.weights)) bad(`weights.${k}`, 'given', undefined);
  if ((c.meanFree || c.rotate) && c.layout === null) bad('layout', 'set when meanFree or rotate is on', null);
  if (c.layout !== null) {
    const { nParticles, spatialDim } = c.layout;
    if (!(Number.isInteger(nParticles) && nParticles >= 1 && Number.isInteger(spatialDim) && spatialDim >= 1)) {
      bad('layout', 'positive integers nParticles and spatialDim', c.layout);
    }
  }
  if (c.rotate && c.layout?.spatialDim !== 3) bad('rotate', 'false unless layout.spatialDim is 3', c.rotate);
  return c;
}

/** One line of the training log. Losses are unweighted; `loss` is the weighted total. */
export interface StepLog {
  /** Steps done after this one (1 for the first step). */
  step: number;
  /** Index of the source trained on. */
  source: number;
  loss: number;
  lossScore: number;
  lossEnergyScore: number;
  lossEnergyMatching: number;
  lossTargetScore: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  lr: number;
  /** Wall time of the step. */
  seconds: number;
}

/**
 * How a trainer runs, as opposed to what it computes (not part of its state
 * or checkpoints: a run may resume with other options).
 */
export interface TrainerOptions {
  /**
   * Threads that compute each step's gradients, each on a contiguous slice
   * of the batch (data parallel, src/pita/data-parallel.ts), and the
   * annealing field (`annealingField`); 1 (the default) computes them in
   * this thread. Training results differ between worker counts only by
   * float32 rounding (the same count gives the same bits); the annealing
   * field is bit-identical for any count. With 2 or more, clip, Adam and
   * the EMA run on the host's flat arrays (host-optimizer.ts), which round
   * differently from the engine's update. Capped at the batch size; on
   * WebGPU always 1 (the one GPU already runs the whole batch, and its step
   * is captured and replayed as a whole).
   */
  workers?: number;
  /** The module of the worker jobs (default data-parallel.ts; tests wrap it to inject faults). */
  jobModule?: string;
}

/** The gradient threads a trainer uses when `asked` for them, on the started tensor backend. */
export function trainingWorkers(asked: number, batchSize: number): number {
  if (!(Number.isInteger(asked) && asked >= 1)) throw new UserError(`workers must be an integer ≥ 1, got ${asked}`);
  // WebGPU keeps one thread: the GPU already runs the whole batch, and its step is captured and replayed as a whole.
  return T.backendInfo().name === 'webgpu' ? 1 : Math.min(asked, batchSize);
}

/** A log callback writing one JSON object per line to `path` (appending). */
export function jsonLinesLog(path: string): (entry: StepLog) => void {
  return (entry) => appendFileSync(path, JSON.stringify(entry) + '\n');
}

/** A network's state on the host (for checkpoints). */
export interface NetworkState {
  kind: Network['kind'];
  config: Readonly<Record<string, unknown>>;
  params: Record<string, Float32Array>;
  ema: T.EmaState;
  adam: T.AdamState;
}

/** Everything needed to resume training exactly. */
export interface TrainerState {
  config: TrainerConfig;
  step: number;
  rng: RngState;
  score: NetworkState;
  energy: NetworkState;
}

/** Both networks built from the same Rng state; F_E's values are then copied from F_S. */
function buildNetworks(factory: NetworkFactory, seed: number): { score: Network; energy: Network } {
  const rng = new Rng(seed).fork('networks');
  const state = rng.getState();
  const score = factory(rng);
  rng.setState(state);
  const energy = factory(rng);
  const names = score.params.names();
  const same =
    energy.kind === score.kind &&
    energy.dim === score.dim &&
    names.length === energy.params.count &&
    names.every((n) => energy.params.has(n) && energy.params.shape(n).join() === score.params.shape(n).join());
  if (!same) throw new Error('Trainer: the network factory built two different architectures from the same settings');
  energy.params.copyFrom(score.params);
  return { score, energy };
}

const PREFIX = { score: 'score/', energy: 'energy/' } as const;

export class Trainer {
  readonly config: TrainerConfig;
  readonly schedule: EdmSchedule;
  readonly scoreNet: Network;
  readonly energyNet: Network;
  private readonly adamScore: T.Adam;
  private readonly adamEnergy: T.Adam;
  private readonly emaScore: T.Ema;
  private readonly emaEnergy: T.Ema;
  private readonly rng: Rng;
  private steps = 0;
  private captured: DeviceStep | null = null;
  /** Set when a step failed after changing the device state: that state is never saved. */
  private failed: string | null = null;
  /** Gradient threads in use (1: this thread). */
  readonly workers: number;
  private readonly jobModule: string | undefined;
  /** Started at the first data-parallel step or annealing field; dropped (closed) when a worker fails. */
  private networkWorkers: NetworkWorkers | null = null;
  /** The optimiser state of data-parallel steps (built from the engine's at the first one). */
  private host: HostOptimizer | null = null;
  /** Whether `host` holds Adam moments or EMA shadows the engine's optimisers do not have yet. */
  private engineBehind = false;

  /** Fresh networks from `factory` (seeded by config.seed) and fresh optimiser state. */
  constructor(factory: NetworkFactory, config: Partial<TrainerConfig> = {}, options: TrainerOptions = {}) {
    this.config = resolveTrainerConfig(config);
    const c = this.config;
    this.workers = trainingWorkers(options.workers ?? 1, c.batchSize);
    this.jobModule = options.jobModule;
    this.schedule = new EdmSchedule({ sigmaMin: c.sigmaMin, sigmaMax: c.sigmaMax, rho: c.rho });
    const nets = buildNetworks(factory, c.seed);
    this.scoreNet = nets.score;
    this.energyNet = nets.energy;
    if (c.layout !== null && c.layout.nParticles * c.layout.spatialDim !== this.scoreNet.dim) {
      throw new UserError(
        `trainer config: layout ${c.layout.nParticles}×${c.layout.spatialDim} does not match the network dimension ${this.scoreNet.dim}`,
      );
    }
    this.adamScore = new T.Adam(this.scoreNet.params, { lr: c.lr });
    this.adamEnergy = new T.Adam(this.energyNet.params, { lr: c.lr });
    this.emaScore = new T.Ema(this.scoreNet.params, c.emaDecay);
    this.emaEnergy = new T.Ema(this.energyNet.params, c.emaDecay);
    this.rng = new Rng(c.seed).fork('training');
  }

  /** Optimiser steps taken so far. */
  get step(): number {
    return this.steps;
  }

  /** One training step on a source chosen uniformly among `sources`. */
  async trainStep(sources: readonly TrainingSource[]): Promise<StepLog> {
    return this.beginStep(sources)();
  }

  /**
   * The first half of a step: draws and checks its batch and submits the update (bad input throws here,
   * before anything runs). The function returned waits for the update and returns the step's log.
   */
  private beginStep(sources: readonly TrainingSource[]): () => Promise<StepLog> {
    const t0 = performance.now();
    const c = this.config;
    const D = this.scoreNet.dim;
    if (sources.length === 0) throw new RangeError('Trainer.trainStep: no training source given');
    const j = sources.length > 1 ? this.rng.int(sources.length) : 0;
    const { buffer, beta } = sources[j];
    if (buffer.dim !== D) throw new RangeError(`Trainer.trainStep: source ${j} has dimension ${buffer.dim}, the networks ${D}`);
    if (this.scoreNet.conditionOnTemperature && beta === null) {
      throw new RangeError(`Trainer.trainStep: the networks are temperature-conditioned but source ${j} has beta null`);
    }
    // A failed data-parallel pass rewinds the stream, so the trainer's state stays that before the step.
    const rngBefore = this.rng.getState();
    const packed = drawTrainingBatch(this.rng, buffer, this.scoreNet.conditionOnTemperature ? beta : null, c, this.schedule);
    const conditioned = this.scoreNet.conditionOnTemperature && beta !== null;
    const update = this.workers === 1 ? this.deviceUpdate(packed, conditioned) : this.hostUpdate(packed, conditioned, rngBefore);
    // Awaited by the function below (a rejection is not unhandled meanwhile).
    update.catch(() => undefined);
    return () => this.finishStep(update, j, t0);
  }

  private async finishStep(update: Promise<UpdateOutputs>, j: number, t0: number): Promise<StepLog> {
    const c = this.config;
    const { summary, squares, clipped } = await update;
    // A step submitted behind one that failed (train's pipeline) ran on spoiled state: it fails too.
    if (this.failed !== null) throw new NonFiniteError(this.failed);
    const values = lossValues(summary, c.weights);
    const gradNorm = summary[4];
    if (!Number.isFinite(values.total) || !Number.isFinite(gradNorm)) {
      // The step already ran on the device: this trainer's state is spoiled and must never be saved.
      this.failed = stepFailure(values, clipped, squares, this.steps + 1);
      throw new NonFiniteError(this.failed);
    }
    this.steps++;
    return {
      step: this.steps,
      source: j,
      loss: values.total,
      lossScore: values.score,
      lossEnergyScore: values.energyScore,
      lossEnergyMatching: values.energyMatching,
      lossTargetScore: values.targetScore,
      gradNorm,
      lr: c.lr,
      seconds: (performance.now() - t0) / 1000,
    };
  }

  /**
   * The whole step on this thread's engine (captured and replayed on
   * WebGPU): the step's outputs and the clipped parameters' names.
   */
  private async deviceUpdate(packed: Float32Array, conditioned: boolean): Promise<UpdateOutputs> {
    const run = this.deviceStep(conditioned);
    const scalars = Float32Array.from([...this.adamScore.nextFactors(), 1 - this.emaScore.nextDecay()]);
    // The host's counters: a replay does not call the step function, so they advance here. Once the step
    // has run (its updated names are known), as soon as it is submitted, so that a next step submitted
    // before this one is read (train's pipeline) gets its factors; the first run fills the names.
    const advance = (): void => {
      this.adamScore.advance(run.names.score);
      this.adamEnergy.advance(run.names.energy);
      this.emaScore.advance();
      this.emaEnergy.advance();
    };
    const ran = run.state.length > 0;
    const outputs = run.step.run([packed, scalars]);
    if (ran) advance();
    const [summary, squares] = await outputs;
    if (!ran) advance();
    run.state = this.stateTensors();
    return { summary, squares, clipped: run.names.clip };
  }

  /**
   * Whether a step on `sources` may be submitted before the one in flight is read: the step replays a
   * recording (WebGPU) that has run, on this trainer's engine, and every source needs that recording.
   */
  private pipelines(sources: readonly TrainingSource[]): boolean {
    const held = this.captured;
    if (this.workers !== 1 || held === null || !held.step.replaying || held.state.length === 0) return false;
    return sources.every((s) => String(this.scoreNet.conditionOnTemperature && s.beta !== null) === held.key);
  }

  /**
   * A data-parallel step: the gradients from the worker threads, then clip,
   * Adam and EMA on the host's flat arrays (host-optimizer.ts). The
   * engine's parameters follow every step, so forward passes on this
   * thread see them; its Adam moments and EMA shadows are written when
   * something reads them (`syncEngine`).
   */
  private async hostUpdate(packed: Float32Array, conditioned: boolean, rngBefore: RngState): Promise<UpdateOutputs> {
    this.host ??= await this.hostFromEngine();
    const host = this.host;
    const g = await this.parallelGradients(host.params, packed, conditioned, rngBefore);
    const r = host.step(g.grads, g.isNull);
    this.engineBehind = true;
    for (const [net, which] of [[this.scoreNet, 'score'], [this.energyNet, 'energy']] as const) {
      for (const [name, values] of host.paramViews(which)) net.params.set(name, values);
    }
    return {
      summary: [...g.terms, r.norm],
      squares: r.squares,
      clipped: [...r.stepped.score.map((n) => PREFIX.score + n), ...r.stepped.energy.map((n) => PREFIX.energy + n)],
    };
  }

  /** The host optimiser, from the engine's current parameters and optimiser state. */
  private async hostFromEngine(): Promise<HostOptimizer> {
    const c = this.config;
    const layout = (net: Network): HostNetworkLayout => ({ names: net.params.names(), sizes: net.params.names().map((n) => net.params.shape(n).reduce((a, b) => a * b, 1)) });
    const state = async (net: Network, ema: T.Ema, adam: T.Adam): Promise<HostNetworkState> => ({ params: await net.params.readAll(), adam: await adam.getState(), ema: await ema.getState() });
    const { beta1, beta2, eps } = this.adamScore;
    return new HostOptimizer(
      { score: layout(this.scoreNet), energy: layout(this.energyNet) },
      { score: await state(this.scoreNet, this.emaScore, this.adamScore), energy: await state(this.energyNet, this.emaEnergy, this.adamEnergy) },
      c.emaDecay,
      { lr: c.lr, beta1, beta2, eps, clipNorm: c.clipNorm, clipScope: c.clipScope },
    );
  }

  /** Write the host optimiser's Adam moments, EMA shadows and counts into the engine's, if data-parallel steps moved them. */
  private syncEngine(): void {
    if (!this.engineBehind || this.host === null) return;
    for (const [which, adam, ema] of [['score', this.adamScore, this.emaScore], ['energy', this.adamEnergy, this.emaEnergy]] as const) {
      const s = this.host.state(which);
      adam.setState(s.adam);
      ema.setState(s.ema);
    }
    this.engineBehind = false;
  }

  /**
   * The device part of a training step (losses, gradients, clip, Adam, EMA)
   * as a captured step: on WebGPU it is recorded once and replayed. Inputs:
   * the packed loss batch and [Adam's two factors, the EMA rate]. Outputs:
   * [L_S, L_TSM, L_ES, L_EM, ‖g‖] and ‖g_p‖² per parameter. Adam's moments
   * start at zero before the first update, so every step is captured; the
   * capture is redone if the batch's conditioning changes or a restored
   * state replaced the tensors.
   */
  private deviceStep(conditioned: boolean): DeviceStep {
    const key = String(conditioned);
    const held = this.captured;
    if (held !== null && held.key === key && sameTensors(held.state, this.stateTensors())) return held;
    held?.step.dispose();
    this.captured = null;
    const c = this.config;
    const rows = { rows: c.batchSize, dim: this.scoreNet.dim, conditioned };
    const names: Stepped = { score: [], energy: [], clip: [] };
    const spec: T.StepSpec = {
      inputs: [[c.batchSize, packedWidth(this.scoreNet.dim)], [3]],
      state: () => this.stateTensors(),
      step: ([data, scalars]: T.Tensor[]) => {
        const r = lossesAndGrads(this.scoreNet, this.energyNet, { ...rows, data }, c.weights, c.microBatchSize);
        return this.update(r, scalars, names);
      },
    };
    // Adam's moments are state of the captured step from its first update on.
    this.adamScore.ensureMoments();
    this.adamEnergy.ensureMoments();
    this.captured = { key, step: T.captureStep(spec), state: [], names };
    return this.captured;
  }

  /**
   * The optimiser half of a step, shared by both paths (inside a step
   * function): grad-norm clip (global or per network, clipScope), Adam, EMA. Returns the step's outputs
   * [L_S, L_TSM, L_ES, L_EM, ‖g‖] and ‖g_p‖² per parameter.
   */
  private update(r: { terms: T.Tensor; scoreGrads: T.ParamGrads; energyGrads: T.ParamGrads }, scalars: T.Tensor, names: Stepped): T.Tensor[] {
    const c = this.config;
    const merged: T.ParamGrads = new Map();
    for (const [n, g] of r.scoreGrads) merged.set(PREFIX.score + n, g);
    for (const [n, g] of r.energyGrads) merged.set(PREFIX.energy + n, g);
    const clip = c.clipScope === 'global' ? T.clipGradNorm(merged, c.clipNorm) : clipPerNetwork(merged, c.clipNorm);
    const factors = T.slice(scalars, [0], [2]);
    const rate = T.reshape(T.slice(scalars, [2], [1]), []);
    names.score = this.adamScore.step(new Map([...r.scoreGrads.keys()].map((n) => [n, clip.grads.get(PREFIX.score + n) ?? null])), factors);
    names.energy = this.adamEnergy.step(new Map([...r.energyGrads.keys()].map((n) => [n, clip.grads.get(PREFIX.energy + n) ?? null])), factors);
    names.clip = clip.names;
    this.emaScore.update(rate);
    this.emaEnergy.update(rate);
    return [T.concat([r.terms, T.reshape(clip.norm, [1])], 0), clip.squares];
  }

  /**
   * The summed gradients of the packed batch from the worker threads, for
   * the parameters `params` (both networks, flat). On a worker's failure the stream is
   * rewound to `rngBefore` and nothing else has changed, so the trainer's
   * state is still that before the step (a valid checkpoint); the error, one
   * line naming the worker (see workerFailure), propagates, and the next
   * step starts new workers.
   */
  private async parallelGradients(params: Float32Array, packed: Float32Array, conditioned: boolean, rngBefore: RngState): Promise<SummedGradients> {
    const w = this.startedWorkers();
    return this.onWorkers(
      w,
      () => {
        const batch = { rows: this.config.batchSize, dim: this.scoreNet.dim, conditioned, data: packed };
        return w.gradients(params, batch, this.config.microBatchSize, this.config.weights);
      },
      () => this.rng.setState(rngBefore),
    );
  }

  /**
   * The annealing field (src/pita/neural-field.ts) of the networks' current
   * parameters: call it inside `withEma` for the EMA ones. With one thread it
   * runs on this thread's engine and reads the parameters at every call;
   * with W ≥ 2 workers it runs in the worker threads, on the parameters read
   * now and sent once, every evaluation's rows split across the workers
   * (bit-identical to one thread: see src/pita/data-parallel.ts). A worker's
   * failure rejects the call with one line naming the worker (workerFailure)
   * and closes the workers; the trainer's state is untouched, and its next
   * step starts new ones.
   */
  async annealingField(opts: Pick<NeuralFieldOptions, 'beta' | 'divergence' | 'probes'>): Promise<AnnealField> {
    if (this.workers === 1) {
      const params = () => [...this.scoreNet.params.tensorsInOrder(), ...this.energyNet.params.tensorsInOrder()];
      return neuralField({ scoreNet: this.scoreNet.apply, energyNet: this.energyNet.apply, schedule: this.schedule, params, ...opts });
    }
    const w = this.startedWorkers();
    const { sigmaMin, sigmaMax, rho } = this.schedule;
    const f = await this.onWorkers(w, async () => w.annealField(await this.flatParams(), { schedule: { sigmaMin, sigmaMax, rho }, ...opts }));
    return {
      evaluate: (x, m, t, rows) => this.onWorkers(w, () => f.evaluate(x, m, t, rows)),
      drift: (x, m, t) => this.onWorkers(w, () => f.drift(x, m, t)),
      energy: (x, m, t) => this.onWorkers(w, () => f.energy(x, m, t)),
    };
  }

  /** The worker threads, started (with networks built like this trainer's) when none are running. */
  private startedWorkers(): NetworkWorkers {
    const geometry = this.config.layout ? { dim: this.scoreNet.dim, ...this.config.layout } : { dim: this.scoreNet.dim, nParticles: 1, spatialDim: this.scoreNet.dim };
    this.networkWorkers ??= new NetworkWorkers(this.workers, { score: networkRecipe(this.scoreNet, geometry), energy: networkRecipe(this.energyNet, geometry) }, this.jobModule);
    return this.networkWorkers;
  }

  /**
   * `fn` on the workers `w`. If it fails, `undo` runs, the workers are
   * closed and dropped (the next use starts new ones), and the error, one
   * line naming the worker (see workerFailure), propagates.
   */
  private async onWorkers<R>(w: NetworkWorkers, fn: () => Promise<R>, undo?: () => void): Promise<R> {
    try {
      return await fn();
    } catch (e) {
      undo?.();
      if (this.networkWorkers === w) this.networkWorkers = null;
      await w.close();
      throw workerFailure(e);
    }
  }

  /** Both networks' current parameters, flat: the score network's then the energy network's, in store order. */
  private async flatParams(): Promise<Float32Array> {
    const tensors = [...this.scoreNet.params.tensorsInOrder(), ...this.energyNet.params.tensorsInOrder()];
    const values = await Promise.all(tensors.map((t) => T.read(t)));
    const params = new Float32Array(values.reduce((n, v) => n + v.length, 0));
    values.reduce((offset, v) => (params.set(v, offset), offset + v.length), 0);
    return params;
  }

  /** Everything a training step replaces: parameters, Adam's moments, EMA shadows. */
  private stateTensors(): T.Tensor[] {
    return [
      ...this.scoreNet.params.tensorsInOrder(),
      ...this.energyNet.params.tensorsInOrder(),
      ...this.adamScore.stateTensors(),
      ...this.adamEnergy.stateTensors(),
      ...this.emaScore.stateTensors(),
      ...this.emaEnergy.stateTensors(),
    ];
  }

  /**
   * `steps` training steps; `onLog` receives every step's log. Returns the
   * last log. With a `signal`, the event loop gets a turn before every step
   * (so that signal handlers run), and once it is aborted no further step
   * starts (`step` tells how many were taken); the state stays a valid
   * checkpoint.
   */
  async train(sources: readonly TrainingSource[], steps: number, onLog?: (entry: StepLog) => void, signal?: AbortSignal): Promise<StepLog | null> {
    if (!(Number.isInteger(steps) && steps >= 0)) throw new RangeError(`Trainer.train: steps must be a non-negative integer, got ${steps}`);
    let last: StepLog | null = null;
    // On WebGPU, step i + 1 is prepared and submitted before step i is read, so the host's batch and the
    // read's round trip overlap the GPU's work (docs/tensor-engine.md §2.25). The random stream is drawn
    // in the same order and the steps run in order on the device: the results are those of one at a time.
    const inFlight: (() => Promise<StepLog>)[] = [];
    const finish = async (): Promise<void> => {
      const step = inFlight.shift() as () => Promise<StepLog>;
      try {
        last = await step();
      } catch (e) {
        // The step behind it already changed the device state: nothing of it may be saved.
        if (inFlight.length > 0) this.failed ??= `step ${this.steps + 1} failed with the next step already submitted: ${e instanceof Error ? e.message : String(e)}`;
        throw e;
      }
      onLog?.(last);
    };
    try {
      for (let i = 0; i < steps; i++) {
        if (signal) await yieldToEventLoop();
        if (signal?.aborted) break;
        const overlap = this.pipelines(sources);
        if (!overlap) while (inFlight.length > 0) await finish();
        let begun: () => Promise<StepLog>;
        try {
          begun = this.beginStep(sources);
        } catch (e) {
          // Bad input for this step (nothing of it ran): the step before it completes as usual first.
          while (inFlight.length > 0) await finish();
          throw e;
        }
        inFlight.push(begun);
        while (inFlight.length > (overlap ? 1 : 0)) await finish();
      }
      while (inFlight.length > 0) await finish();
    } finally {
      // Steps still in flight when train stops on an error have their updates on the device: each completes
      // and counts (if only onLog threw), or the state is marked unsaveable (after a failed step it is already).
      for (const step of inFlight.splice(0)) {
        try {
          await step();
        } catch (e) {
          this.failed ??= `step ${this.steps + 1} failed after train had stopped: ${e instanceof Error ? e.message : String(e)}`;
        }
      }
    }
    return last;
  }

  /** Run `fn` with the EMA weights in both networks (raw weights restored afterwards, also on throw). */
  withEma<R>(fn: () => R): R {
    this.syncEngine();
    return this.emaScore.withShadows(() => this.emaEnergy.withShadows(fn));
  }

  async getState(): Promise<TrainerState> {
    if (this.failed !== null) throw new NonFiniteError(`the trainer's state is not saved after a failed step (${this.failed})`);
    this.syncEngine();
    const netState = async (net: Network, ema: T.Ema, adam: T.Adam): Promise<NetworkState> => ({
      kind: net.kind,
      config: net.config,
      params: await net.params.readAll(),
      ema: await ema.getState(),
      adam: await adam.getState(),
    });
    return {
      config: structuredClone(this.config),
      step: this.steps,
      rng: this.rng.getState(),
      score: await netState(this.scoreNet, this.emaScore, this.adamScore),
      energy: await netState(this.energyNet, this.emaEnergy, this.adamEnergy),
    };
  }

  /** A trainer in exactly the given state; `factory` must build the architecture the state was saved from. */
  static fromState(factory: NetworkFactory, state: TrainerState, options: TrainerOptions = {}): Trainer {
    const tr = new Trainer(factory, state.config, options);
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw new RangeError(`Trainer.fromState: step must be a non-negative integer, got ${state.step}`);
    const load = (which: 'score' | 'energy', net: Network, ema: T.Ema, adam: T.Adam): void => {
      const s = state[which];
      if (s.kind !== net.kind || JSON.stringify(s.config) !== JSON.stringify(net.config)) {
        throw new UserError(
          `checkpoint ${which} network is ${s.kind} ${JSON.stringify(s.config)}, but the factory builds ${net.kind} ${JSON.stringify(net.config)}`,
        );
      }
      const names = net.params.names();
      const missing = names.filter((n) => !(n in s.params));
      const extra = Object.keys(s.params).filter((n) => !net.params.has(n));
      if (missing.length > 0 || extra.length > 0) {
        throw new UserError(`checkpoint ${which} network: parameters missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`);
      }
      for (const n of names) net.params.set(n, s.params[n]);
      ema.setState(s.ema);
      adam.setState(s.adam);
    };
    load('score', tr.scoreNet, tr.emaScore, tr.adamScore);
    load('energy', tr.energyNet, tr.emaEnergy, tr.adamEnergy);
    tr.rng.setState(state.rng);
    tr.steps = state.step;
    return tr;
  }

  /** Stop the worker threads, if any (a later step or annealing field starts new ones). */
  async closeWorkers(): Promise<void> {
    const w = this.networkWorkers;
    this.networkWorkers = null;
    await w?.close();
  }

  /** Free every tensor the trainer owns (parameters, EMA shadows, Adam moments) and stop its worker threads. */
  dispose(): void {
    void this.closeWorkers();
    this.adamScore.dispose();
    this.adamEnergy.dispose();
    this.emaScore.dispose();
    this.emaEnergy.dispose();
    this.scoreNet.params.dispose();
    this.energyNet.params.dispose();
  }
}

/** The message of a non-finite step: the non-finite loss terms, else the parameters with non-finite gradients. */
/** clipGradNorm applied to each network's gradients (names prefixed 'score/' or 'energy/') on its own; `norm` is the norm over both. */
function clipPerNetwork(grads: T.ParamGrads, maxNorm: number): ReturnType<typeof T.clipGradNorm> {
  const parts = Object.values(PREFIX).map((prefix) => T.clipGradNorm(new Map([...grads].filter(([n]) => n.startsWith(prefix))), maxNorm));
  return {
    norm: T.sqrt(T.add(T.square(parts[0].norm), T.square(parts[1].norm))),
    squares: T.concat([parts[0].squares, parts[1].squares], 0),
    names: [...parts[0].names, ...parts[1].names],
    grads: new Map([...parts[0].grads, ...parts[1].grads]),
  };
}

function stepFailure(v: LossValues, names: readonly string[], squares: Float32Array, step: number): string {
  const bad = Object.entries(v).filter(([, x]) => !Number.isFinite(x));
  if (bad.length > 0) return `training step ${step}: non-finite loss ${bad.map(([k, x]) => `${k} = ${x}`).join(', ')}`;
  const params = names.filter((_, i) => !Number.isFinite(squares[i]));
  return `training step ${step}: gradient norm is not finite: non-finite gradients in ${params.join(', ')}`;
}

/** The parameter names a step function updated (recorded when it runs; a replay repeats them). */
interface Stepped {
  score: string[];
  energy: string[];
  clip: string[];
}

/** What a step's update reports: [L_S, L_TSM, L_ES, L_EM, ‖g‖], ‖g_p‖² per clipped parameter, and their prefixed names. */
interface UpdateOutputs {
  summary: ArrayLike<number>;
  squares: Float32Array;
  clipped: readonly string[];
}

/** A training step on the device, with what the trainer must know between runs. */
interface DeviceStep {
  /** The batch's conditioning the step was built for. */
  key: string;
  step: T.CapturedStep;
  /** The state tensors after its last run (a replay is valid only on these). */
  state: T.Tensor[];
  names: Stepped;
}

function sameTensors(a: readonly T.Tensor[], b: readonly T.Tensor[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/**
 * One training batch drawn on the host, as a step uploads it (`packLossBatch`): batchSize rows of `buffer`,
 * each rotated and centred where the config says so, their σ, noise and pinned σ, and the losses' targets,
 * masks and weights (`prepareLossBatch`), with β for temperature-conditioned networks (else null). The
 * draws come from `rng` in this order; `pita bench` times it (bench/training.ts).
 */
export function drawTrainingBatch(rng: Rng, buffer: ReplayBuffer, beta: number | null, c: TrainerConfig, schedule: EdmSchedule): Float32Array {
  const B = c.batchSize;
  const D = buffer.dim;
  const batch = buffer.sample(rng, B);
  if (c.rotate && c.layout !== null) rotateBatch(rng, batch.x, batch.force, B, c.layout);
  if (c.meanFree && c.layout !== null) removeCentroids(batch.x, B, c.layout);
  const sigma = sampleTrainingSigmas(rng, B, { pMean: c.pMean, pStd: c.pStd });
  const eps = rng.normals(B * D);
  if (c.meanFree && c.layout !== null) removeCentroids(eps, B, c.layout);
  const pinSigma = c.pinSigmaMax > c.sigmaMin ? logUniform(rng, B, c.sigmaMin, c.pinSigmaMax) : undefined;
  const lossBatch = prepareLossBatch(
    { rows: B, dim: D, x0: batch.x, logp: batch.logp, force: batch.force, sigma, eps, beta, ...(pinSigma ? { pinSigma } : {}) },
    { schedule, weights: c.weights, tsmMaxTime: c.tsmMaxTime, forceClip: c.forceClip, energyMaskThreshold: c.energyMaskThreshold, energyScoreWeighting: c.energyScoreWeighting },
  );
  return packLossBatch(lossBatch);
}

function logUniform(rng: Rng, n: number, lo: number, hi: number): Float64Array {
  const a = Math.log(lo);
  const w = Math.log(hi) - a;
  return Float64Array.from({ length: n }, () => Math.exp(a + w * rng.uniform()));
}
