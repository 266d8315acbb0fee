/**
 * End-to-end PITA validations: a quick preset run from scratch into
 * validation-runs/<name>, with metrics against a reference (a shared data file,
 * or the run's own long parallel-tempering reference for DW-4). Each prints the
 * run summary (metrics, budget, equal-budget baseline) and returns its checks.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveRunConfig } from '../../src/cli/run.js';
import { runPita } from '../../src/pita/run.js';
import { readNpyFloat64 } from '../../src/io/npy.js';
import { evaluateSamples } from '../../src/metrics/evaluate.js';
import { createTarget } from '../../src/targets/index.js';
import type { Check } from './check.js';

const DATA = resolve('..', 'shared', 'data');

async function quickRun(preset: string, reference: string | null, seed?: number): Promise<Awaited<ReturnType<typeof runPita>>> {
  const { config } = resolveRunConfig(preset, 'quick');
  if (seed !== undefined) config.seed = seed;
  if (reference !== null) {
    if (!existsSync(reference)) throw new Error(`reference data not found at ${reference}`);
    config.evaluation.reference = reference;
  }
  const outDir = resolve('validation-runs', `${preset}-quick${seed !== undefined ? `-s${seed}` : ''}`);
  rmSync(outDir, { recursive: true, force: true });
  const t0 = performance.now();
  const out = await runPita(config, { outDir, quiet: true });
  console.log(readFileSync(resolve(outDir, 'summary.md'), 'utf8'));
  console.log(`(run directory ${outDir}; ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  return out;
}

/** DW-4 quick (3 → 1, own PT data): energy W2 ≤ 0.3 and distance W2 ≤ 0.05 against the run's long PT reference at T = 1. */
export async function dw4Quick(): Promise<Check[]> {
  const { metrics } = await quickRun('dw4', null);
  const m = metrics.pita!;
  return [
    { name: 'dw4 quick energy W2', value: m.energyW2, threshold: 0.3 },
    { name: 'dw4 quick distance W2', value: m.distanceW2!, threshold: 0.05 },
  ];
}

/**
 * LJ-13 quick (4 → 1, own PT data) at the seeds in PITA_SEEDS (default
 * 0,1,2), each judged against the run's own long PT reference at T = 1 and
 * against ../shared/data/lj13/val_T1.0.npy, with the paper's PITA numbers as
 * thresholds: energy W2 ≤ 2.26 and distance W2 ≤ 0.04 (issue 14).
 */
export async function lj13Quick(): Promise<Check[]> {
  const valPath = resolve(DATA, 'lj13', 'val_T1.0.npy');
  if (!existsSync(valPath)) throw new Error(`reference data not found at ${valPath}`);
  const target = createTarget('lj13');
  const val = readNpyFloat64(valPath, { cols: target.dim, what: 'target lj13' });
  const seeds = (process.env.PITA_SEEDS ?? '0,1,2').split(',').map(Number);
  const checks: Check[] = [];
  for (const seed of seeds) {
    const { metrics, finalSamples, nFinal } = await quickRun('lj13', null, seed);
    const own = metrics.pita!;
    const m = evaluateSamples(target, finalSamples, nFinal, val.data, val.shape[0], { temperature: 1, maxOtPoints: 2000, seed });
    console.log(`seed ${seed} against val_T1.0.npy: energy W2 ${m.energyW2.toFixed(3)}, distance W2 ${m.distanceW2!.toFixed(4)}`);
    checks.push(
      { name: `lj13 quick seed ${seed} energy W2 (own PT reference)`, value: own.energyW2, threshold: 2.26 },
      { name: `lj13 quick seed ${seed} distance W2 (own PT reference)`, value: own.distanceW2!, threshold: 0.04 },
      { name: `lj13 quick seed ${seed} energy W2 (val_T1.0)`, value: m.energyW2, threshold: 2.26 },
      { name: `lj13 quick seed ${seed} distance W2 (val_T1.0)`, value: m.distanceW2!, threshold: 0.04 },
    );
  }
  return checks;
}

/** ALDP quick (1200 K → 300 K, own MD data) against train_300K.npy; sanity bounds only (paper: energy W1 1.53). */
export async function aldpQuick(): Promise<Check[]> {
  const { metrics } = await quickRun('aldp', resolve(DATA, 'aldp', 'train_300K.npy'));
  const m = metrics.pita!;
  return [
    { name: 'aldp quick energy W1', value: m.energyW1, threshold: 10 },
    { name: 'aldp quick Ramachandran KL', value: m.peptide!.ramaKL, threshold: 2 },
  ];
}
