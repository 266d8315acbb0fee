/**
 * A whole annealing step of PITA (the `annealstep5000` workload of `pita bench`): the β-conditioned
 * LJ-13 EGNN energy and score models as the annealing field (src/pita/neural-field.ts), 5000
 * particles in chunks of 512 (the default `annealing.chunkSize`), discrete weighting and ESS
 * resampling as the presets use them. A step is one evaluation of U, ∇ₓU and s per chunk, the noise,
 * the move, the weights, and the resampling when it is due.
 *
 * The `anneal5000` row times one evaluation of 5000 rows on the device. This one adds what a run
 * pays around it: the chunks' round trips, and the host's float64 work on the particles (the noise is
 * drawn while the device evaluates, src/pita/anneal.ts).
 */
import { availableParallelism } from 'node:os';
import { Rng } from '../core/rng.js';
import { EdmSchedule } from '../diffusion/schedule.js';
import { createNetwork } from '../nets/index.js';
import { type AnnealConfig, type AnnealKernel, type AnnealState, annealKernel, annealStreams } from '../pita/anneal.js';
import { neuralField } from '../pita/neural-field.js';
import { NoiseWorkers } from '../pita/particle-noise.js';
import { backendInfo } from '../tensor/index.js';
import { LJ13, median } from './steps.js';

export interface AnnealStepTiming {
  particles: number;
  chunkSize: number;
  /** Median and fastest ms per step over the timed steps. */
  medianMs: number;
  minMs: number;
  steps: number;
  /** Σ of the particles' coordinates after the last step (finite; for comparing devices roughly). */
  check: number;
  /** Worker threads drawing the noise (as a run on WebGPU does; 1: the main thread). */
  noiseThreads: number;
}

const NET = { conditionOnTemperature: true } as const;

/** The EDM schedule of the LJ-13 presets. */
export const benchSchedule = (): EdmSchedule => new EdmSchedule({ sigmaMin: 0.05, sigmaMax: 80 });

/** The annealing of the benches: γ = 1.5, 1000 steps, ESS resampling until step 900, on LJ-13 particles. */
export function benchAnnealConfig(particles: number, chunkSize: number, weighting: 'continuous' | 'discrete'): AnnealConfig {
  return {
    gamma: 1.5,
    weighting,
    scoreGamma: 1,
    steps: 1000,
    particles,
    dim: LJ13.dim,
    meanFree: { nParticles: LJ13.nParticles, spatialDim: LJ13.spatialDim },
    resampling: { mode: 'ess', essThreshold: 0.5, start: 0, end: 900, floor: 0 },
    clampQuantile: null,
    chunkSize,
  };
}

/** ms of each of `steps` annealing steps from t = 1 after `warmup` untimed ones (each drawing the next step's noise ahead, as `anneal` does), and the state reached. */
export async function timeAnnealSteps(kernel: AnnealKernel, rng: Rng, warmup: number, steps: number): Promise<{ times: number[]; state: AnnealState }> {
  const streams = annealStreams(rng);
  let state = await kernel.init(streams.init);
  const times: number[] = [];
  for (let j = 0; j < warmup + steps; j++) {
    const t0 = performance.now();
    state = (await kernel.step(streams.step(j), state, streams.step(j + 1))).state;
    if (j >= warmup) times.push(performance.now() - t0);
  }
  return { times, state };
}

/** Times annealing steps from t = 1 on the started tensor backend (untrained networks: the cost does not depend on the weights). */
export async function benchAnnealStep(opts: { particles: number; chunkSize: number; steps: number; warmup: number }): Promise<AnnealStepTiming> {
  const rng = new Rng(0);
  const energy = createNetwork('egnn', NET, LJ13, rng);
  const score = createNetwork('egnn', NET, LJ13, rng);
  const schedule = benchSchedule();
  const field = neuralField({
    scoreNet: score.apply,
    energyNet: energy.apply,
    schedule,
    beta: 1,
    divergence: 'exact',
    probes: 0,
    params: () => [...energy.params.tensorsInOrder(), ...score.params.tensorsInOrder()],
  });
  const cfg = benchAnnealConfig(opts.particles, opts.chunkSize, 'discrete');
  // As `pita run` on WebGPU (src/pita/run.ts): the noise on as many worker threads as the machine has cores.
  const threads = backendInfo().name === 'webgpu' ? availableParallelism() : 1;
  const noise = threads >= 2 ? new NoiseWorkers(threads) : undefined;
  try {
    const { times, state } = await timeAnnealSteps(annealKernel(field, schedule, cfg, noise), rng, opts.warmup, opts.steps);
    return {
      particles: opts.particles,
      chunkSize: opts.chunkSize,
      medianMs: median(times),
      minMs: Math.min(...times),
      steps: times.length,
      check: state.x.reduce((a, b) => a + b, 0),
      noiseThreads: noise === undefined ? 1 : threads,
    };
  } finally {
    await noise?.close();
    field.dispose();
    energy.params.dispose();
    score.params.dispose();
  }
}
