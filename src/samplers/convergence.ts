/**
 * The convergence report of a sampling run: R̂ and bulk ESS (diagnostics.ts)
 * of the energy and of every coordinate, PT round trips, and the warnings a
 * user must see before trusting the samples. Library code only returns the
 * warnings; the CLI prints them.
 *
 * Thresholds (Vehtari et al. 2021): R̂ ≤ 1.01 and bulk ESS ≥ n/10 (n the
 * number of draws checked); PT: at least as many round trips during
 * sampling as replicas on the ladder.
 *
 * Coordinates: for targets of several identical particles (DW-4, LJ) or
 * molecules, the energy is invariant to rotations and permutations, so single
 * coordinates drift between equivalent configurations without any bias in the
 * Boltzmann statistics. Their R̂ is reported but only warns when
 * `coordinatesIdentifiable` (one particle: the Gaussian, GMM-40), where a
 * chain stuck in one mode shows up only in the coordinates.
 */
import { essBulk, splitRhat } from './diagnostics.js';

/** R̂ above this warns. */
export const RHAT_THRESHOLD = 1.01;
/** Bulk ESS below this fraction of the draws warns. */
export const ESS_FRACTION = 0.1;

export interface ConvergenceReport {
  /** Chains and draws per chain that were checked. */
  chains: number;
  drawsPerChain: number;
  /** Rank-normalized split-R̂ and bulk ESS of the energy (NaN when there are too few draws). */
  energy: { rhat: number; ess: number };
  /** Over all coordinates: the largest R̂ and the smallest bulk ESS, with the coordinate each comes from. */
  coordinates: { maxRhat: number; maxRhatIndex: number; minEss: number; minEssIndex: number };
  /** PT: round trips during sampling (all chains) and per replica (walker). */
  roundTrips?: { total: number; perReplica: number; replicas: number };
  /** True when no warning was raised. */
  converged: boolean;
  /** One line each, with the remedy. */
  warnings: string[];
}

export interface ConvergenceInput {
  /** Draws [draws·chains, dim], draw-major: draw d of chain c is row d·chains + c. */
  x: Float64Array;
  /** Energies of the same rows [draws·chains]. */
  energy: Float64Array;
  chains: number;
  drawsPerChain: number;
  dim: number;
  /** Warn on coordinate R̂/ESS too (see the module comment). */
  coordinatesIdentifiable: boolean;
  /** PT: round trips during sampling (summed over chains and walkers) and the ladder size. */
  roundTrips?: { total: number; replicas: number; walkers: number };
  /** What to lengthen, named in the warnings (e.g. "--warmup (now 1000) and --n or --thin"). */
  remedy: string;
}

/** One chain's column `col` (stride `dim`) of a draw-major array. */
function chainsOf(a: Float64Array, chains: number, draws: number, dim: number, col: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let c = 0; c < chains; c++) {
    const v = new Float64Array(draws);
    for (let d = 0; d < draws; d++) v[d] = a[(d * chains + c) * dim + col];
    out.push(v);
  }
  return out;
}

export function convergenceReport(inp: ConvergenceInput): ConvergenceReport {
  const { chains, drawsPerChain: draws, dim } = inp;
  const energyChains = chainsOf(inp.energy, chains, draws, 1, 0);
  const energy = { rhat: splitRhat(energyChains), ess: essBulk(energyChains) };
  const coordinates = { maxRhat: NaN, maxRhatIndex: -1, minEss: NaN, minEssIndex: -1 };
  for (let j = 0; j < dim; j++) {
    const cs = chainsOf(inp.x, chains, draws, dim, j);
    const r = splitRhat(cs);
    const e = essBulk(cs);
    if (r > coordinates.maxRhat || (Number.isNaN(coordinates.maxRhat) && !Number.isNaN(r))) Object.assign(coordinates, { maxRhat: r, maxRhatIndex: j });
    if (e < coordinates.minEss || (Number.isNaN(coordinates.minEss) && !Number.isNaN(e))) Object.assign(coordinates, { minEss: e, minEssIndex: j });
  }
  const total = chains * draws;
  const warnings: string[] = [];
  const fmt = (v: number) => (Number.isFinite(v) ? v.toPrecision(4) : String(v));
  if (draws < 4) {
    warnings.push(`only ${draws} draw(s) per chain: too few to check convergence (R̂ needs ≥ 4); use fewer chains or a larger n`);
  } else {
    const minEss = ESS_FRACTION * total;
    if (!(energy.rhat <= RHAT_THRESHOLD)) warnings.push(`not converged: energy R̂ ${fmt(energy.rhat)} > ${RHAT_THRESHOLD}; lengthen ${inp.remedy}`);
    if (Number.isNaN(energy.ess)) warnings.push(`energy bulk ESS cannot be estimated from ${draws} draws per chain; use fewer chains or a larger n`);
    else if (!(energy.ess >= minEss)) warnings.push(`energy bulk ESS ${fmt(energy.ess)} < n/10 = ${fmt(minEss)}: the samples are strongly correlated; lengthen ${inp.remedy}`);
    if (inp.coordinatesIdentifiable) {
      if (!(coordinates.maxRhat <= RHAT_THRESHOLD)) {
        warnings.push(`not converged: R̂ ${fmt(coordinates.maxRhat)} > ${RHAT_THRESHOLD} for coordinate ${coordinates.maxRhatIndex} (chains disagree, e.g. stuck in different modes); lengthen ${inp.remedy}`);
      }
      // NaN (too few draws) is already reported for the energy.
      if (coordinates.minEss < minEss) warnings.push(`bulk ESS ${fmt(coordinates.minEss)} < n/10 = ${fmt(minEss)} for coordinate ${coordinates.minEssIndex}; lengthen ${inp.remedy}`);
    }
  }
  const report: ConvergenceReport = { chains, drawsPerChain: draws, energy, coordinates, converged: false, warnings };
  if (inp.roundTrips) {
    const { total: trips, replicas, walkers } = inp.roundTrips;
    report.roundTrips = { total: trips, perReplica: trips / walkers, replicas };
    if (trips < replicas) {
      warnings.push(`parallel tempering made ${trips} round trip(s) during sampling, fewer than its ${replicas} replicas: the ladder does not mix; use more replicas (--replicas), a longer run (--thin, --n), or a lower --t-max`);
    }
  }
  report.converged = warnings.length === 0;
  return report;
}
