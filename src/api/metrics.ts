/** `pita/metrics`: sample-quality metrics (energy and distance Wasserstein, OT, MMD, peptide dihedral/TICA metrics). */
export { evaluateSamples, reducedEnergies, type EvaluateOptions, type SampleMetrics } from '../metrics/evaluate.js';
export { energyW1, energyW2, wasserstein1d, wasserstein2_1d } from '../metrics/wasserstein1d.js';
export { pairDistances, distanceW2 } from '../metrics/distances.js';
export { sampleW2, linearSumAssignment, type SampleW2Options } from '../metrics/ot.js';
export { mmd2, mmd2Rbf, mmd2MultiScale, type MmdEstimator, type MmdRbfOptions } from '../metrics/mmd.js';
export { evaluatePeptide, type PeptideMetrics } from '../metrics/peptide-evaluate.js';
export { dihedralAngles, backboneAngles, phiPsiPairs, peptideDihedrals } from '../metrics/dihedrals.js';
export { ramachandranHistogram, ramachandranKL, peptideRamachandranKL } from '../metrics/ramachandran.js';
export { torusW2 } from '../metrics/torus.js';
export { fitTica, ticaProject, ticaWasserstein, fitPeptideTica, projectPeptideTica, peptideTicaWasserstein } from '../metrics/tica.js';
export { chiralitySigns, chiralityReference, checkChirality, fixChirality } from '../metrics/chirality.js';
