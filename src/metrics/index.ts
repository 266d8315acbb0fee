// Sample-quality metrics: exact definitions are in each module's doc comment.
export * from './wasserstein1d.js';
export * from './distances.js';
export * from './ot.js';
export * from './mmd.js';
export * from './evaluate.js';
export * from './linalg.js';
export * from './dihedrals.js';
export * from './ramachandran.js';
export * from './torus.js';
export * from './tica.js';
export * from './chirality.js';
export * from './peptide-evaluate.js';
