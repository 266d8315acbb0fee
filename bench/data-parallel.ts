/**
 * Data-parallel training (Trainer's `workers`): ms per PITA training step of
 * the EGNN (hidden 32, 3 layers, LJ-13, the four losses, clip, Adam, EMA)
 * with 1 worker (the main thread) against N worker threads.
 *
 *   node --import tsx bench/data-parallel.ts [--steps 10] [--batches 64,256] [--workers 2] [--micro 128]
 *
 * Rows go through in micro-batches of at most `--micro` (a B = 256
 * second-order EGNN pass in one piece needs more than the 3 GiB tensor limit
 * of one wasm engine); with N workers each slice is micro-batched the same way.
 *
 * The two trainers take their steps alternately, so that load from other
 * processes on a shared machine falls on both alike; the first steps
 * (worker start-up, tfjs warm-up) are not timed. Prints a Markdown table;
 * nothing is written.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/rng.js';
import { createNetwork } from '../src/nets/index.js';
import { ReplayBuffer } from '../src/pita/buffer.js';
import { Trainer } from '../src/pita/trainer.js';
import * as T from '../src/tensor/index.js';

const LJ13 = { dim: 39, nParticles: 13, spatialDim: 3 };
const WARMUP = 3;

/** A replay buffer of a standard Gaussian in 39 dimensions (the step's cost does not depend on the values). */
function buffer(n: number): ReplayBuffer {
  const x = new Rng(1).normals(n * LJ13.dim);
  const logp = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let d = 0; d < LJ13.dim; d++) logp[i] -= 0.5 * x[i * LJ13.dim + d] ** 2;
  const b = new ReplayBuffer(LJ13.dim, n);
  b.add(x, logp, x.map((v) => -v));
  return b;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { steps: { type: 'string', default: '10' }, batches: { type: 'string', default: '64,256' }, workers: { type: 'string', default: '2' }, micro: { type: 'string', default: '128' } } });
  const steps = Number(values.steps);
  const workers = Number(values.workers);
  const batches = values.batches.split(',').map(Number);
  await T.initTensorBackend('cpu');
  const sources = [{ buffer: buffer(4096), beta: null }];
  const factory = (rng: Rng) => createNetwork('egnn', { hidden: 32, layers: 3 }, LJ13, rng);
  const load = [loadavg()[0]];
  console.log(`| batch | 1 worker, ms/step (median, mean) | ${workers} workers, ms/step (median, mean) | speed-up (medians) |`);
  console.log('|---|---|---|---|');
  for (const batchSize of batches) {
    const config = { seed: 0, batchSize, microBatchSize: Math.min(batchSize, Number(values.micro)), layout: { nParticles: 13, spatialDim: 3 }, meanFree: true, rotate: true };
    const trainers = [new Trainer(factory, config, { workers: 1 }), new Trainer(factory, config, { workers })];
    const times: number[][] = [[], []];
    for (let i = 0; i < WARMUP + steps; i++) {
      for (const [j, tr] of trainers.entries()) {
        const t0 = performance.now();
        await tr.trainStep(sources);
        if (i >= WARMUP) times[j].push(performance.now() - t0);
      }
    }
    for (const tr of trainers) {
      await tr.closeWorkers();
      tr.dispose();
    }
    load.push(loadavg()[0]);
    const [m1, m2] = times.map(median);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`| ${batchSize} | ${m1.toFixed(0)}, ${mean(times[0]).toFixed(0)} | ${m2.toFixed(0)}, ${mean(times[1]).toFixed(0)} | ${(m1 / m2).toFixed(2)}× |`);
  }
  console.log(
    `\n${steps} timed steps each after ${WARMUP} untimed; ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}); ` +
      `1-minute load average ${load.map((l) => l.toFixed(2)).join(' → ')} (other processes share the machine)`,
  );
}

await main();
