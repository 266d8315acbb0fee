/**
 * Small real runs for the report and serve tests: a tiny DW-4 PITA run
 * (3 → 2 → 1.5, ~10 s on one core) with a saved parallel-tempering reference
 * at T_K, so the report has reference histograms.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeNpy } from '../../src/io/npy.js';
import { parseRunConfig, type RunConfig } from '../../src/pita/config.js';
import { runPita, RunStopped } from '../../src/pita/run.js';
import { runSampler } from '../../src/samplers/run.js';
import { createTarget } from '../../src/targets/index.js';

/**
 * The tiny DW-4 config of the run tests, with `reference` as the evaluation reference; `overrides`
 * replaces top-level keys (the network, the device, the worker count).
 */
export function tinyConfig(reference: string | undefined, overrides: Record<string, unknown> = {}): RunConfig {
  return parseRunConfig(
    {
      target: 'dw4',
      seed: 3,
      ladder: { temperatures: [3, 2, 1.5] },
      data: { samples: 400, generator: { sampler: 'pt', warmup: 50, thin: 2, chains: 32, replicas: 4 } },
      model: { network: 'mlp', options: { hidden: 16, layers: 2 } },
      training: { stepsPerTemperature: 30, stepsAfterLast: 5, batchSize: 32, checkpointEvery: 10 },
      annealing: { particles: 128, steps: 30, chunkSize: 64, relaxation: { kernel: 'mala', steps: 3, stepSize: 0.01 } },
      evaluation: reference === undefined ? { maxOtPoints: 128 } : { reference, maxOtPoints: 128 },
      baseline: 'mala',
      ...overrides,
    },
    'tiny',
  );
}

/** Writes a DW-4 parallel-tempering reference at T = 1.5 ([n, 8]) to `path`. */
export function writeDw4Reference(path: string, n = 1000): void {
  const target = createTarget('dw4');
  const r = runSampler(target, { sampler: 'pt', n, temperature: 1.5, tMax: 3, replicas: 4, chains: 64, warmup: 300, thin: 5, seed: 11 });
  writeNpy(path, r.samples, [r.n, target.dim], 'float64');
}

/** A finished tiny run with a saved reference, in `<dir>/complete`. */
export async function completeRun(dir: string): Promise<string> {
  const out = join(dir, 'complete');
  mkdirSync(dir, { recursive: true });
  const ref = join(dir, 'dw4-reference.npy');
  writeDw4Reference(ref);
  await runPita(tinyConfig(ref), { outDir: out, quiet: true });
  return out;
}

/** A tiny run without a reference, stopped mid-rung after `steps` training steps, in `<dir>/<name>`. */
export async function stoppedRun(dir: string, name: string, steps: number): Promise<string> {
  const out = join(dir, name);
  try {
    await runPita(tinyConfig(undefined), { outDir: out, quiet: true, stopAfterSteps: steps });
  } catch (e) {
    if (!(e instanceof RunStopped)) throw e;
  }
  return out;
}

/** The shared reference data (tests only), relative to the repository root. */
export const SHARED_DATA = '../shared/data';

/**
 * A peptide "run directory" made of the shared ALDP MD splits: samples at
 * 1200, 755.95, 555.52 and 300 K as rungs 0..3, the 300 K validation split as
 * the reference, and a progress file of a run that finished its rungs.
 */
export function aldpRunFromData(dir: string): string {
  const out = join(dir, 'aldp-md');
  mkdirSync(join(out, 'samples'), { recursive: true });
  mkdirSync(join(out, 'checkpoints'), { recursive: true });
  const temps = ['1200', '755.95', '555.52', '300'];
  temps.forEach((t, k) => copyFileSync(join(SHARED_DATA, 'aldp', `train_${t}K.npy`), join(out, 'samples', `T_${k}.npy`)));
  const reference = resolve(SHARED_DATA, 'aldp', 'val_300K.npy');
  writeFileSync(
    join(out, 'config.yaml'),
    `target: aldp\nladder: { temperatures: [${temps.join(', ')}] }\ntraining: { stepsPerTemperature: 10 }\nevaluation: { reference: ${reference} }\n`,
  );
  writeFileSync(join(out, 'checkpoints', 'progress.json'), JSON.stringify({ rung: 3, stepOnRung: 0, done: true, rungs: [], evaluations: {} }));
  return out;
}

/** A training line of log.jsonl (the run's format) with loss terms derived from `loss`. */
export function trainLine(rung: number, step: number, loss: number): string {
  return JSON.stringify({ type: 'train', rung, step, loss, lossScore: loss / 2, lossEnergyScore: 0.1, lossEnergyMatching: loss / 2, lossTargetScore: 0.01, gradNorm: 3, lr: 1e-3, seconds: 0.01 }) + '\n';
}
