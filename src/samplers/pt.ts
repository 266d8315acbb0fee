/**
 * Parallel tempering (replica exchange), batched: `chains` independent PT
 * chains, each with K replicas at temperatures T_0 < T_1 < … < T_{K−1}.
 * Row r = c·K + k of the batch holds chain c's configuration at temperature
 * slot k; temperatures stay with slots, configurations move between them.
 *
 * One round:
 *  1. every row takes `localSteps` steps of a local Metropolis kernel (MALA or
 *     HMC) at its slot's temperature, with the slot's step size;
 *  2. neighbour swaps on a deterministic schedule: even rounds try the pairs
 *     (0,1), (2,3), …; odd rounds (1,2), (3,4), …. A swap of slots i, j is
 *     accepted with probability min(1, exp((β_i − β_j)(E_i − E_j))), which
 *     leaves the product of the tempered densities invariant. Swaps reuse the
 *     stored energies: they cost no evaluation.
 *
 * Replica labels travel with configurations. A round trip is counted when a
 * label that has been at the coldest slot reaches the hottest slot and then
 * the coldest again (each return to the coldest after visiting the hottest
 * counts one).
 */
import type { Rng } from '../core/rng.js';
import { UserError } from '../core/errors.js';
import { asPotential, type LogDensity } from '../targets/density.js';
import type { Target } from '../targets/target.js';
import { hmc } from './hmc.js';
import { mala } from './mala.js';
import { checkInteger, checkPositive, positivePerRow, type ComMode, type Kernel, type McmcInfo, type McmcKernelFactory, type McmcState } from './state.js';

/** Local kernels available inside parallel tempering. */
export const PT_LOCAL_KERNELS = ['mala', 'hmc'] as const;
export type PtLocalKernel = (typeof PT_LOCAL_KERNELS)[number];

export interface PtOptions {
  /** Temperature ladder, strictly increasing (coldest first); K = its length ≥ 2. */
  temperatures: ArrayLike<number>;
  /**
   * Local kernel: a name (default 'mala') or a factory building a Metropolis
   * kernel over the same density for the given per-row temperatures.
   */
  local?: PtLocalKernel | McmcKernelFactory;
  /** Local kernel steps per round (default 1). */
  localSteps?: number;
  /** Initial local step size, one value or one per temperature (default: the local kernel's default). */
  stepSize?: number | ArrayLike<number>;
  /** HMC leapfrog steps (local = 'hmc' only). */
  leapfrogSteps?: number;
  /** HMC scalar mass (local = 'hmc' only). */
  mass?: number;
  /** Centre-of-mass handling (default 'remove' for translation-invariant targets). */
  com?: ComMode;
}

export interface PtState {
  /** Independent PT chains. */
  readonly chains: number;
  /** Replicas (temperatures) per chain, K. */
  readonly replicas: number;
  /** State of the local kernel over all rows [chains·K]; row c·K + k is at temperature slot k. */
  readonly local: McmcState;
  /** Replica label held by each row [chains·K] (labels 0..K−1 within a chain). */
  readonly labels: Int32Array;
  /** Round-trip progress of each label [chains·K], indexed c·K + label (see RoundTripPhase). */
  readonly tripPhase: Uint8Array;
  /** Rounds done. */
  readonly round: number;
  /** Swap attempts per neighbour pair (k, k+1) [K−1], summed over chains. */
  readonly swapAttempts: Float64Array;
  /** Accepted swaps per neighbour pair [K−1]. */
  readonly swapAccepts: Float64Array;
  /** Completed round trips, summed over labels and chains. */
  readonly roundTrips: number;
}

export interface PtInfo {
  /** Info of each local step this round. */
  local: McmcInfo[];
  /** Swap outcome per chain and pair [chains, K−1]: −1 not attempted this round, 0 rejected, 1 accepted. */
  swaps: Int8Array;
  /** Round trips completed this round. */
  roundTrips: number;
  /** Energy evaluations this round. */
  evaluations: number;
  /** Proposals rejected as non-finite this round. */
  nonFinite: number;
}

/** Round-trip phase of a label: 0 never at the coldest slot, 1 left the coldest, 2 reached the hottest since. */
export type RoundTripPhase = 0 | 1 | 2;

/** Geometric ladder T_k = T_min (T_max/T_min)^(k/(K−1)), k = 0..K−1. */
export function geometricLadder(tMin: number, tMax: number, replicas: number): Float64Array {
  checkPositive(tMin, 'tMin');
  checkPositive(tMax, 'tMax');
  checkInteger(replicas, 'replicas', 2);
  if (!(tMax > tMin)) throw new UserError(`tMax (${tMax}) must exceed tMin (${tMin})`);
  const t = new Float64Array(replicas);
  for (let k = 0; k < replicas; k++) t[k] = tMin * Math.pow(tMax / tMin, k / (replicas - 1));
  t[replicas - 1] = tMax;
  return t;
}

/** Swap acceptance probability min(1, exp((β_i − β_j)(E_i − E_j))) for configurations at inverse temperatures β_i, β_j. */
export function swapAcceptance(betaI: number, betaJ: number, energyI: number, energyJ: number): number {
  const logR = (betaI - betaJ) * (energyI - energyJ);
  if (Number.isNaN(logR)) return 0;
  return logR >= 0 ? 1 : Math.exp(logR);
}

/**
 * Updates round-trip phases after labels moved (in place) and returns the
 * number of trips completed: a label at the coldest slot completes a trip if
 * its phase is 2, and enters phase 1; a label at the hottest slot in phase 1
 * enters phase 2.
 */
export function updateRoundTrips(labels: Int32Array, tripPhase: Uint8Array, chains: number, replicas: number): number {
  if (labels.length !== chains * replicas || tripPhase.length !== chains * replicas) {
    throw new UserError(`updateRoundTrips: labels (${labels.length}) and tripPhase (${tripPhase.length}) must have chains·replicas = ${chains * replicas} entries`);
  }
  let trips = 0;
  for (let c = 0; c < chains; c++) {
    const cold = c * replicas + labels[c * replicas];
    if (tripPhase[cold] === 2) trips++;
    tripPhase[cold] = 1;
    const hot = c * replicas + labels[c * replicas + replicas - 1];
    if (tripPhase[hot] === 1) tripPhase[hot] = 2;
  }
  return trips;
}

/** A PT kernel over `chains` independent chains; init takes x [chains·K, dim] (row c·K + k starts slot k of chain c). */
export function parallelTempering(model: Target | LogDensity, opts: PtOptions): Kernel<PtState, PtInfo> {
  const target = asPotential(model);
  const temps = Float64Array.from(opts.temperatures);
  const K = checkInteger(temps.length, 'number of PT temperatures', 2);
  for (let k = 0; k < K; k++) checkPositive(temps[k], `temperatures[${k}]`);
  for (let k = 1; k < K; k++) {
    if (!(temps[k] > temps[k - 1])) throw new UserError(`PT temperatures must increase strictly; got ${temps[k - 1]} then ${temps[k]} at positions ${k - 1}, ${k}`);
  }
  const beta = temps.map((t) => 1 / (target.kB * t));
  const local = opts.local ?? 'mala';
  if (typeof local !== 'function' && !PT_LOCAL_KERNELS.includes(local)) throw new UserError(`unknown PT local kernel '${String(local)}'; valid: ${PT_LOCAL_KERNELS.join(', ')} or a kernel factory`);
  if (local !== 'hmc' && (opts.leapfrogSteps !== undefined || opts.mass !== undefined)) {
    throw new UserError(`leapfrogSteps and mass apply to the 'hmc' local kernel only (local is '${typeof local === 'function' ? 'a kernel factory' : local}')`);
  }
  const factory: McmcKernelFactory =
    typeof local === 'function' ? local : local === 'hmc' ? (o) => hmc(model, { ...o, leapfrogSteps: opts.leapfrogSteps, mass: opts.mass }) : (o) => mala(model, o);
  const localSteps = checkInteger(opts.localSteps ?? 1, 'localSteps', 1);
  const slotStepSize = opts.stepSize === undefined ? undefined : positivePerRow(opts.stepSize, K, 'PT stepSize (per temperature)');
  const dim = target.dim;

  const kernelFor = (chains: number): Kernel<McmcState, McmcInfo> => {
    const rowTemps = new Float64Array(chains * K);
    const rowStep = slotStepSize && new Float64Array(chains * K);
    for (let c = 0; c < chains; c++) {
      rowTemps.set(temps, c * K);
      if (rowStep && slotStepSize) rowStep.set(slotStepSize, c * K);
    }
    return factory({ temperature: rowTemps, stepSize: rowStep, com: opts.com });
  };
  let cached: { chains: number; kernel: Kernel<McmcState, McmcInfo> } | null = null;
  const localKernel = (chains: number): Kernel<McmcState, McmcInfo> => {
    if (cached?.chains !== chains) cached = { chains, kernel: kernelFor(chains) };
    return cached.kernel;
  };

  return {
    init(x0: Float64Array, rng: Rng): PtState {
      const rows = x0.length / dim;
      if (!Number.isInteger(rows) || rows < K || rows % K !== 0) {
        throw new UserError(`PT init: got ${x0.length} values; expected [chains·${K}, ${dim}] (a whole number of chains of ${K} replicas)`);
      }
      const chains = rows / K;
      const local = localKernel(chains).init(x0, rng);
      const labels = new Int32Array(rows);
      for (let r = 0; r < rows; r++) labels[r] = r % K;
      const tripPhase = new Uint8Array(rows);
      updateRoundTrips(labels, tripPhase, chains, K);
      return {
        chains,
        replicas: K,
        local,
        labels,
        tripPhase,
        round: 0,
        swapAttempts: new Float64Array(K - 1),
        swapAccepts: new Float64Array(K - 1),
        roundTrips: 0,
      };
    },

    step(rng: Rng, s: PtState): { state: PtState; info: PtInfo } {
      const { chains } = s;
      const kernel = localKernel(chains);
      const localInfo: McmcInfo[] = [];
      let local = s.local;
      let evaluations = 0;
      let nonFinite = 0;
      for (let t = 0; t < localSteps; t++) {
        const r = kernel.step(rng, local);
        local = r.state;
        localInfo.push(r.info);
        evaluations += r.info.evaluations;
        nonFinite += r.info.nonFinite;
      }
      // The local step returned fresh x/energy/forces arrays, so swapping in place is safe.
      const { x, energy, forces } = local;
      const labels = s.labels.slice();
      const swapAttempts = s.swapAttempts.slice();
      const swapAccepts = s.swapAccepts.slice();
      const swaps = new Int8Array(chains * (K - 1)).fill(-1);
      const tmp = new Float64Array(dim);
      for (let c = 0; c < chains; c++) {
        for (let k = s.round % 2; k + 1 < K; k += 2) {
          const i = c * K + k;
          const j = i + 1;
          const p = swapAcceptance(beta[k], beta[k + 1], energy[i], energy[j]);
          const accept = rng.uniform() < p;
          swapAttempts[k]++;
          swaps[c * (K - 1) + k] = accept ? 1 : 0;
          if (!accept) continue;
          swapAccepts[k]++;
          swapRows(x, i, j, dim, tmp);
          swapRows(forces, i, j, dim, tmp);
          [energy[i], energy[j]] = [energy[j], energy[i]];
          [labels[i], labels[j]] = [labels[j], labels[i]];
        }
      }
      const tripPhase = s.tripPhase.slice();
      const trips = updateRoundTrips(labels, tripPhase, chains, K);
      return {
        state: {
          chains,
          replicas: K,
          local,
          labels,
          tripPhase,
          round: s.round + 1,
          swapAttempts,
          swapAccepts,
          roundTrips: s.roundTrips + trips,
        },
        info: { local: localInfo, swaps, roundTrips: trips, evaluations, nonFinite },
      };
    },
  };
}

function swapRows(a: Float64Array, i: number, j: number, dim: number, tmp: Float64Array): void {
  tmp.set(a.subarray(i * dim, (i + 1) * dim));
  a.copyWithin(i * dim, j * dim, (j + 1) * dim);
  a.set(tmp, j * dim);
}
