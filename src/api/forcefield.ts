/** `pita/forcefield`: OpenMM-compatible force fields (System, forces, XML systems, the bundled peptides). */
export * from '../forcefield/index.js';
