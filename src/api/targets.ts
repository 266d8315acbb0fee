/**
 * `pita/targets`: Boltzmann targets and the registry. Importing this entry
 * registers every built-in target (gmm40, dw4, lj13, lj55, gaussian2d, aldp,
 * al3), so `createTarget(name)` works with no other import.
 */
import '../targets/builtin.js';

export { createTarget, registerTarget, targetNames, type TargetOptions } from '../targets/registry.js';
export { BaseTarget, logProb, type EnergyForces, type Target } from '../targets/target.js';
export { asPotential, isTarget, targetLogDensity, type LogDensity, type Potential } from '../targets/density.js';
export { GaussianTarget, GAUSSIAN2D_COVARIANCE } from '../targets/gaussian.js';
export { GaussianMixtureTarget, createGmm40, type GaussianMixtureParams } from '../targets/gmm40.js';
export { DoubleWellTarget, DW4_DEFAULTS, type DoubleWellParams } from '../targets/dw4.js';
export { LennardJonesTarget, LJ_DEFAULTS, type LennardJonesParams } from '../targets/lj.js';
export { MoleculeTarget, createPeptideTarget, createSystemTarget } from '../targets/molecule.js';
