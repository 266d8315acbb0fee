/**
 * Molecular dynamics runs: energy minimisation (L-BFGS), warm-up, then
 * `frames` frames saved every `interval` steps of underdamped Langevin
 * dynamics (BAOAB, the splitting OpenMM's LangevinMiddleIntegrator uses).
 *
 * Crash safety: a checkpoint (positions, velocities, RNG state, frames so far)
 * is written atomically every `checkpointSeconds` and on Ctrl-C; `resume`
 * continues from it bit for bit (forces are recomputed from the saved
 * positions, which costs one extra evaluation per replica and changes nothing
 * else). The loop yields to the event loop regularly so SIGINT is honoured:
 * the current step finishes, the checkpoint is written, and the run stops
 * with an InterruptedError.
 */
import { existsSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { InterruptedError, NonFiniteError, UserError } from '../core/errors.js';
import { Rng, type RngState } from '../core/rng.js';
import { removeCentroidRow } from '../core/particles.js';
import { decodeNpy, encodeNpy } from '../io/npy.js';
import { writeFileAtomic } from '../core/atomic.js';
import { changedKeys } from '../core/config-diff.js';
import { readJsonFile } from '../io/json.js';
import { staleLockWarning, withLock, type Lock } from '../io/lock.js';
import { langevin, type LangevinState } from '../samplers/langevin.js';
import { evaluate, resolveCom } from '../samplers/state.js';
import type { Target } from '../targets/target.js';
import { minimize } from './minimize.js';

export interface MdOptions {
  temperature: number;
  /** Frames to save per replica. */
  frames: number;
  /** Integration steps between saved frames. */
  interval: number;
  /** Time step in the target's time unit (ps for peptides). */
  timestep: number;
  /** Friction in inverse time units (1/ps for peptides). */
  friction: number;
  /** Warm-up steps after minimisation, discarded. Default 5000 (OpenMM reference protocol). */
  warmupSteps?: number;
  /** Minimise before dynamics. Default true. */
  minimize?: boolean;
  /** Independent trajectories run side by side. Default 1. */
  replicas?: number;
  seed?: number;
  /** Starting configuration [dim] or [replicas, dim]; default the target's first initial configuration. */
  init?: Float64Array;
  /** Checkpoint file; required for resume. */
  checkpointPath?: string;
  checkpointSeconds?: number;
  resume?: boolean;
  onProgress?: (info: MdProgress) => void;
  /**
   * Aborting it stops the run at the next progress report: the checkpoint is
   * written and runMd rejects with InterruptedError (the CLI aborts on Ctrl-C).
   */
  signal?: AbortSignal;
  /** Milliseconds between progress reports (which are also where an abort is honoured). Default 200. */
  progressIntervalMs?: number;
}

export interface MdProgress {
  phase: 'warmup' | 'production';
  step: number;
  totalSteps: number;
  framesDone: number;
  /** Simulated time per wall-clock day (ns/day when the time unit is ps). */
  nsPerDay: number;
  kineticTemperature: number;
}

export interface MdResult {
  /** Frames [frames·replicas, dim], frame-major: frame f of replica r is row f·replicas + r. */
  frames: Float64Array;
  energies: Float64Array;
  nFrames: number;
  evaluations: number;
  minimizedEnergy: number | null;
  meanKineticTemperature: number;
  resumedFromStep: number;
  /** For the user, one line each (a stale checkpoint lock that was taken over). */
  warnings: string[];
}

export { InterruptedError };

interface Checkpoint {
  version: 1;
  config: Record<string, unknown>;
  step: number;
  framesDone: number;
  rng: RngState;
  kineticSum: number;
  kineticCount: number;
  minimizedEnergy: number | null;
  /** base64 .npy payloads */
  x: string;
  v: string;
  frames: string;
  energies: string;
}

/** Runs MD holding a lock on the checkpoint (`<checkpoint>.lock`): one process per checkpoint, --resume included. */
export async function runMd(target: Target, opts: MdOptions): Promise<MdResult> {
  return withLock(opts.checkpointPath ? `${opts.checkpointPath}.lock` : null, `checkpoint ${opts.checkpointPath}`, (lock) => runMdLocked(target, opts, lock));
}

async function runMdLocked(target: Target, opts: MdOptions, lock: Lock | null): Promise<MdResult> {
  const replicas = opts.replicas ?? 1;
  const warmup = opts.warmupSteps ?? 5000;
  const { dim } = target;
  if (!Number.isInteger(opts.frames) || opts.frames < 1) throw new UserError(`frames must be an integer ≥ 1, got ${opts.frames}`);
  if (!Number.isInteger(opts.interval) || opts.interval < 1) throw new UserError(`interval must be an integer ≥ 1, got ${opts.interval}`);
  if (!Number.isInteger(replicas) || replicas < 1) throw new UserError(`replicas must be an integer ≥ 1, got ${replicas}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new UserError(`warm-up steps must be an integer ≥ 0, got ${warmup}`);
  if (opts.resume && !opts.checkpointPath) throw new UserError('resume needs a checkpoint path');
  const config = {
    target: target.name,
    temperature: opts.temperature,
    frames: opts.frames,
    interval: opts.interval,
    timestep: opts.timestep,
    friction: opts.friction,
    warmup,
    replicas,
    seed: opts.seed ?? 0,
    minimize: opts.minimize ?? true,
  };
  const kernel = langevin(target, { temperature: opts.temperature, timestep: opts.timestep, friction: opts.friction });
  const project = resolveCom(target) === 'remove';
  const totalSteps = warmup + opts.frames * opts.interval;
  const frames = new Float64Array(opts.frames * replicas * dim);
  const energies = new Float64Array(opts.frames * replicas);
  const evalStart = target.counter.total;
  let rng: Rng;
  let state: LangevinState;
  let step = 0;
  let framesDone = 0;
  let kineticSum = 0;
  let kineticCount = 0;
  let minimizedEnergy: number | null = null;

  if (opts.resume && opts.checkpointPath && !existsSync(opts.checkpointPath)) {
    throw new UserError(`no checkpoint ${opts.checkpointPath} to resume from; run without --resume to start afresh`);
  }
  if (opts.resume && opts.checkpointPath) {
    const ck = readCheckpoint(opts.checkpointPath);
    const mismatch = changedKeys(ck.config, config);
    if (mismatch.length > 0) {
      throw new UserError(`checkpoint ${opts.checkpointPath} was written with different settings (${mismatch.map((c) => `${c.key}: ${JSON.stringify(c.saved)}`).join(', ')}); rerun with those or without --resume`);
    }
    rng = Rng.fromState(ck.rng);
    const x = npyFromBase64(ck.x);
    const { energy, forces } = evaluate(target, x, replicas, project);
    state = { n: replicas, x, v: npyFromBase64(ck.v), energy, forces };
    frames.set(npyFromBase64(ck.frames));
    energies.set(npyFromBase64(ck.energies));
    step = ck.step;
    framesDone = ck.framesDone;
    kineticSum = ck.kineticSum;
    kineticCount = ck.kineticCount;
    minimizedEnergy = ck.minimizedEnergy;
  } else {
    rng = new Rng(config.seed);
    const x0 = startingPositions(target, opts.init, replicas, rng.fork('init'));
    if (config.minimize) {
      for (let r = 0; r < replicas; r++) {
        const res = minimize((x) => {
          const ef = target.energyAndForces(x, 1);
          return { energy: ef.energy[0], forces: ef.forces };
        }, x0.subarray(r * dim, (r + 1) * dim), { forceTolerance: 10 * target.kB * opts.temperature });
        x0.set(res.x, r * dim);
        if (r === 0) minimizedEnergy = res.energy;
      }
      if (project) for (let r = 0; r < replicas; r++) removeCentroidRow(x0, r * dim, target.nParticles, target.spatialDim);
    }
    state = kernel.init(x0, rng.fork('velocities'));
  }

  const save = () => {
    if (!opts.checkpointPath) return;
    const ck: Checkpoint = {
      version: 1,
      config,
      step,
      framesDone,
      rng: rng.getState(),
      kineticSum,
      kineticCount,
      minimizedEnergy,
      x: npyToBase64(state.x, [replicas, dim]),
      v: npyToBase64(state.v, [replicas, dim]),
      frames: npyToBase64(frames, [frames.length]),
      energies: npyToBase64(energies, [energies.length]),
    };
    writeFileAtomic(opts.checkpointPath, JSON.stringify(ck));
  };

  const resumedFromStep = step;
  const t0 = performance.now();
  let lastCheckpoint = t0;
  let lastYield = t0;
  const checkpointMs = (opts.checkpointSeconds ?? 300) * 1000;
  const progressMs = opts.progressIntervalMs ?? 200;
  while (step < totalSteps) {
    const rngBefore = rng.getState();
    let stepped;
    try {
      stepped = kernel.step(rng, state);
    } catch (e) {
      if (!(e instanceof NonFiniteError)) throw e;
      // The kernel never mutates its input, so `state` is the last good state.
      rng.setState(rngBefore);
      save();
      throw new UserError(
        `MD exploded at step ${step + 1} of ${totalSteps}: ${e.message}.${opts.checkpointPath ? ` The last good state (step ${step}) is in ${opts.checkpointPath}.` : ''} Try a smaller --timestep-fs or minimise first.`,
      );
    }
    const { state: next, info } = stepped;
    state = next;
    step++;
    if (step > warmup) {
      kineticSum += info.meanKineticTemperature;
      kineticCount++;
      if ((step - warmup) % opts.interval === 0) {
        frames.set(state.x, framesDone * replicas * dim);
        energies.set(state.energy, framesDone * replicas);
        framesDone++;
      }
    }
    const now = performance.now();
    if (now - lastYield >= progressMs || step === totalSteps) {
      lastYield = now;
      const simulated = (step - resumedFromStep) * opts.timestep * replicas;
      opts.onProgress?.({
        phase: step <= warmup ? 'warmup' : 'production',
        step,
        totalSteps,
        framesDone,
        nsPerDay: (simulated / 1000) * (86400e3 / Math.max(1, now - t0)),
        kineticTemperature: info.meanKineticTemperature,
      });
      await yieldToEventLoop();
      if (opts.signal?.aborted) {
        save();
        throw new InterruptedError(
          `interrupted at step ${step} of ${totalSteps}${opts.checkpointPath ? `; checkpoint written to ${opts.checkpointPath}, continue with --resume` : ''}`,
        );
      }
    }
    if (now - lastCheckpoint > checkpointMs) {
      lastCheckpoint = now;
      save();
    }
  }
  save();
  return {
    frames,
    energies,
    nFrames: framesDone * replicas,
    evaluations: target.counter.total - evalStart,
    minimizedEnergy,
    meanKineticTemperature: kineticCount > 0 ? kineticSum / kineticCount : NaN,
    resumedFromStep,
    warnings: [staleLockWarning(lock)].filter((w) => w !== null),
  };
}

function startingPositions(target: Target, init: Float64Array | undefined, replicas: number, rng: Rng): Float64Array {
  const { dim } = target;
  if (!init) {
    const one = target.initialConfigurations(rng, 1);
    const x = new Float64Array(replicas * dim);
    for (let r = 0; r < replicas; r++) x.set(one, r * dim);
    return x;
  }
  if (init.length === dim) {
    const x = new Float64Array(replicas * dim);
    for (let r = 0; r < replicas; r++) x.set(init, r * dim);
    return x;
  }
  if (init.length === replicas * dim) return Float64Array.from(init);
  throw new UserError(`starting configuration has ${init.length} values; target ${target.name} needs ${dim} or ${replicas}×${dim}`);
}

function npyToBase64(a: Float64Array, shape: number[]): string {
  return encodeNpy(a, shape, 'float64').toString('base64');
}

function npyFromBase64(s: string): Float64Array {
  return decodeNpy(Buffer.from(s, 'base64')).data as Float64Array;
}

function readCheckpoint(path: string): Checkpoint {
  const ck = readJsonFile<Checkpoint>(path, 'checkpoint', 'delete it and run without --resume');
  if (ck.version !== 1) throw new UserError(`checkpoint ${path} has unsupported version ${String(ck.version)}`);
  const missing = (['x', 'v', 'frames', 'energies'] as const).filter((k) => typeof ck[k] !== 'string');
  if (typeof ck.config !== 'object' || ck.config === null || missing.length > 0) {
    throw new UserError(`checkpoint ${path} is corrupt (missing ${missing.length > 0 ? missing.join(', ') : 'config'}); delete it and run without --resume`);
  }
  return ck;
}
