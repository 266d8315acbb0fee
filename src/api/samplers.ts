/**
 * `pita/samplers`: BlackJAX-style kernels (`init`/`step` with explicit state)
 * over any Target or LogDensity, parallel tempering, step-size adaptation,
 * SMC resampling and the sampling driver.
 */
export { mala, type MalaOptions } from '../samplers/mala.js';
export { hmc, type HmcOptions } from '../samplers/hmc.js';
export { langevin, type LangevinOptions, type LangevinState, type LangevinInfo } from '../samplers/langevin.js';
export {
  parallelTempering,
  geometricLadder,
  swapAcceptance,
  PT_LOCAL_KERNELS,
  type PtLocalKernel,
  type PtOptions,
  type PtState,
  type PtInfo,
} from '../samplers/pt.js';
export type { Kernel, ComMode, McmcState, McmcInfo, McmcKernelOptions, McmcKernelFactory } from '../samplers/state.js';
export { StepSizeAdapter, type AdaptScope, type StepSizeAdapterOptions } from '../samplers/adapt.js';
export { systematicResample, multinomialResample, uniqueCount } from '../samplers/smc.js';
export {
  runSampler,
  runSamplerAsync,
  sample,
  SAMPLER_NAMES,
  type SamplerName,
  type SampleOptions,
  type SampleResult,
  type SampleProgress,
  type PtSummary,
} from '../samplers/run.js';
export { runSamplerInWorkers } from '../samplers/parallel.js';
export type { TargetSpec } from '../targets/spec.js';
export type { LogDensity } from '../targets/density.js';
