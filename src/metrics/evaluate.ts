/**
 * The standard metric set for generated samples G against reference samples
 * R of one target at one temperature (what `pita eval` prints and runs record).
 *
 * - energyW1 / energyW2: exact 1-D W1 (no root) and W2 between the reduced
 *   energies E/(k_B T) of all of G and all of R (sizes may differ).
 * - distanceW2: pooled interatomic-distance W2 (particle targets only).
 * - sampleW2: exact OT W2 with squared-Euclidean cost on (mean-free, for
 *   translation-invariant targets) coordinates, on m = min(|G|, |R|, maxOtPoints)
 *   points drawn without replacement from each set with the given seed.
 * - mmd2: biased MMD² with an RBF kernel at the median-heuristic bandwidth, on
 *   the same (mean-free where applicable) subsample.
 * - peptide: for aldp and al3, the dihedral, TICA and chirality metrics of
 *   metrics/peptide-evaluate.ts.
 */
import { removeCentroid } from '../core/particles.js';
import { Rng } from '../core/rng.js';
import { MoleculeTarget } from '../targets/molecule.js';
import type { Target } from '../targets/target.js';
import { PEPTIDE_DIHEDRALS } from './dihedrals.js';
import { evaluatePeptide, type PeptideMetrics } from './peptide-evaluate.js';
import { distanceW2 } from './distances.js';
import { mmd2Rbf } from './mmd.js';
import { sampleW2 } from './ot.js';
import { energyW1, energyW2 } from './wasserstein1d.js';

export interface EvaluateOptions {
  temperature: number;
  /** Largest subsample for the O(m³) OT and O(m²) MMD metrics. Default 2000. */
  maxOtPoints?: number;
  /** Seed of the subsample draw. Default 0. */
  seed?: number;
}

export interface SampleMetrics {
  nSamples: number;
  nReference: number;
  temperature: number;
  meanReducedEnergy: number;
  meanReducedEnergyReference: number;
  energyW1: number;
  energyW2: number;
  distanceW2: number | null;
  sampleW2: number;
  mmd2: number;
  otPoints: number;
  /** Peptide targets (aldp, al3) only. */
  peptide?: PeptideMetrics;
}

/** Reduced energies E/(k_B T); counted as evaluations of the target. */
export function reducedEnergies(target: Target, x: Float64Array, n: number, temperature: number): Float64Array {
  const e = target.energy(x, n);
  const s = 1 / (target.kB * temperature);
  for (let i = 0; i < n; i++) e[i] *= s;
  return e;
}

/** m distinct rows of x drawn uniformly (seeded); all rows, in order, when m ≥ n. */
export function subsampleRows(x: Float64Array, n: number, dim: number, m: number, rng: Rng): Float64Array {
  if (m >= n) return x.subarray(0, n * dim);
  const perm = rng.permutation(n);
  const out = new Float64Array(m * dim);
  for (let i = 0; i < m; i++) out.set(x.subarray(perm[i] * dim, perm[i] * dim + dim), i * dim);
  return out;
}

export function evaluateSamples(target: Target, x: Float64Array, nx: number, ref: Float64Array, nr: number, opts: EvaluateOptions): SampleMetrics {
  const T = opts.temperature;
  const eG = reducedEnergies(target, x, nx, T);
  const eR = reducedEnergies(target, ref, nr, T);
  const layout = { nParticles: target.nParticles, spatialDim: target.spatialDim };
  const m = Math.min(nx, nr, opts.maxOtPoints ?? 2000);
  const rng = new Rng(opts.seed ?? 0);
  const xs = Float64Array.from(subsampleRows(x, nx, target.dim, m, rng.fork('samples')));
  const rs = Float64Array.from(subsampleRows(ref, nr, target.dim, m, rng.fork('reference')));
  if (target.translationInvariant) {
    removeCentroid(xs, m, target.nParticles, target.spatialDim);
    removeCentroid(rs, m, target.nParticles, target.spatialDim);
  }
  const mean = (v: Float64Array) => v.reduce((a, b) => a + b, 0) / v.length;
  const peptide =
    target instanceof MoleculeTarget && target.topology && Object.hasOwn(PEPTIDE_DIHEDRALS, target.name)
      ? evaluatePeptide(target.name, target.topology.elements, x, nx, ref, nr, { maxOtPoints: opts.maxOtPoints, seed: opts.seed })
      : undefined;
  return {
    nSamples: nx,
    nReference: nr,
    temperature: T,
    meanReducedEnergy: mean(eG),
    meanReducedEnergyReference: mean(eR),
    energyW1: energyW1(eG, eR),
    energyW2: energyW2(eG, eR),
    distanceW2: target.nParticles > 1 ? distanceW2(x, nx, ref, nr, layout) : null,
    sampleW2: sampleW2(xs, rs, m, target.dim),
    mmd2: mmd2Rbf(xs, m, rs, m, target.dim).mmd2,
    otPoints: m,
    ...(peptide ? { peptide } : {}),
  };
}
