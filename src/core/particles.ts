/**
 * Centre-of-mass handling for particle systems. Rows are atom-major
 * [x0, y0, z0, x1, …]. "Mean" is the unweighted centroid, as in PITA.
 */

/** Subtracts each row's centroid in place (rows of nParticles × spatialDim). */
export function removeCentroid(x: Float64Array, n: number, nParticles: number, spatialDim: number): Float64Array {
  const dim = nParticles * spatialDim;
  for (let i = 0; i < n; i++) {
    const off = i * dim;
    for (let d = 0; d < spatialDim; d++) {
      let s = 0;
      for (let a = 0; a < nParticles; a++) s += x[off + a * spatialDim + d];
      const m = s / nParticles;
      for (let a = 0; a < nParticles; a++) x[off + a * spatialDim + d] -= m;
    }
  }
  return x;
}

/**
 * Projection onto the mean-free subspace, applied to one row in place. The
 * same projection serves positions, forces and Gaussian noise: projecting
 * noise and forces keeps the centroid of a chain fixed exactly.
 */
export function removeCentroidRow(x: Float64Array, off: number, nParticles: number, spatialDim: number): void {
  for (let d = 0; d < spatialDim; d++) {
    let s = 0;
    for (let a = 0; a < nParticles; a++) s += x[off + a * spatialDim + d];
    const m = s / nParticles;
    for (let a = 0; a < nParticles; a++) x[off + a * spatialDim + d] -= m;
  }
}

/** Largest absolute centroid coordinate over all rows (for tests and checks). */
export function maxCentroid(x: Float64Array, n: number, nParticles: number, spatialDim: number): number {
  const dim = nParticles * spatialDim;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < spatialDim; d++) {
      let s = 0;
      for (let a = 0; a < nParticles; a++) s += x[i * dim + a * spatialDim + d];
      worst = Math.max(worst, Math.abs(s / nParticles));
    }
  }
  return worst;
}
