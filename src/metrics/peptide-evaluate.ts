/**
 * The peptide metric set (ALDP, Ala3) of generated samples G against
 * reference samples R, both [n, 3·nAtoms] in nm:
 *
 * - ramaKL: KL(R‖G) of the 64×64 Ramachandran histograms on [−π, π)² of
 *   (φ, ψ) of the same residue, both smoothed by a periodic Gaussian of
 *   RAMA_KL_SMOOTHING bins, ε = 1e-10, averaged over residues with both angles;
 *   ramaKLUnsmoothed is FAB's exact (unsmoothed) value, for comparison.
 * - torusW2: exact-OT W2 on the torus of all backbone angles (ALDP: φ, ψ;
 *   Ala3: φ₁, φ₂, ψ₀, ψ₁), wrapped per-angle distance, m ≤ maxOtPoints points.
 * - ticaW2: exact-OT W2 between the projections on the first two TICA
 *   components fitted on R (lag PEPTIDE_TICA_LAG frames; meaningful only when
 *   R is a time-ordered trajectory, see metrics/tica.ts).
 * - chirality: fraction of G whose Cα signs match R's first sample
 *   (correctRate) and fraction that mirroring cannot fix (uncorrectableRate).
 *
 * All are computed on the samples as given (before any chirality fix), as the
 * reference code does.
 */
import { peptideChiralityCentres, chiralityReference, fixChirality } from './chirality.js';
import { backboneAngles } from './dihedrals.js';
import { peptideRamachandranKL, RAMA_KL_SMOOTHING } from './ramachandran.js';
import { fitPeptideTica, peptideTicaWasserstein } from './tica.js';
import { torusW2 } from './torus.js';

export interface PeptideMetrics {
  ramaKL: number;
  ramaKLUnsmoothed: number;
  torusW2: number;
  ticaW2: number;
  chiralityCorrectRate: number;
  chiralityUncorrectableRate: number;
}

export function evaluatePeptide(
  name: string,
  elements: readonly string[],
  x: Float64Array,
  nx: number,
  ref: Float64Array,
  nr: number,
  opts: { maxOtPoints?: number; seed?: number } = {},
): PeptideMetrics {
  const nAtoms = elements.length;
  const sub = { maxPoints: opts.maxOtPoints ?? 2000, seed: opts.seed ?? 0 };
  const angG = backboneAngles(name, x, nx);
  const angR = backboneAngles(name, ref, nr);
  const nAngles = angG.length / nx;
  const tica = fitPeptideTica(name, elements, ref, nr);
  const chir = fixChirality(chiralityReference(ref, nr, nAtoms, peptideChiralityCentres(name)), x, nx, 'mirror');
  return {
    ramaKL: peptideRamachandranKL(name, ref, nr, x, nx, { smoothing: RAMA_KL_SMOOTHING }).mean,
    ramaKLUnsmoothed: peptideRamachandranKL(name, ref, nr, x, nx).mean,
    torusW2: torusW2(angG, nx, angR, nr, nAngles, sub),
    ticaW2: peptideTicaWasserstein(tica, ref, nr, x, nx, sub),
    chiralityCorrectRate: chir.correctRate,
    chiralityUncorrectableRate: chir.uncorrectableRate,
  };
}
