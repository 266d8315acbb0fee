export * from './core/rng.js';
export * from './core/errors.js';
export * from './core/counter.js';
export * from './core/particles.js';
export * from './targets/target.js';
