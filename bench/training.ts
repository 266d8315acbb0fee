/**
 * The trainer's host work per step (src/pita/trainer.ts `drawTrainingBatch`): drawing a batch of 512
 * LJ-13 rows from the replay buffer, rotating and centring them, their σ, noise and the losses' targets,
 * masks and weights, packed as a step uploads them. On a GPU the trainer draws step n + 1's batch while
 * the device runs step n (docs/tensor-engine.md §2.25), so a batch that takes longer than the device's
 * step is what a step waits for.
 */
import { Rng } from '../src/core/rng.js';
import { EdmSchedule } from '../src/diffusion/schedule.js';
import { gaussianBuffer } from '../src/bench/trainer-step.js';
import { median } from '../src/bench/steps.js';
import { drawTrainingBatch, resolveTrainerConfig } from '../src/pita/trainer.js';
import type { BenchRow } from './harness.js';

const BATCH = 512;
const WARMUP = 20;
const STEPS = 200;

export function benchTraining(): BenchRow[] {
  const config = resolveTrainerConfig({ batchSize: BATCH, layout: { nParticles: 13, spatialDim: 3 }, meanFree: true, rotate: true });
  const schedule = new EdmSchedule({ sigmaMin: config.sigmaMin, sigmaMax: config.sigmaMax, rho: config.rho });
  const buffer = gaussianBuffer(4096);
  const rng = new Rng(0);
  const times: number[] = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now();
    drawTrainingBatch(rng, buffer, 1, config, schedule);
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  const ms = median(times);
  return [
    {
      section: 'training',
      name: `training batch host work, ${BATCH} LJ-13 rows (rotated, mean-free, β-conditioned)`,
      value: ms,
      unit: 'ms per batch',
      notes: `median of ${STEPS} batches after ${WARMUP}: sample, rotate, centre, σ and noise draws, loss targets and weights, packed to float32 (drawTrainingBatch), what a WebGPU step overlaps with the device's previous step`,
    },
  ];
}
