/** `pita/io`: .npy arrays and XYZ/PDB trajectories. */
export { readNpy, readNpyFloat64, writeNpy, decodeNpy, encodeNpy, type NpyArray, type NpyData, type NpyDtype } from '../io/npy.js';
export { writeXyz, formatXyz, writePdb, formatPdb, readPdb, parsePdb, type TrajectoryOptions, type PdbStructure } from '../io/trajectory.js';
