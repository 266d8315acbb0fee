import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readNpyFloat64 } from '../../src/io/npy.js';
import { distanceW2 } from '../../src/metrics/distances.js';
import { energyW1, energyW2 } from '../../src/metrics/wasserstein1d.js';
import { reducedEnergies } from '../../src/metrics/evaluate.js';
import { runSampler } from '../../src/samplers/run.js';
import { createTarget } from '../../src/targets/index.js';
import { throttledLog, type Check } from './check.js';

const DATA = resolve('..', 'shared', 'data');

/**
 * Parallel tempering on LJ-13 at T = 1 started from random configurations
 * reproduces the reference sample train_T1.0.npy: energy W1 ≤ 0.3 (in
 * E/kT) and pooled interatomic-distance W2 ≤ 0.02.
 */
export function lj13Pt(): Check[] {
  const refPath = resolve(DATA, 'lj13', 'train_T1.0.npy');
  if (!existsSync(refPath)) throw new Error(`reference data not found at ${refPath}`);
  const target = createTarget('lj13');
  const ref = readNpyFloat64(refPath, { cols: target.dim, what: 'target lj13' });
  const nRef = ref.shape[0];
  const t0 = performance.now();
  const log = throttledLog();
  const res = runSampler(target, {
    sampler: 'pt',
    n: 8000,
    temperature: 1,
    tMax: 2.5,
    replicas: 16,
    chains: 128,
    warmup: 2000,
    thin: 50,
    seed: 2026,
    onProgress: (done, total, info) =>
      log(`round ${done}/${total} (${info.phase}), acceptance ${info.acceptanceRate?.toFixed(3)}, ${target.counter.total} evaluations`, done === total),
  });
  const seconds = (performance.now() - t0) / 1000;
  const pt = res.pt!;
  console.log(`PT on lj13: ${res.n} samples at T=1 from ${res.chains} chains × ${pt.temperatures.length} replicas in ${seconds.toFixed(1)} s`);
  console.log(`  ladder ${[...pt.temperatures].map((t) => t.toFixed(3)).join(', ')}`);
  console.log(`  swap acceptance ${[...pt.swapAcceptance].map((a) => a.toFixed(2)).join(', ')}; round trips ${pt.roundTrips}`);
  console.log(`  local acceptance ${[...pt.localAcceptance].map((a) => a.toFixed(2)).join(', ')}`);
  console.log(`  energy evaluations: ${res.evaluations.total} (init ${res.evaluations.init}, warm-up ${res.evaluations.warmup}, sampling ${res.evaluations.sampling})`);
  const eG = reducedEnergies(target, res.samples, res.n, 1);
  const eR = reducedEnergies(target, ref.data, nRef, 1);
  const layout = { nParticles: 13, spatialDim: 3 };
  const mean = (v: Float64Array) => v.reduce((a, b) => a + b, 0) / v.length;
  console.log(`  mean E: PT ${mean(eG).toFixed(3)}, reference ${mean(eR).toFixed(3)}`);
  console.log(`  energy W2 ${energyW2(eG, eR).toFixed(4)}`);
  return [
    { name: 'lj13 PT energy W1', value: energyW1(eG, eR), threshold: 0.3 },
    { name: 'lj13 PT distance W2', value: distanceW2(res.samples, res.n, ref.data, nRef, layout), threshold: 0.02 },
  ];
}
