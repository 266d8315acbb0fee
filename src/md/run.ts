/**
 * Molecular dynamics runs: energy minimisation (L-BFGS), warm-up, then
 * `frames` frames saved every `interval` steps of underdamped Langevin
 * dynamics (BAOAB, the splitting OpenMM's LangevinMiddleIntegrator uses).
 *
 * Replicas: each has its own random stream and runs on its own (replicas.ts),
 * in this thread or split across `workers` threads (parallel.ts); the frames
 * are the same for any worker count.
 *
 * Crash safety: a checkpoint (positions, velocities, RNG states, frames so far)
 * is written atomically every `checkpointSeconds` and on Ctrl-C; `resume`
 * continues from it bit for bit (forces are recomputed from the saved
 * positions, which costs one extra evaluation per replica and changes nothing
 * else). The loop yields to the event loop between chunks of steps (sized to
 * take about progressIntervalMs) so SIGINT is honoured: the chunk finishes,
 * the checkpoint is written, and the run stops with an InterruptedError.
 */
import { existsSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { InterruptedError, UserError } from '../core/errors.js';
import { Rng, type RngState } from '../core/rng.js';
import { decodeNpy, encodeNpy } from '../io/npy.js';
import { writeFileAtomic } from '../core/atomic.js';
import { changedKeys } from '../core/config-diff.js';
import { readJsonFile } from '../io/json.js';
import { staleLockWarning, withLock, type Lock } from '../io/lock.js';
import type { TargetSpec } from '../targets/spec.js';
import type { Target } from '../targets/target.js';
import { blocksInThread, blocksInWorkers, type StartRequest } from './parallel.js';
import type { ChunkResult, ReplicaPlan } from './replicas.js';

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
  /** Worker threads the replicas are split across (default 1: this thread; at most one per replica); the frames do not depend on it. */
  workers?: number;
  /** The target as plain data, which every worker builds its own copy from; required when workers > 1. */
  spec?: TargetSpec;
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
  /** 2: one random stream per replica (1, one stream for all, is refused). */
  version: 2;
  config: Record<string, unknown>;
  step: number;
  framesDone: number;
  /** Per replica. */
  rng: RngState[];
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
  const workers = opts.workers ?? 1;
  const { dim } = target;
  if (!Number.isInteger(opts.frames) || opts.frames < 1) throw new UserError(`frames must be an integer ≥ 1, got ${opts.frames}`);
  if (!Number.isInteger(opts.interval) || opts.interval < 1) throw new UserError(`interval must be an integer ≥ 1, got ${opts.interval}`);
  if (!Number.isInteger(replicas) || replicas < 1) throw new UserError(`replicas must be an integer ≥ 1, got ${replicas}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new UserError(`warm-up steps must be an integer ≥ 0, got ${warmup}`);
  if (!Number.isInteger(workers) || workers < 1) throw new UserError(`workers must be an integer ≥ 1, got ${workers}`);
  // One block needs no worker: a worker costs about a second to start.
  const threads = Math.min(workers, replicas);
  if (threads > 1 && !opts.spec) throw new UserError('MD on several workers needs the target as a spec (spec: { target } or { system }), so that each worker can build its own copy');
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
  const plan: ReplicaPlan = { temperature: opts.temperature, timestep: opts.timestep, friction: opts.friction, warmup, interval: opts.interval };
  const totalSteps = warmup + opts.frames * opts.interval;
  const frames = new Float64Array(opts.frames * replicas * dim);
  const energies = new Float64Array(opts.frames * replicas);
  let step = 0;
  let framesDone = 0;
  let kineticSum = 0;
  let kineticCount = 0;
  let minimizedEnergy: number | null = null;
  let start: StartRequest;

  if (opts.resume && opts.checkpointPath && !existsSync(opts.checkpointPath)) {
    throw new UserError(`no checkpoint ${opts.checkpointPath} to resume from; run without --resume to start afresh`);
  }
  if (opts.resume && opts.checkpointPath) {
    const ck = readCheckpoint(opts.checkpointPath);
    const mismatch = changedKeys(ck.config, config);
    if (mismatch.length > 0) {
      throw new UserError(`checkpoint ${opts.checkpointPath} was written with different settings (${mismatch.map((c) => `${c.key}: ${JSON.stringify(c.saved)}`).join(', ')}); rerun with those or without --resume`);
    }
    start = { saved: { x: npyFromBase64(ck.x), v: npyFromBase64(ck.v), rng: ck.rng } };
    frames.set(npyFromBase64(ck.frames));
    energies.set(npyFromBase64(ck.energies));
    step = ck.step;
    framesDone = ck.framesDone;
    kineticSum = ck.kineticSum;
    kineticCount = ck.kineticCount;
    minimizedEnergy = ck.minimizedEnergy;
  } else {
    const seed = new Rng(config.seed);
    start = { fresh: { x: startingPositions(target, opts.init, replicas, seed.fork('init')), minimize: config.minimize, seed: seed.getState() } };
  }

  const blocks = threads > 1 ? blocksInWorkers(opts.spec as TargetSpec, dim, plan, replicas, threads) : blocksInThread(target, plan, replicas);
  try {
    const started = await blocks.start(start);
    if (!opts.resume) minimizedEnergy = started.minimizedEnergy;
    let evaluations = started.evaluations;

    const save = async () => {
      if (!opts.checkpointPath) return;
      const saved = await blocks.snapshot();
      const ck: Checkpoint = {
        version: 2,
        config,
        step,
        framesDone,
        rng: saved.rng,
        kineticSum,
        kineticCount,
        minimizedEnergy,
        x: npyToBase64(saved.x, [replicas, dim]),
        v: npyToBase64(saved.v, [replicas, dim]),
        frames: npyToBase64(frames, [frames.length]),
        energies: npyToBase64(energies, [energies.length]),
      };
      writeFileAtomic(opts.checkpointPath, JSON.stringify(ck));
    };

    const resumedFromStep = step;
    const t0 = performance.now();
    let lastCheckpoint = t0;
    const checkpointMs = (opts.checkpointSeconds ?? 300) * 1000;
    const progressMs = opts.progressIntervalMs ?? 200;
    // Steps per chunk adapt so that a chunk takes about progressMs; the output does not depend on them.
    let chunk = 1;
    while (step < totalSteps) {
      const steps = Math.min(chunk, totalSteps - step);
      const c0 = performance.now();
      const results = await blocks.advance(step, steps);
      evaluations += results.reduce((a, r) => a + r.evaluations, 0);
      const failed = results.find((r) => r.failure !== null)?.failure;
      if (failed) {
        // Every block is back at the chunk's start, the last state known to be good.
        await save();
        throw new UserError(
          `MD exploded at step ${failed.step} of ${totalSteps}: ${failed.message}.${opts.checkpointPath ? ` The last good state (step ${step}) is in ${opts.checkpointPath}.` : ''} Try a smaller --timestep-fs or minimise first.`,
        );
      }
      collectFrames(results, frames, energies, framesDone, replicas, dim);
      framesDone += results[0].framesCollected;
      const production = Math.max(0, step + steps - Math.max(step, warmup));
      // Σ over replicas in replica order, then / replicas: the mean kinetic temperature summed over production steps.
      let sum = 0;
      for (const r of results) for (const k of r.kineticSums) sum += k;
      kineticSum += sum / replicas;
      kineticCount += production;
      step += steps;
      const now = performance.now();
      chunk = Math.max(1, Math.min(2 * chunk, Math.round((chunk * progressMs) / Math.max(1, now - c0))));
      let last = 0;
      for (const r of results) for (const k of r.kineticLast) last += k;
      const simulated = (step - resumedFromStep) * opts.timestep * replicas;
      opts.onProgress?.({
        phase: step <= warmup ? 'warmup' : 'production',
        step,
        totalSteps,
        framesDone,
        nsPerDay: (simulated / 1000) * (86400e3 / Math.max(1, now - t0)),
        kineticTemperature: last / replicas,
      });
      await yieldToEventLoop();
      if (opts.signal?.aborted) {
        await save();
        throw new InterruptedError(
          `interrupted at step ${step} of ${totalSteps}${opts.checkpointPath ? `; checkpoint written to ${opts.checkpointPath}, continue with --resume` : ''}`,
        );
      }
      if (now - lastCheckpoint > checkpointMs) {
        lastCheckpoint = now;
        await save();
      }
    }
    await save();
    // Evaluations on the workers' copies of the target count here too, as with one thread.
    if (threads > 1) target.counter.add(evaluations);
    return {
      frames,
      energies,
      nFrames: framesDone * replicas,
      evaluations,
      minimizedEnergy,
      meanKineticTemperature: kineticCount > 0 ? kineticSum / kineticCount : NaN,
      resumedFromStep,
      warnings: [staleLockWarning(lock)].filter((w) => w !== null),
    };
  } finally {
    await blocks.close();
  }
}

/** Writes the chunk's frames of every block into the frame-major run arrays (row f·replicas + r). */
function collectFrames(results: ChunkResult[], frames: Float64Array, energies: Float64Array, framesDone: number, replicas: number, dim: number): void {
  let r0 = 0;
  for (const res of results) {
    const count = res.kineticSums.length;
    for (let f = 0; f < res.framesCollected; f++) {
      const row = (framesDone + f) * replicas + r0;
      frames.set(res.frames.subarray(f * count * dim, (f + 1) * count * dim), row * dim);
      energies.set(res.energies.subarray(f * count, (f + 1) * count), row);
    }
    r0 += count;
  }
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
  if ((ck.version as number) === 1) throw new UserError(`checkpoint ${path} was written by an earlier pita (one random stream for all replicas); delete it and run without --resume`);
  if (ck.version !== 2) throw new UserError(`checkpoint ${path} has unsupported version ${String(ck.version)}`);
  const missing = [...(['x', 'v', 'frames', 'energies'] as const).filter((k) => typeof ck[k] !== 'string'), ...(Array.isArray(ck.rng) ? [] : ['rng'])];
  if (typeof ck.config !== 'object' || ck.config === null || missing.length > 0) {
    throw new UserError(`checkpoint ${path} is corrupt (missing ${missing.length > 0 ? missing.join(', ') : 'config'}); delete it and run without --resume`);
  }
  return ck;
}
