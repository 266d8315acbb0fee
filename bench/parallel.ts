/** Parallel classical sampling: PT on LJ-13 split across 2 worker threads against 1 (the same samples, bit for bit). */
import { availableParallelism } from 'node:os';
import { runSamplerInWorkers } from '../src/samplers/parallel.js';
import type { SampleOptions } from '../src/samplers/run.js';
import type { BenchRow } from './harness.js';

/** The workload: 128 PT chains × 8 replicas, 300 warm-up rounds, 1280 samples every 40 rounds. */
export const PT_LJ13: SampleOptions = { sampler: 'pt', n: 1280, chains: 128, replicas: 8, warmup: 300, thin: 40, seed: 0 };

async function seconds(workers: number): Promise<number> {
  const t0 = performance.now();
  await runSamplerInWorkers({ target: 'lj13' }, PT_LJ13, workers);
  return (performance.now() - t0) / 1000;
}

export async function benchParallel(): Promise<BenchRow[]> {
  const one = await seconds(1);
  const two = await seconds(2);
  const rounds = (PT_LJ13.warmup as number) + Math.ceil(PT_LJ13.n / (PT_LJ13.chains as number)) * (PT_LJ13.thin as number);
  return [
    {
      section: 'parallel',
      name: 'PT on LJ-13, 2 workers vs 1',
      value: one / two,
      unit: '× speed-up',
      notes: `128 chains × 8 replicas, ${rounds} rounds: ${one.toFixed(1)} s with 1 worker, ${two.toFixed(1)} s with 2 (worker start-up included); ${availableParallelism()} CPUs`,
    },
  ];
}
