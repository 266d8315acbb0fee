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
import type { Check } from './check.js';

const DATA = resolve('..', 'shared', 'data');

async function quickRun(preset: string, reference: string | null): Promise<Awaited<ReturnType<typeof runPita>>> {
  const { config } = resolveRunConfig(preset, 'quick');
  if (reference !== null) {
    if (!existsSync(reference)) throw new Error(`reference data not found at ${reference}`);
    config.evaluation.reference = reference;
  }
  const outDir = resolve('validation-runs', `${preset}-quick`);
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
 * LJ-13 quick (4 → 1, own PT data) against train_T1.0.npy. The thresholds are
 * loose sanity bounds (the paper's PITA: distance W2 0.04, energy W2 2.26);
 * the measured numbers are what RESULTS.md records.
 */
export async function lj13Quick(): Promise<Check[]> {
  const { metrics } = await quickRun('lj13', resolve(DATA, 'lj13', 'train_T1.0.npy'));
  const m = metrics.pita!;
  return [
    { name: 'lj13 quick energy W2', value: m.energyW2, threshold: 5 },
    { name: 'lj13 quick distance W2', value: m.distanceW2!, threshold: 0.2 },
  ];
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
