/**
 * `pita`: the everyday entry points. Targets, kernels, the sampling driver,
 * metrics and .npy I/O load no tensor code; the neural parts (runPita, the
 * trainer, networks, diffusion models) live in `pita/pita`, `pita/nets` and
 * `pita/diffusion`, which load the tensor engine. Every subpath is listed in
 * package.json `exports`.
 */
export { Rng } from './core/rng.js';
export { UserError, NonFiniteError } from './core/errors.js';
export { EvalCounter } from './core/counter.js';
export { createTarget, targetNames, registerTarget, targetLogDensity, type Target, type LogDensity, type EnergyForces } from './api/targets.js';
export {
  mala,
  hmc,
  langevin,
  parallelTempering,
  geometricLadder,
  runSampler,
  SAMPLER_NAMES,
  type Kernel,
  type McmcKernelFactory,
  type SampleOptions,
  type SampleResult,
} from './api/samplers.js';
export { evaluateSamples, type SampleMetrics } from './api/metrics.js';
export { readNpy, readNpyFloat64, writeNpy } from './api/io.js';
