import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readNpyFloat64 } from '../../src/io/npy.js';
import { runMd } from '../../src/md/run.js';
import { reducedEnergies } from '../../src/metrics/evaluate.js';
import { peptideRamachandranKL, RAMA_KL_SMOOTHING } from '../../src/metrics/ramachandran.js';
import { energyW1, energyW2 } from '../../src/metrics/wasserstein1d.js';
import { runSampler } from '../../src/samplers/run.js';
import { createTarget, type Target } from '../../src/targets/index.js';
import { throttledLog, type Check } from './check.js';

const DATA = resolve('..', 'shared', 'data', 'aldp');

/**
 * MD settings of `aldp-md`: the OpenMM protocol of PITA's generate_md.py
 * (minimise, 1 fs, friction 0.3/ps), with the 10 ns split over independent
 * replicas run side by side. The warm-up is 20 ps instead of OpenMM's 5000
 * steps: the replicas start from the minimum with Maxwell–Boltzmann
 * velocities, so the potential energy starts far below its 1200 K mean, and
 * friction 0.3/ps re-thermalises on a 1/γ ≈ 3.3 ps scale; 5 ps is negligible
 * within one 1 µs trajectory but would bias 0.5 ns replicas measurably.
 */
const MD = {
  temperature: 1200,
  replicas: 20,
  /** Frames per replica; 500 × 1 ps = 0.5 ns per replica. */
  frames: 500,
  /** Steps between frames (1 ps). */
  interval: 1000,
  /** ps */
  timestep: 0.001,
  /** 1/ps */
  friction: 0.3,
  warmupSteps: 20_000,
  seed: 2026,
} as const;

/**
 * PT settings of `aldp-pt`. HMC (10 leapfrog steps) as the local kernel: the
 * stiff bonds cap the step size at ~2e-3 nm at 300 K whatever the kernel, and
 * a leapfrog trajectory moves ballistically where MALA's steps diffuse. A
 * geometric ladder of 8 temperatures from 300 to 1200 K gives swap
 * acceptance ≈ 0.45 for every pair (ALDP's heat capacity is ≈ 33 k_B, about
 * dim/2). The initial step size is near the adapted one, so warm-up adapts
 * instead of first shrinking from the sampler's default.
 */
const PT = {
  temperature: 300,
  tMax: 1200,
  replicas: 8,
  chains: 16,
  local: 'hmc',
  leapfrogSteps: 10,
  stepSize: 0.002,
  warmup: 1000,
  thin: 5,
  n: 10_000,
  seed: 2026,
} as const;

function loadReference(target: Target, file: string): { data: Float64Array; n: number } {
  const path = resolve(DATA, file);
  if (!existsSync(path)) throw new Error(`reference data not found at ${path}`);
  const ref = readNpyFloat64(path, { cols: target.dim, what: `target ${target.name}` });
  return { data: ref.data, n: ref.shape[0] };
}

const mean = (v: Float64Array): number => v.reduce((a, b) => a + b, 0) / v.length;

/**
 * MD of ALDP at 1200 K, 10 ns aggregated over 20 independent replicas,
 * reproduces train_1200K.npy: reduced-energy W1 ≤ 0.3 and smoothed
 * Ramachandran KL ≤ 0.05.
 */
export async function aldpMd(): Promise<Check[]> {
  const target = createTarget('aldp');
  const ref = loadReference(target, 'train_1200K.npy');
  const T = MD.temperature;
  const perReplicaPs = MD.frames * MD.interval * MD.timestep;
  console.log(`MD settings: ${JSON.stringify(MD)}`);
  console.log(
    `  ${MD.replicas} independent replicas × ${perReplicaPs} ps = ${(MD.replicas * perReplicaPs) / 1000} ns aggregated ` +
      `(not one continuous trajectory), each after minimisation and a discarded ${MD.warmupSteps * MD.timestep} ps warm-up`,
  );
  const log = throttledLog();
  const t0 = performance.now();
  const res = await runMd(target, {
    ...MD,
    onProgress: (p) =>
      log(`${p.phase} step ${p.step}/${p.totalSteps}, ${p.framesDone} frames, ${p.nsPerDay.toFixed(1)} ns/day aggregated, T_kin ${p.kineticTemperature.toFixed(0)} K`, p.step === p.totalSteps),
  });
  const seconds = (performance.now() - t0) / 1000;
  const simulatedNs = (MD.replicas * (MD.warmupSteps + MD.frames * MD.interval) * MD.timestep) / 1000;
  console.log(`  ${res.nFrames} frames in ${seconds.toFixed(1)} s (${((simulatedNs / seconds) * 86400).toFixed(1)} ns/day aggregated incl. warm-up)`);
  console.log(`  energy evaluations: ${res.evaluations} (minimisation + ${MD.replicas} × ${MD.warmupSteps + MD.frames * MD.interval} steps)`);
  console.log(`  minimised energy ${res.minimizedEnergy?.toFixed(3)} kJ/mol`);
  console.log(
    `  mean kinetic temperature ${res.meanKineticTemperature.toFixed(1)} K (BAOAB's end-of-step velocities read a few per cent ` +
      `low at 1 fs because of the X–H stretches; configurations are unaffected to O(Δt²))`,
  );
  const eG = reducedEnergies(target, res.frames, res.nFrames, T);
  const eR = reducedEnergies(target, ref.data, ref.n, T);
  const kT = target.kB * T;
  console.log(`  mean E: MD ${(mean(eG) * kT).toFixed(2)} kJ/mol, reference ${(mean(eR) * kT).toFixed(2)} kJ/mol (${ref.n} frames)`);
  console.log(`  reduced-energy W2 ${energyW2(eG, eR).toFixed(4)}`);
  const klRaw = peptideRamachandranKL('aldp', ref.data, ref.n, res.frames, res.nFrames, { smoothing: 0 }).mean;
  const kl = peptideRamachandranKL('aldp', ref.data, ref.n, res.frames, res.nFrames, { smoothing: RAMA_KL_SMOOTHING }).mean;
  console.log(`  Ramachandran KL(ref‖MD) unsmoothed ${klRaw.toFixed(4)} (informational; large finite-sample floor)`);
  return [
    { name: `aldp MD ${T} K reduced-energy W1`, value: energyW1(eG, eR), threshold: 0.3 },
    { name: `aldp MD ${T} K Ramachandran KL (smoothing ${RAMA_KL_SMOOTHING} bins)`, value: kl, threshold: 0.05 },
  ];
}

/**
 * Parallel tempering of ALDP from the built structure, 300–1200 K,
 * reproduces train_300K.npy: reduced-energy W1 ≤ 0.3 at 300 K.
 */
export function aldpPt(): Check[] {
  const target = createTarget('aldp');
  const ref = loadReference(target, 'train_300K.npy');
  const T = PT.temperature;
  console.log(`PT settings: ${JSON.stringify(PT)}`);
  const log = throttledLog();
  const t0 = performance.now();
  const res = runSampler(target, {
    sampler: 'pt',
    ...PT,
    onProgress: (done, total, info) =>
      log(`round ${done}/${total} (${info.phase}), local acceptance ${info.acceptanceRate?.toFixed(3)}, ${target.counter.total} evaluations`, done === total),
  });
  const seconds = (performance.now() - t0) / 1000;
  const pt = res.pt!;
  const K = pt.temperatures.length;
  console.log(`  ${res.n} samples at ${T} K from ${res.chains} PT chains × ${K} replicas in ${seconds.toFixed(1)} s (${res.warmup} warm-up + ${res.samplingSteps} sampling rounds, thin ${res.thin})`);
  console.log(`  ladder (K) ${[...pt.temperatures].map((t) => t.toFixed(1)).join(', ')}`);
  console.log(`  step size per temperature (nm) ${[...res.stepSize!.subarray(0, K)].map((h) => h.toExponential(2)).join(', ')}`);
  console.log(`  local HMC acceptance ${[...pt.localAcceptance].map((a) => a.toFixed(2)).join(', ')}`);
  console.log(`  swap acceptance per pair ${[...pt.swapAcceptance].map((a) => a.toFixed(3)).join(', ')}`);
  console.log(`  round trips: ${pt.roundTrips} during sampling (${pt.roundTripsTotal} in all)`);
  console.log(`  energy evaluations: ${res.evaluations.total} (init ${res.evaluations.init}, warm-up ${res.evaluations.warmup}, sampling ${res.evaluations.sampling})`);
  const eG = reducedEnergies(target, res.samples, res.n, T);
  const eR = reducedEnergies(target, ref.data, ref.n, T);
  const kT = target.kB * T;
  console.log(`  mean E: PT ${(mean(eG) * kT).toFixed(2)} kJ/mol, reference ${(mean(eR) * kT).toFixed(2)} kJ/mol (${ref.n} frames)`);
  console.log(`  reduced-energy W2 ${energyW2(eG, eR).toFixed(4)}`);
  const kl = peptideRamachandranKL('aldp', ref.data, ref.n, res.samples, res.n, { smoothing: RAMA_KL_SMOOTHING }).mean;
  const klRaw = peptideRamachandranKL('aldp', ref.data, ref.n, res.samples, res.n, { smoothing: 0 }).mean;
  console.log(`  Ramachandran KL(ref‖PT) (informational): smoothed ${kl.toFixed(4)}, unsmoothed ${klRaw.toFixed(4)}`);
  return [{ name: `aldp PT ${T} K reduced-energy W1`, value: energyW1(eG, eR), threshold: 0.3 }];
}
