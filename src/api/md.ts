/** `pita/md`: Langevin molecular dynamics of a target and energy minimisation. */
export { runMd, InterruptedError, type MdOptions, type MdProgress, type MdResult } from '../md/run.js';
export { minimize, type MinimizeOptions, type MinimizeResult, type EnergyForceFn } from '../md/minimize.js';
