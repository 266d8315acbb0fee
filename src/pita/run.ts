/**
 * A progressive PITA run (docs/algorithm.md §1): initial data at T_0, then
 * for each rung k: train the score and energy networks on B_k (or on
 * B_0..B_k with β conditioning), anneal to T_{k+1} with FK-SMC using the EMA
 * weights, reweight with the true energy, relax, mask, and fill B_{k+1}.
 *
 * The run directory it writes is defined in src/rundir/schema.ts.
 *
 * Crash safety: progress.json is rewritten atomically after each checkpoint
 * and names the checkpoint file; `resume` restores the trainer, the buffers,
 * the counters and the rung from it and redoes only unfinished work, with
 * the same random streams, so finished rungs are bit-identical. A rung's
 * annealing is checkpointed too (its `AnnealState` and step logs, at most
 * every `annealCheckpointSeconds`), and progress.json then names that file
 * as well: a resume goes on from that annealing step, bit for bit (each
 * step's random stream derives from its index).
 *
 * Interruption: an aborted `signal` stops the run at the next training step
 * (after writing a checkpoint there: the trainer's state, its random stream
 * included, is complete after every step), annealing step (after writing
 * the annealing state there) or sampling block, and runPita rejects with an
 * InterruptedError once the lock is released; `resume` continues from the
 * last checkpoint as after a kill.
 *
 * Threads: with `workers` ≥ 2 on the CPU, the trainer's worker threads
 * compute the training gradients and the annealing field
 * (src/pita/data-parallel.ts); the annealed particles are bit-identical for
 * any worker count.
 */
import { InterruptedError, UserError } from '../core/errors.js';
import { removeCentroid } from '../core/particles.js';
import { Rng } from '../core/rng.js';
import { energyTimeGradients } from '../diffusion/models.js';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { staleLockWarning, withLock, type Lock } from '../io/lock.js';
import { readNpyFloat64, writeNpy } from '../io/npy.js';
import { runMd } from '../md/run.js';
import { evaluateSamples, type SampleMetrics } from '../metrics/evaluate.js';
import { createNetwork } from '../nets/index.js';
import { runSamplerInWorkers } from '../samplers/parallel.js';
import { mdChecks } from '../samplers/checks.js';
import { validateRunInputs } from './inputs.js';
import { annealCheckpointName, checkpointName, isRungStartCheckpoint, METHOD_COMPONENTS, type MetricsFile, type LogRecord, type ProgressFile, type RungSummary } from '../rundir/schema.js';
import { collapseWarning, summaryMarkdown } from '../rundir/summary.js';
import { RunDirectoryWriter } from '../rundir/writer.js';
import { createTarget } from '../targets/index.js';
import type { Target } from '../targets/target.js';
import { backendInfo, initTensorBackend } from '../tensor/index.js';
import { anneal, type AnnealOptions, type AnnealState, type AnnealStepLog } from './anneal.js';
import { ReplayBuffer } from './buffer.js';
import { startPhase, type RunEventListener } from './events.js';
import { type AnnealCheckpoint, loadAnnealCheckpoint, loadTrainerCheckpoint, saveAnnealCheckpoint, saveTrainerCheckpoint } from './checkpoint.js';
import { assertSameConfig, type RunConfig } from './config.js';
import { finishAnneal } from './finish.js';
import { NoiseWorkers } from './particle-noise.js';
import { Trainer, trainingWorkers, type NetworkFactory, type TrainerConfig } from './trainer.js';
import { logDensity, modelScore, reducedEnergy, toModelCoordinates, toPhysicalCoordinates } from './units.js';

// The run-directory schema moved to src/rundir; re-exported for existing importers.
export { METHOD_COMPONENTS, collapseWarning, type MetricsFile, type RungSummary };

export interface RunOptions {
  outDir: string;
  resume?: boolean;
  /** Progress and warnings as they happen (the CLI draws bars from them). */
  onEvent?: RunEventListener;
  /** No progress events (warnings are still emitted). */
  quiet?: boolean;
  /** Aborting it stops the run at its next safe point (module comment): runPita rejects with an InterruptedError, and `resume` continues. */
  signal?: AbortSignal;
  /** Stop after this many training steps in total (tests of kill-and-resume); the run throws RunStopped. */
  stopAfterSteps?: number;
  /**
   * Stop after this many annealing steps in total, before the state after the last is saved, as a kill there
   * would (tests of kill-and-resume); the run throws RunStopped.
   */
  stopAfterAnnealSteps?: number;
  /** Least wall time between two annealing checkpoints (default 60 s; 0: after every step). An aborted `signal` always writes one. */
  annealCheckpointSeconds?: number;
}

/** Default least time between two annealing checkpoints: a state of 5000 LJ-13 particles is ~2 MB (~5 MB with discrete weighting's drift). */
const ANNEAL_CHECKPOINT_SECONDS = 60;

export class RunStopped extends Error {}

export interface RunOutcome {
  outDir: string;
  finalSamples: Float64Array;
  nFinal: number;
  metrics: MetricsFile;
}

/** The run's random stream `label`: every draw of a run flows from its seed through these. */
function stream(cfg: RunConfig, label: string): Rng {
  return new Rng(cfg.seed).fork(label);
}

/** The run's worker threads: the config's `workers`, else the CPU count. */
const workerCount = (cfg: RunConfig): number => cfg.workers ?? availableParallelism();

/** Inverse temperatures relative to T_0, optionally rounded to 2 decimals like the reference. */
export function relativeBetas(temperatures: readonly number[], round: boolean): number[] {
  return temperatures.map((t) => (round ? Math.round((temperatures[0] / t) * 100) / 100 : temperatures[0] / t));
}

/** The run's networks (β-conditioned when the ladder trains on all temperatures). */
export function networkFactory(cfg: RunConfig, target: Target): NetworkFactory {
  const conditioned = cfg.ladder.trainOnAllTemperatures;
  return (rng) => createNetwork(cfg.model.network, { ...cfg.model.options, conditionOnTemperature: conditioned }, { dim: target.dim, nParticles: target.nParticles, spatialDim: target.spatialDim }, rng);
}

/** The trainer settings of `cfg.training` for `target`. */
export function trainerConfig(cfg: RunConfig, target: Target): Partial<TrainerConfig> {
  const layout = target.nParticles > 1 ? { nParticles: target.nParticles, spatialDim: target.spatialDim } : null;
  return {
    seed: cfg.seed,
    batchSize: cfg.training.batchSize,
    microBatchSize: cfg.training.microBatchSize ?? cfg.training.batchSize,
    lr: cfg.training.lr,
    clipNorm: cfg.training.clipNorm,
    clipScope: cfg.training.clipScope,
    emaDecay: cfg.training.emaDecay,
    weights: cfg.training.weights,
    sigmaMin: cfg.training.sigmaMin,
    pinSigmaMax: cfg.training.pinSigmaMax,
    energyScoreWeighting: cfg.training.energyScoreWeighting,
    sigmaMax: cfg.training.sigmaMax,
    rho: cfg.training.rho,
    layout,
    meanFree: target.translationInvariant,
    rotate: cfg.training.rotate ?? (target.translationInvariant && target.spatialDim === 3),
  };
}

/** Runs PITA holding the run directory's lock (`<outDir>/.lock`): one process per run, --resume included. */
export async function runPita(cfg: RunConfig, opts: RunOptions): Promise<RunOutcome> {
  // Inputs are checked before anything is created, so a bad file leaves no run directory.
  validateRunInputs(cfg, createTarget(cfg.target));
  mkdirSync(opts.outDir, { recursive: true });
  try {
    return await withLock(join(opts.outDir, '.lock'), `run directory ${opts.outDir}`, (lock) => runPitaLocked(cfg, opts, lock));
  } catch (e) {
    if (!(e instanceof InterruptedError)) throw e;
    // What the directory holds now decides how to go on.
    const next = new RunDirectoryWriter(opts.outDir).holdsRun() ? `continue from its last checkpoint with --resume (out ${opts.outDir})` : 'it had saved nothing yet: run it again to start over';
    throw new InterruptedError(`run interrupted (${e.message}); ${next}`);
  }
}

/** The trainer's worker threads (training and annealing) end with the run, however it ends (they would keep the process alive). */
async function runPitaLocked(cfg: RunConfig, opts: RunOptions, lock: Lock | null): Promise<RunOutcome> {
  const held: { trainer: Trainer | null } = { trainer: null };
  try {
    return await runPitaHeld(cfg, opts, lock, held);
  } finally {
    await held.trainer?.closeWorkers();
  }
}

async function runPitaHeld(cfg: RunConfig, opts: RunOptions, lock: Lock | null, held: { trainer: Trainer | null }): Promise<RunOutcome> {
  const stale = staleLockWarning(lock);
  if (stale) opts.onEvent?.({ type: 'warning', rung: 0, message: stale });
  const device = await initTensorBackend(cfg.device);
  const target = createTarget(cfg.target);
  const temps = cfg.ladder.temperatures;
  const K = temps.length - 1;
  const betas = relativeBetas(temps, cfg.ladder.roundBeta);
  const s = cfg.data.lengthScale;
  const D = target.dim;
  const dir = new RunDirectoryWriter(opts.outDir);
  const progressEvents = opts.quiet ? undefined : opts.onEvent;
  const conditioned = cfg.ladder.trainOnAllTemperatures;
  const factory = networkFactory(cfg, target);
  // Data-parallel training threads (the trainer keeps one on WebGPU).
  const trainerOptions = { workers: workerCount(cfg) };
  const steps = (k: number) => (k < K ? (Array.isArray(cfg.training.stepsPerTemperature) ? cfg.training.stepsPerTemperature[k] : cfg.training.stepsPerTemperature) : cfg.training.stepsAfterLast);
  const logLine = (record: LogRecord) => dir.appendLog(record);

  let trainer: Trainer;
  let buffers: ReplayBuffer[];
  let progress: ProgressFile;
  /** The annealing of `progress.rung` stopped part way, when resuming there. */
  let annealFrom: AnnealCheckpoint | null = null;
  if (opts.resume && dir.holdsRun()) {
    assertSameConfig(dir.configPath(), cfg);
    progress = dir.readProgress();
    const done = progress.done ? dir.readMetrics() : null;
    if (done) {
      // Already finished: resuming only reports.
      const final = readNpyFloat64(dir.samplesPath(K));
      return { outDir: opts.outDir, finalSamples: final.data, nFinal: final.shape[0], metrics: done };
    }
    // Lines logged after the last commit point are written again by the redone work.
    dir.truncateLog(progress.logBytes);
    const restored = loadTrainerCheckpoint(dir.checkpointPath(progress.checkpoint), factory, trainerOptions);
    trainer = restored.trainer;
    buffers = restored.buffers;
    target.counter.load(progress.evaluations);
    if (progress.anneal) {
      const expect = { rung: progress.rung, particles: cfg.annealing.particles, dim: D, steps: cfg.annealing.steps, drift: cfg.annealing.weighting === 'discrete' };
      annealFrom = loadAnnealCheckpoint(dir.checkpointPath(progress.anneal), expect);
    }
  } else {
    if (dir.holdsRun()) throw new UserError(`${opts.outDir} already holds a run; use --resume to continue it or choose another --out`);
    dir.create(cfg);
    logLine({ type: 'device', device: device.device, workers: trainingWorkers(trainerOptions.workers, cfg.training.batchSize) });
    const prev = target.counter.setComponent('initial-data');
    const data0 = await initialData(target, cfg, stream(cfg, 'initial-data'), progressEvents, opts.signal);
    target.counter.setComponent(prev);
    logLine({ type: 'initial-data', ...data0.diagnostics });
    for (const message of data0.warnings) {
      logLine({ type: 'warning', phase: 'initial-data', message });
      opts.onEvent?.({ type: 'warning', rung: 0, message: `initial data: ${message}` });
    }
    writeNpy(dir.samplesPath(0), data0.x, [data0.n, D], 'float64');
    const pick = stream(cfg, 'buffer-0');
    const n0 = cfg.data.samples;
    const x0 = new Float64Array(n0 * D);
    for (let i = 0; i < n0; i++) {
      const j = pick.int(data0.n);
      x0.set(data0.x.subarray(j * D, (j + 1) * D), i * D);
    }
    buffers = [fillBuffer(target, x0, n0, temps[0], s, cfg.annealing.energyMask)];
    trainer = new Trainer(factory, trainerConfig(cfg, target), trainerOptions);
    progress = { version: 1, rung: 0, stepOnRung: 0, checkpoint: '', evaluations: {}, rungs: [], done: false };
    await commit();
  }
  held.trainer = trainer;

  async function commit(): Promise<void> {
    const name = checkpointName(progress.rung, progress.stepOnRung);
    await saveTrainerCheckpoint(dir.checkpointPath(name), trainer, buffers);
    const previous = progress.checkpoint;
    progress = { ...progress, checkpoint: name, evaluations: target.counter.breakdown(), logBytes: dir.logBytes() };
    dir.writeProgress(progress);
    // Keep each rung's first checkpoint; drop superseded periodic ones.
    if (previous && previous !== name && !isRungStartCheckpoint(previous)) dir.removeCheckpoint(previous);
  }

  /**
   * A commit point inside rung k's annealing: the state after its step `state.step − 1` (and the
   * log up to it) in a new file, then progress.json naming it, then the superseded file removed,
   * so progress.json always names a complete file and the log length that goes with it.
   */
  function commitAnneal(k: number, state: AnnealState, log: readonly AnnealStepLog[], seconds: number): void {
    const name = annealCheckpointName(k, state.step);
    saveAnnealCheckpoint(dir.checkpointPath(name), { rung: k, state, log: [...log], seconds });
    const previous = progress.anneal;
    progress = { ...progress, anneal: name, evaluations: target.counter.breakdown(), logBytes: dir.logBytes() };
    dir.writeProgress(progress);
    if (previous && previous !== name) dir.removeCheckpoint(previous);
  }

  let totalAnnealed = 0;
  const annealEvery = (opts.annealCheckpointSeconds ?? ANNEAL_CHECKPOINT_SECONDS) * 1000;

  let totalTrained = 0;
  for (let k = progress.rung; k <= K; k++) {
    const sources = conditioned ? buffers.slice(0, k + 1).map((b, j) => ({ buffer: b, beta: betas[j] })) : [{ buffer: buffers[k], beta: null }];
    const want = steps(k);
    const bar = startPhase(progressEvents, `train T=${temps[k]}`, Math.max(1, want));
    while (progress.stepOnRung < want) {
      const chunk = Math.min(cfg.training.checkpointEvery - (progress.stepOnRung % cfg.training.checkpointEvery), want - progress.stepOnRung);
      const limit = opts.stopAfterSteps !== undefined ? Math.min(chunk, opts.stopAfterSteps - totalTrained) : chunk;
      if (limit <= 0) {
        bar.stop();
        throw new RunStopped(`stopped after ${totalTrained} training steps`);
      }
      const startStep = trainer.step;
      await trainer.train(
        sources,
        limit,
        (e) => {
          logLine({ type: 'train', rung: k, ...e });
          bar.update(progress.stepOnRung + e.step - startStep, { loss: e.loss });
        },
        opts.signal,
      );
      const taken = trainer.step - startStep;
      progress.stepOnRung += taken;
      totalTrained += taken;
      bar.update(progress.stepOnRung, {});
      if (taken < limit) {
        // Aborted: the state after any step is a checkpoint that resumes bit for bit.
        bar.stop();
        await commit();
        throw new InterruptedError(`at training step ${progress.stepOnRung} of ${want} at T=${temps[k]}; checkpoint written`);
      }
      if (limit === chunk) await commit();
    }
    bar.stop();
    if (k === K) break;
    // Anneal T_k → T_{k+1}, from where a resumed run's annealing stopped.
    const resume = annealFrom?.rung === k ? annealFrom : null;
    annealFrom = null;
    const t0 = performance.now() - (resume?.seconds ?? 0) * 1000;
    let saved = performance.now();
    const onState: AnnealOptions['onState'] = (state, log, reason) => {
      if (reason === 'step') {
        totalAnnealed++;
        if (opts.stopAfterAnnealSteps !== undefined && totalAnnealed >= opts.stopAfterAnnealSteps) throw new RunStopped(`stopped after ${totalAnnealed} annealing steps`);
        // The rung's end is a commit point anyway.
        if (state.step === cfg.annealing.steps || performance.now() - saved < annealEvery) return;
      }
      commitAnneal(k, state, log, (performance.now() - t0) / 1000);
      saved = performance.now();
    };
    const { res, fin, minEss, gamma, M } = await annealRung(trainer, target, cfg, k, progressEvents, (step) => logLine({ type: 'anneal', rung: k, ...step }), opts.signal, { resume, onState });
    const kept = maskRows(target, fin, M, temps[k + 1], cfg.annealing.energyMask);
    writeNpy(dir.samplesPath(k + 1), kept.x, [kept.n, D], 'float64');
    buffers.push(bufferFrom(target, kept, temps[k + 1], s));
    const summary: RungSummary = {
      rung: k + 1,
      temperature: temps[k + 1],
      beta: betas[k + 1],
      gamma,
      particles: M,
      kept: kept.n,
      resamplings: res.resamplings,
      minEss,
      reweightEss: fin.reweightEss,
      uniqueAfterReweight: fin.uniqueAfterReweight,
      relaxationAcceptance: fin.relaxationAcceptance,
      meanReducedEnergy: reducedEnergy(target, kept.e.reduce((a, b) => a + b, 0) / kept.n, temps[k + 1]),
      seconds: (performance.now() - t0) / 1000,
    };
    logLine({ type: 'rung', ...summary });
    const warning = collapseWarning(summary);
    if (warning) {
      // Emitted even when quiet: the next rung trains on these samples.
      logLine({ type: 'warning', rung: k + 1, message: warning });
      opts.onEvent?.({ type: 'warning', rung: k + 1, message: warning });
    }
    const { anneal: annealFile, ...rest } = progress;
    progress = { ...rest, rung: k + 1, stepOnRung: 0, rungs: [...progress.rungs, summary] };
    await commit();
    if (annealFile) dir.removeCheckpoint(annealFile);
  }
  progress = { ...progress, done: true };
  dir.writeProgress(progress);

  const final = readNpyFloat64(dir.samplesPath(K));
  const metrics = await evaluateRun(target, cfg, final.data, final.shape[0], progress.rungs, dir.referencePath(), opts.signal);
  dir.writeMetrics(metrics);
  dir.writeSummary(summaryMarkdown(cfg, metrics, device.device));
  trainer.dispose();
  return { outDir: opts.outDir, finalSamples: final.data, nFinal: final.shape[0], metrics };
}

/** How `annealRung` resumes and checkpoints its annealing. */
export interface AnnealRungOptions {
  /** Go on from this checkpoint of the same rung's annealing. */
  resume?: AnnealCheckpoint | null;
  /** The annealing state after every step and at an abort (see AnnealOptions.onState). */
  onState?: AnnealOptions['onState'];
}

/**
 * One annealing rung T_k → T_{k+1} with the trainer's EMA weights: FK-SMC in
 * model coordinates (on the trainer's worker threads when it has them; on
 * WebGPU with the noise on `workers` threads), then
 * the final reweight and relaxation in physical ones.
 * `logStep` receives every 50th annealing step and the last; an aborted
 * `signal` stops the annealing with an InterruptedError.
 */
export async function annealRung(
  trainer: Trainer,
  target: Target,
  cfg: RunConfig,
  k: number,
  onEvent: RunEventListener | undefined,
  logStep: (s: AnnealStepLog) => void,
  signal?: AbortSignal,
  opts: AnnealRungOptions = {},
) {
  const temps = cfg.ladder.temperatures;
  const betas = relativeBetas(temps, cfg.ladder.roundBeta);
  const s = cfg.data.lengthScale;
  const D = target.dim;
  const layout = target.nParticles > 1 ? { nParticles: target.nParticles, spatialDim: target.spatialDim } : null;
  const gamma = betas[k + 1] / betas[k];
  const M = cfg.annealing.particles;
  const beta = cfg.ladder.trainOnAllTemperatures ? betas[k] : null;
  const rng = stream(cfg, `anneal-${k}`);
  const annealBar = startPhase(onEvent, `anneal T=${temps[k]}→${temps[k + 1]}`, cfg.annealing.steps);
  const resume = opts.resume ? { state: opts.resume.state, log: opts.resume.log } : undefined;
  if (resume) annealBar.update(resume.state.step, {});
  // Beside a GPU the host's noise can be what a step waits for: worker threads draw it (the same numbers).
  const noise = backendInfo().name === 'webgpu' && workerCount(cfg) >= 2 ? new NoiseWorkers(workerCount(cfg)) : undefined;
  // withEma keeps the EMA weights in place until the promise settles (the worker threads get them once, at the start).
  const res = await trainer
    .withEma(async () => {
      const field = await trainer.annealingField({ beta, divergence: cfg.annealing.divergence, probes: cfg.annealing.probes });
      try {
        return await anneal(
          field,
          trainer.schedule,
          {
            gamma,
            weighting: cfg.annealing.weighting,
            gammaSchedule: cfg.annealing.gammaSchedule,
            ...(cfg.annealing.scoreGamma === 'gamma' ? {} : { scoreGamma: cfg.annealing.scoreGamma }),
            steps: cfg.annealing.steps,
            particles: M,
            dim: D,
            meanFree: target.translationInvariant ? layout : null,
            resampling: { ...cfg.annealing.resampling, end: cfg.annealing.resampling.end ?? cfg.annealing.steps },
            clampQuantile: cfg.annealing.clampQuantile,
            chunkSize: cfg.annealing.chunkSize,
            rejuvenation: cfg.annealing.rejuvenation,
          },
          rng,
          {
            onStep: (step) => {
              annealBar.update(step.step + 1, { ess: step.ess });
              if (step.step % 50 === 0 || step.step === cfg.annealing.steps - 1) logStep(step);
            },
            signal,
            resume,
            onState: opts.onState,
            noise,
          },
        );
      } finally {
        field.dispose?.();
      }
    })
    .finally(async () => {
      annealBar.stop();
      await noise?.close();
    });
  const minEss = res.log.reduce((m, step) => Math.min(m, step.ess), 1);
  const xPhys = toPhysicalCoordinates(res.x, s);
  const tAt = cfg.annealing.finalReweight.energyAt === 'sigma-min' ? 0 : 1 - (cfg.annealing.resampling.end ?? cfg.annealing.steps) / cfg.annealing.steps;
  // U_θ in chunks of annealing.chunkSize (pair networks on M rows at once would not fit the wasm heap).
  const modelEnergy = (x: Float64Array) =>
    trainer.withEma(async () => {
      const u = new Float64Array(M);
      const chunk = cfg.annealing.chunkSize;
      const starts = Array.from({ length: Math.ceil(M / chunk) }, (_, c) => c * chunk);
      // Every chunk is computed before any is awaited, so their reads overlap.
      const parts = starts.map((c0) => {
        const m = Math.min(chunk, M - c0);
        const xc = toModelCoordinates(x.subarray(c0 * D, (c0 + m) * D), s);
        return energyTimeGradients(trainer.energyNet.apply, trainer.schedule, xc, m, tAt, beta);
      });
      (await Promise.all(parts)).forEach((e, c) => u.set(e.energy, starts[c]));
      return u;
    });
  const fin = await finishAnneal(
    target,
    xPhys,
    M,
    modelEnergy,
    { temperature: temps[k + 1], gamma, finalReweight: cfg.annealing.finalReweight, relaxation: cfg.annealing.relaxation },
    rng,
    res.logWeights,
  );
  return { res, fin, minEss, gamma, M };
}


/** Langevin MD initial data: warm-up steps and replicas when the config leaves them out. */
const MD_DEFAULTS = { warmup: 1000, replicas: 64 };

/**
 * Initial data at T_0 (physical coordinates): read from a file, or generated
 * by the package's own parallel tempering / MALA (collecting
 * data.samples configurations) or Langevin MD (data.samples frames from
 * `chains` replicas, one every `interval` steps, after `warmup` steps).
 */
async function initialData(target: Target, cfg: RunConfig, rng: Rng, onEvent: RunEventListener | undefined, signal: AbortSignal | undefined): Promise<{ x: Float64Array; n: number; diagnostics: { sampler: string } & Record<string, unknown>; warnings: string[] }> {
  const T0 = cfg.ladder.temperatures[0];
  if (cfg.data.source === 'file') {
    const r = readNpyFloat64(cfg.data.file!, { cols: target.dim, what: `target ${target.name}` });
    return { x: r.data, n: r.shape[0], diagnostics: { sampler: 'file', file: cfg.data.file }, warnings: [] };
  }
  const g = cfg.data.generator;
  const n = cfg.data.samples;
  if (g.sampler === 'md') {
    const replicas = Math.min(g.chains ?? MD_DEFAULTS.replicas, n);
    const warmup = g.warmup ?? MD_DEFAULTS.warmup;
    const bar = startPhase(onEvent, `md T=${T0}`, 1);
    const md = await runMd(target, {
      temperature: T0,
      frames: Math.ceil(n / replicas),
      interval: g.interval,
      timestep: g.timestep,
      friction: g.friction,
      warmupSteps: warmup,
      replicas,
      seed: rng.nextU32(),
      workers: workerCount(cfg),
      spec: { target: cfg.target },
      signal,
      onProgress: (p) => bar.update(p.step / p.totalSteps, { 'ns/day': p.nsPerDay }),
    });
    bar.stop();
    const convergence = mdChecks(target, md.frames, md.energies, md.nFrames, replicas, warmup, g.interval);
    return { x: md.frames, n: md.nFrames, diagnostics: { sampler: 'md', meanKineticTemperature: md.meanKineticTemperature, evaluations: md.evaluations, convergence }, warnings: convergence.warnings };
  }
  const bar = startPhase(onEvent, `${g.sampler} T=${T0}`, 1);
  // Chains split across the run's worker threads; the samples do not depend on their number.
  const res = await runSamplerInWorkers(
    { target: cfg.target },
    {
      sampler: g.sampler,
      n: cfg.data.samples,
      temperature: T0,
      // Left out, these adapt as in `pita sample` (warm-up until the chains agree, thin 2τ, n/100 chains).
      ...(g.warmup !== undefined ? { warmup: g.warmup } : g.maxWarmup !== undefined ? { maxWarmup: g.maxWarmup } : {}),
      ...(g.thin !== undefined ? { thin: g.thin } : g.maxThin !== undefined ? { maxThin: g.maxThin } : {}),
      ...(g.chains !== undefined ? { chains: Math.min(g.chains, cfg.data.samples) } : {}),
      rng,
      onProgress: (done, total) => bar.update(done / total),
      ...(g.sampler === 'pt' ? { tMax: T0 * g.tMaxFactor, replicas: g.replicas } : {}),
    },
    workerCount(cfg),
    target,
    signal,
  );
  bar.stop();
  const pt = res.pt ? { temperatures: [...res.pt.temperatures], swapAcceptance: [...res.pt.swapAcceptance], roundTrips: res.pt.roundTrips } : {};
  return { x: res.samples, n: res.n, diagnostics: { sampler: g.sampler, acceptance: res.acceptance.sampling, evaluations: res.evaluations.total, ...pt, convergence: res.convergence }, warnings: res.warnings };
}

/** B_0 from physical configurations: centroid removed, then converted to model units (bufferFrom). */
export function fillBuffer(target: Target, x: Float64Array, n: number, temperature: number, s: number, mask: number): ReplayBuffer {
  const xc = Float64Array.from(x);
  if (target.translationInvariant) removeCentroid(xc, n, target.nParticles, target.spatialDim);
  const ef = target.counter.attribute('buffer-fill', () => target.energyAndForces(xc, n));
  return bufferFrom(target, maskRows(target, { x: xc, energy: ef.energy, forces: ef.forces }, n, temperature, mask), temperature, s);
}

interface Rows {
  x: Float64Array;
  e: Float64Array;
  f: Float64Array;
  n: number;
}

/** Keeps rows with finite |ℓ| ≤ mask (all finite rows when none pass, as the reference does). */
function maskRows(target: Target, r: { x: Float64Array; energy: Float64Array; forces: Float64Array }, n: number, temperature: number, mask: number): Rows {
  const logp = logDensity(target, r.energy.subarray(0, n), temperature);
  const D = target.dim;
  let keep: number[] = [];
  const finite: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(r.energy[i])) continue;
    finite.push(i);
    if (Math.abs(logp[i]) <= mask) keep.push(i);
  }
  if (keep.length === 0) keep = finite;
  if (keep.length === 0) throw new UserError(`all ${n} annealed samples at T=${temperature} have non-finite energy`);
  const out: Rows = { x: new Float64Array(keep.length * D), e: new Float64Array(keep.length), f: new Float64Array(keep.length * D), n: keep.length };
  keep.forEach((i, k) => {
    out.x.set(r.x.subarray(i * D, (i + 1) * D), k * D);
    out.f.set(r.forces.subarray(i * D, (i + 1) * D), k * D);
    out.e[k] = r.energy[i];
  });
  return out;
}

/** A replay buffer of physical rows in model units (units.ts): x/s, ℓ = −E/(k_B T), f = s·F/(k_B T). */
function bufferFrom(target: Target, r: Rows, temperature: number, s: number): ReplayBuffer {
  const b = new ReplayBuffer(target.dim, Math.max(r.n, 1));
  b.add(toModelCoordinates(r.x, s), logDensity(target, r.e, temperature), modelScore(target, r.f, temperature, s));
  return b;
}

/** Exact samples at `temperature` if the target can draw them there (GMM-40: T ≥ 1 only), else null. */
function exactSamples(target: Target, n: number, temperature: number, rng: Rng): Float64Array | null {
  if (!target.sampleExact) return null;
  try {
    return target.sampleExact(rng, n, temperature);
  } catch (e) {
    if (e instanceof UserError) return null;
    throw e;
  }
}

/** Metrics at T_K; a generated reference is saved to `referencePath` for reports. */
async function evaluateRun(target: Target, cfg: RunConfig, x: Float64Array, n: number, rungs: RungSummary[], referencePath: string, signal: AbortSignal | undefined): Promise<MetricsFile> {
  const byComponent = target.counter.breakdown();
  const method = METHOD_COMPONENTS.reduce((a, c) => a + (byComponent[c] ?? 0), 0);
  const TK = cfg.ladder.temperatures[cfg.ladder.temperatures.length - 1];
  let pita: SampleMetrics | null = null;
  let baseline: MetricsFile['baseline'] = null;
  let ref: { data: Float64Array; shape: number[] } | null = null;
  if (cfg.evaluation.reference === 'generate') {
    // Exact i.i.d. samples where the target has them, else a long parallel-tempering run at T_K (not part of the method's cost).
    const nRef = cfg.evaluation.referenceSamples;
    const exact = exactSamples(target, nRef, TK, new Rng(cfg.seed).fork('reference'));
    const samples =
      exact ??
      (
        await target.counter.attributeAsync('evaluation', () =>
          // ≥ 128 chains and ≤ 40 collections per chain: consecutive samples of one chain share their basin.
          runSamplerInWorkers(
            { target: cfg.target },
            { sampler: 'pt', n: nRef, temperature: TK, tMax: cfg.ladder.temperatures[0], replicas: 8, chains: Math.max(128, Math.ceil(nRef / 40)), warmup: 3000, thin: 30, seed: cfg.seed + 1 },
            workerCount(cfg),
            target,
            signal,
          ),
        )
      ).samples;
    ref = { data: samples, shape: [nRef, target.dim] };
    writeNpy(referencePath, samples, [nRef, target.dim], 'float64');
  } else if (cfg.evaluation.reference) {
    ref = readNpyFloat64(cfg.evaluation.reference, { cols: target.dim, what: `target ${target.name}` });
  }
  if (ref) {
    const r = ref;
    pita = target.counter.attribute('evaluation', () => evaluateSamples(target, x, n, r.data, r.shape[0], { temperature: TK, maxOtPoints: cfg.evaluation.maxOtPoints, seed: cfg.seed }));
  }
  if (cfg.baseline !== 'none') {
    const b = await runBaseline(target, cfg, method, n, signal);
    const r = ref;
    baseline = {
      sampler: cfg.baseline,
      evaluations: b.evaluations,
      metrics: r ? target.counter.attribute('evaluation', () => evaluateSamples(target, b.x, b.n, r.data, r.shape[0], { temperature: TK, maxOtPoints: cfg.evaluation.maxOtPoints, seed: cfg.seed })) : null,
    };
  }
  const after = target.counter.breakdown();
  return {
    target: target.name,
    temperatures: cfg.ladder.temperatures,
    evaluations: { byComponent: after, method, evaluationOnly: (after['evaluation'] ?? 0) + (after['baseline'] ?? 0) },
    rungs,
    pita,
    baseline,
  };
}

/**
 * The classical sampler at T_K with the method's budget: PT (ladder T_K..T_0,
 * 8 replicas, 32 chains, MALA moves) or MALA (64 chains); half the budget is
 * warm-up, the rest is spread over the collections of n samples.
 */
async function runBaseline(target: Target, cfg: RunConfig, budget: number, n: number, signal: AbortSignal | undefined): Promise<{ x: Float64Array; n: number; evaluations: number }> {
  const temps = cfg.ladder.temperatures;
  const TK = temps[temps.length - 1];
  const chains = cfg.baseline === 'pt' ? 32 : 64;
  const perStep = cfg.baseline === 'pt' ? chains * 8 : chains;
  const totalSteps = Math.max(2, Math.floor((budget - perStep) / perStep));
  const warmup = Math.floor(totalSteps / 2);
  const collections = Math.ceil(n / chains);
  const thin = Math.max(1, Math.floor((totalSteps - warmup) / collections));
  // On the run's worker threads, like the initial data: the samples do not depend on their number.
  const res = await target.counter.attributeAsync('baseline', () =>
    runSamplerInWorkers(
      { target: cfg.target },
      {
        sampler: cfg.baseline,
        n,
        temperature: TK,
        chains,
        warmup,
        thin,
        seed: cfg.seed,
        ...(cfg.baseline === 'pt' ? { tMax: temps[0], replicas: 8 } : {}),
      },
      workerCount(cfg),
      target,
      signal,
    ),
  );
  return { x: res.samples, n: res.n, evaluations: res.evaluations.total };
}

