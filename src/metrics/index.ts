// Sample-quality metrics: exact definitions are in each module's doc comment.
export * from './wasserstein1d.js';
export * from './distances.js';
export * from './ot.js';
export * from './ess.js';
export * from './mmd.js';
export * from './evaluate.js';
