// File I/O: .npy arrays, XYZ/PDB trajectories, atomic writes.
export * from '../core/atomic.js';
export * from './npy.js';
export * from './trajectory.js';
