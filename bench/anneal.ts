/**
 * The annealer's host work per step (src/pita/anneal.ts): 5000 LJ-13 particles in chunks of 512,
 * ESS resampling, with a field that computes nothing. "Alone" the field answers at once, so the step
 * is all host float64 arithmetic (noise, move, projection, weights); "beside a device" each
 * evaluation round answers after 15 ms on a timer, as a GPU would while the host thread is free, and
 * after 5 ms (a faster device, beside which the host's noise is what the step waits for), there also
 * with the noise on worker threads as a WebGPU run draws it (src/pita/particle-noise.ts).
 * With the noise drawn while the device works (docs/tensor-engine.md §2.21), the second is less than
 * the sum of the two.
 */
import { availableParallelism } from 'node:os';
import { Rng } from '../src/core/rng.js';
import { benchAnnealConfig, benchSchedule, timeAnnealSteps } from '../src/bench/anneal-step.js';
import { median } from '../src/bench/steps.js';
import { type AnnealField, annealKernel } from '../src/pita/anneal.js';
import { type NoiseSource, NoiseWorkers } from '../src/pita/particle-noise.js';
import type { BenchRow } from './harness.js';

const M = 5000;
const D = 39;
const DEVICE_MS = 15;
const FAST_DEVICE_MS = 5;
const STEPS = 30;

/** A field with constant values; with `deviceMs`, every evaluation started in the same turn answers after that many ms. */
function idleField(deviceMs: number): AnnealField {
  let round: Promise<void> | null = null;
  const values = (m: number) => ({
    energy: new Float64Array(m),
    gradEnergy: new Float64Array(m * D).fill(0.1),
    dEnergyDt: new Float64Array(m),
    score: new Float64Array(m * D).fill(0.2),
    divScore: new Float64Array(m),
  });
  return {
    async evaluate(_x, m) {
      if (deviceMs > 0) {
        round ??= new Promise<void>((done) =>
          setTimeout(() => {
            round = null;
            done();
          }, deviceMs),
        );
        await round;
      }
      return values(m);
    },
  };
}

async function medianStepMs(weighting: 'continuous' | 'discrete', deviceMs: number, noise?: NoiseSource): Promise<number> {
  const kernel = annealKernel(idleField(deviceMs), benchSchedule(), benchAnnealConfig(M, 512, weighting), noise);
  return median((await timeAnnealSteps(kernel, new Rng(1), 3, STEPS)).times);
}

export async function benchAnneal(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const weighting of ['discrete', 'continuous'] as const) {
    const alone = await medianStepMs(weighting, 0);
    const beside = await medianStepMs(weighting, DEVICE_MS);
    const besideFast = await medianStepMs(weighting, FAST_DEVICE_MS);
    const threads = availableParallelism();
    const noise = new NoiseWorkers(threads);
    const besideFastThreads = await medianStepMs(weighting, FAST_DEVICE_MS, noise).finally(() => noise.close());
    rows.push({
      section: 'anneal',
      name: `annealing host work, ${weighting} weights, ${M} LJ-13 particles in chunks of 512`,
      value: 1000 / beside,
      unit: `steps/s beside a ${DEVICE_MS} ms device`,
      notes: `median of ${STEPS} steps: ${beside.toFixed(1)} ms per step with each evaluation round taking ${DEVICE_MS} ms elsewhere (a timer), ${besideFast.toFixed(1)} ms with ${FAST_DEVICE_MS} ms (${besideFastThreads.toFixed(1)} with the noise on ${threads} worker threads), ${alone.toFixed(1)} ms with a field that answers at once; the noise is drawn while the device works`,
    });
  }
  return rows;
}
