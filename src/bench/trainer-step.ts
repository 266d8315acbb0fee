/**
 * PITA's own training step on worker threads (issue 13): ms per step of the
 * Trainer (EGNN hidden 32 × 3 layers on LJ-13: the four losses, clip, Adam
 * and EMA) with 1 worker (the main thread) and with N data-parallel worker
 * threads (src/pita/data-parallel.ts). What `pita bench --workers N` and
 * `npm run bench -- parallel` time.
 *
 * Rows go through in micro-batches of at most `micro` (a B = 256
 * second-order EGNN pass in one piece needs more than the 3 GiB tensor limit
 * of one wasm engine); with N workers each slice is micro-batched the same
 * way. The trainers take their steps alternately, so that load from other
 * processes falls on all alike; the first steps (worker start-up, tfjs
 * warm-up) are not timed.
 */
import { Rng } from '../core/rng.js';
import { createNetwork } from '../nets/index.js';
import { ReplayBuffer } from '../pita/buffer.js';
import { Trainer } from '../pita/trainer.js';
import { backendInfo } from '../tensor/index.js';
import { LJ13 } from './steps.js';

export interface TrainerStepTiming {
  workers: number;
  /** Median and mean ms per step over the timed steps. */
  medianMs: number;
  meanMs: number;
  /**
   * ms per step of as many steps again through `Trainer.train`, which on WebGPU submits each step before
   * it reads the one before (docs/tensor-engine.md §2.25); 1 worker only.
   */
  trainMs?: number;
}

/** A replay buffer of a standard Gaussian in LJ-13's 39 dimensions (the step's cost does not depend on the values). */
export function gaussianBuffer(n: number): ReplayBuffer {
  const x = new Rng(1).normals(n * LJ13.dim);
  const logp = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let d = 0; d < LJ13.dim; d++) logp[i] -= 0.5 * x[i * LJ13.dim + d] ** 2;
  const b = new ReplayBuffer(LJ13.dim, n);
  b.add(x, logp, x.map((v) => -v));
  return b;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Times the training step at `batch` for each worker count in `workerCounts`
 * (on the started CPU engine), `steps` timed steps after `warmup` untimed
 * ones, the counts interleaved step by step.
 */
export async function benchTrainerStep(opts: { batch: number; workerCounts: readonly number[]; steps: number; warmup: number; micro?: number }): Promise<TrainerStepTiming[]> {
  const sources = [{ buffer: gaussianBuffer(4096), beta: null }];
  const factory = (rng: Rng) => createNetwork('egnn', { hidden: 32, layers: 3 }, LJ13, rng);
  // A GPU takes the batch whole; the CPU engine in micro-batches (its tensor limit).
  const micro = opts.micro ?? (backendInfo().name === 'webgpu' ? opts.batch : 128);
  const config = { seed: 0, batchSize: opts.batch, microBatchSize: Math.min(opts.batch, micro), layout: { nParticles: 13, spatialDim: 3 }, meanFree: true, rotate: true };
  const trainers = opts.workerCounts.map((w) => new Trainer(factory, config, { workers: w }));
  const times: number[][] = trainers.map(() => []);
  let trainMs: number | undefined;
  try {
    for (let i = 0; i < opts.warmup + opts.steps; i++) {
      for (const [j, tr] of trainers.entries()) {
        const t0 = performance.now();
        await tr.trainStep(sources);
        if (i >= opts.warmup) times[j].push(performance.now() - t0);
      }
    }
    const one = trainers[opts.workerCounts.indexOf(1)];
    if (one !== undefined) {
      const t0 = performance.now();
      await one.train(sources, opts.steps);
      trainMs = (performance.now() - t0) / opts.steps;
    }
  } finally {
    for (const tr of trainers) {
      await tr.closeWorkers();
      tr.dispose();
    }
  }
  return opts.workerCounts.map((workers, j) => ({
    workers,
    medianMs: median(times[j]),
    meanMs: times[j].reduce((a, b) => a + b, 0) / times[j].length,
    ...(workers === 1 && trainMs !== undefined ? { trainMs } : {}),
  }));
}
