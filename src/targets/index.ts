// Importing this module registers every built-in target.
export * from './target.js';
export * from './registry.js';
