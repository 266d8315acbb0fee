/**
 * Interatomic-distance W2 ("Distance-W2", docs/targets-and-metrics.md §3.2). For every sample all
 * nParticles·(nParticles−1)/2 distances |x_i − x_j| with i < j are taken, with
 * no regulariser; the distances of all samples are pooled into one 1-D set per
 * side and compared with the exact 1-D W2, sqrt(emd2_1d). Units are those of
 * the coordinates (nm for the peptides, reduced units for LJ).
 */
import { assertFiniteRows } from '../core/errors.js';
import { wasserstein2_1d } from './wasserstein1d.js';

/** Particle layout of a row: nParticles atoms of spatialDim coordinates, atom-major. */
export interface ParticleLayout {
  nParticles: number;
  spatialDim: number;
}

/** Checks that x holds n rows of nParticles × spatialDim values. */
export function checkLayout(x: ArrayLike<number>, n: number, layout: ParticleLayout, what: string): void {
  const { nParticles, spatialDim } = layout;
  if (!Number.isSafeInteger(nParticles) || nParticles < 1 || !Number.isSafeInteger(spatialDim) || spatialDim < 1) {
    throw new RangeError(`particle layout needs positive integers, got nParticles ${nParticles}, spatialDim ${spatialDim}`);
  }
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${what}: sample count must be a positive integer, got ${n}`);
  const dim = nParticles * spatialDim;
  if (x.length !== n * dim) throw new RangeError(`${what} has ${x.length} values; expected [${n}, ${dim}] = ${n * dim} (${nParticles} particles × ${spatialDim})`);
}

/**
 * All pair distances |x_i − x_j|, i < j, of each of the n rows, pooled into
 * one array of length n·P(P−1)/2 (row by row, pairs in (0,1), (0,2), … order).
 */
export function pairDistances(x: ArrayLike<number>, n: number, layout: ParticleLayout): Float64Array {
  checkLayout(x, n, layout, 'samples');
  const { nParticles: p, spatialDim: sd } = layout;
  const dim = p * sd;
  assertFiniteRows('samples', x, n, dim);
  const out = new Float64Array((n * p * (p - 1)) / 2);
  let k = 0;
  for (let r = 0; r < n; r++) {
    const off = r * dim;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        let s = 0;
        for (let d = 0; d < sd; d++) {
          const t = x[off + i * sd + d] - x[off + j * sd + d];
          s += t * t;
        }
        out[k++] = Math.sqrt(s);
      }
    }
  }
  return out;
}

/** Distance-W2 between samples x [nx, P·sd] and y [ny, P·sd]; nx ≠ ny allowed. */
export function distanceW2(x: ArrayLike<number>, nx: number, y: ArrayLike<number>, ny: number, layout: ParticleLayout): number {
  if (layout.nParticles < 2) throw new RangeError(`distance W2 needs at least 2 particles, got ${layout.nParticles}`);
  return wasserstein2_1d(pairDistances(x, nx, layout), pairDistances(y, ny, layout));
}
