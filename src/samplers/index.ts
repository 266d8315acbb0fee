// Classical samplers: MCMC and MD kernels (init/step), parallel tempering, SMC utilities and the driver.
export * from './state.js';
export * from './adapt.js';
export * from './mala.js';
export * from './hmc.js';
export * from './langevin.js';
export * from './pt.js';
export * from './smc.js';
export * from './run.js';
export * from './diagnostics.js';
export * from './convergence.js';
export * from './checks.js';
export * from './auto-warmup.js';
export * from './divergence.js';
