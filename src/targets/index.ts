// Importing this module registers every built-in target.
import './builtin.js';
export * from './target.js';
export * from './registry.js';
export * from './density.js';
