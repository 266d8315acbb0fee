/**
 * Worker threads against one thread: PT on LJ-13 split across 2 workers (the
 * same samples, bit for bit), and PITA's EGNN training step at B = 256 on 2
 * data-parallel workers (the same gradients to float32 rounding).
 */
import { availableParallelism, loadavg } from 'node:os';
import { benchTrainerStep } from '../src/bench/trainer-step.js';
import * as T from '../src/tensor/index.js';
import { runSamplerInWorkers } from '../src/samplers/parallel.js';
import type { SampleOptions } from '../src/samplers/run.js';
import type { BenchRow } from './harness.js';

/**
 * The workload: 128 PT chains × 8 replicas, 300 warm-up rounds, then 6400 samples every 40 rounds
 * (2300 rounds, ~15 s on one thread, so that worker start-up, which the timing includes, is a
 * small part of it, as in a real run).
 */
export const PT_LJ13: SampleOptions = { sampler: 'pt', n: 6400, chains: 128, replicas: 8, warmup: 300, thin: 40, seed: 0 };

async function seconds(workers: number, opts = PT_LJ13): Promise<number> {
  const t0 = performance.now();
  await runSamplerInWorkers({ target: 'lj13' }, opts, workers);
  return (performance.now() - t0) / 1000;
}

/** Starting the workers and building their targets: a PT run of one round with one collection. */
const STARTUP: SampleOptions = { ...PT_LJ13, n: PT_LJ13.chains as number, warmup: 1, thin: 1 };

/** PT timings alternate 1 and 2 workers this many times; the row is the median of the pairs' ratios. */
const PT_PAIRS = 3;

export async function benchParallel(): Promise<BenchRow[]> {
  const load = loadavg()[0];
  // Alternating pairs, so that a change of load on a shared machine hits both counts, and the median
  // ratio discards one bad pair (single pairs gave 1.31, 1.65 and 1.80× in three runs, 2026-12-06).
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < PT_PAIRS; i++) pairs.push([await seconds(1), await seconds(2)]);
  const ratios = pairs.map(([a, b]) => a / b).sort((a, b) => a - b);
  const ratio = ratios[Math.floor(ratios.length / 2)];
  const startup = (await seconds(2, STARTUP)) - (await seconds(1, STARTUP));
  await T.initTensorBackend('cpu');
  const [train1, train2] = await benchTrainerStep({ batch: 256, workerCounts: [1, 2], steps: 10, warmup: 3 });
  const rounds = (PT_LJ13.warmup as number) + Math.ceil(PT_LJ13.n / (PT_LJ13.chains as number)) * (PT_LJ13.thin as number);
  return [
    {
      section: 'parallel',
      name: 'PT on LJ-13, 2 workers vs 1',
      value: ratio,
      unit: '× speed-up',
      notes: `128 chains × 8 replicas, ${rounds} rounds; median of ${PT_PAIRS} alternating pairs (1 worker, 2 workers): ${pairs.map(([a, b]) => `${a.toFixed(1)} s / ${b.toFixed(1)} s`).join(', ')} (worker start-up included: ${startup.toFixed(1)} s here, from the TypeScript sources); ${availableParallelism()} CPUs, load ${load.toFixed(2)} before`,
    },
    {
      section: 'parallel',
      name: 'EGNN LJ-13 B=256 PITA train step, 2 workers vs 1',
      value: train1.medianMs / train2.medianMs,
      unit: '× speed-up',
      notes: `hidden 32 × 3 layers, four losses, clip, Adam, EMA; micro-batches of 128; median of 10 steps (interleaved): ${train1.medianMs.toFixed(0)} ms with 1 worker, ${train2.medianMs.toFixed(0)} ms with 2 (\`pita bench --device cpu --only train256 --workers 2\`)`,
    },
  ];
}
