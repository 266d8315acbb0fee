/**
 * Training-batch augmentation for particle systems (docs/algorithm.md §4.5), on
 * host float64 rows (atom-major [x0, y0, z0, x1, …]):
 * - mean-free mode: the centroid of x_0 and of the noise ε is removed;
 * - rotation: each row gets an independent uniform SO(3) rotation, applied
 *   per particle to both x_0 and the stored force f = ∇ℓ, so the pair stays
 *   consistent (f(Rx) = R f(x) for a rotation-invariant ℓ).
 */
import { removeCentroidRow } from '../core/particles.js';
import type { Rng } from '../core/rng.js';

/** How rows are laid out: nParticles particles of spatialDim coordinates each. */
export interface ParticleLayout {
  nParticles: number;
  spatialDim: number;
}

function checkRows(where: string, x: Float64Array, rows: number, layout: ParticleLayout): void {
  const { nParticles, spatialDim } = layout;
  if (!(Number.isInteger(nParticles) && nParticles >= 1 && Number.isInteger(spatialDim) && spatialDim >= 1)) {
    throw new RangeError(`${where}: layout needs positive integers, got nParticles ${nParticles}, spatialDim ${spatialDim}`);
  }
  if (!(Number.isInteger(rows) && rows >= 0) || x.length !== rows * nParticles * spatialDim) {
    throw new RangeError(`${where}: array of length ${x.length} is not [${rows}, ${nParticles * spatialDim}]`);
  }
}

/** Removes the centroid of every row in place and returns x. */
export function removeCentroids(x: Float64Array, rows: number, layout: ParticleLayout): Float64Array {
  checkRows('removeCentroids', x, rows, layout);
  const dim = layout.nParticles * layout.spatialDim;
  for (let i = 0; i < rows; i++) removeCentroidRow(x, i * dim, layout.nParticles, layout.spatialDim);
  return x;
}

/**
 * A uniformly distributed rotation matrix (row-major 3×3, into `out` if given) from a
 * uniform unit quaternion (Shoemake 1992): with u₁, u₂, u₃ ~ U[0, 1),
 * q = (√(1−u₁) sin 2πu₂, √(1−u₁) cos 2πu₂, √u₁ sin 2πu₃, √u₁ cos 2πu₃).
 */
export function randomRotation(rng: Rng, out: Float64Array = new Float64Array(9)): Float64Array {
  const u1 = rng.uniform();
  const u2 = rng.uniform();
  const u3 = rng.uniform();
  const a = Math.sqrt(1 - u1);
  const b = Math.sqrt(u1);
  const x = a * Math.sin(2 * Math.PI * u2);
  const y = a * Math.cos(2 * Math.PI * u2);
  const z = b * Math.sin(2 * Math.PI * u3);
  const w = b * Math.cos(2 * Math.PI * u3);
  out[0] = 1 - 2 * (y * y + z * z);
  out[1] = 2 * (x * y - z * w);
  out[2] = 2 * (x * z + y * w);
  out[3] = 2 * (x * y + z * w);
  out[4] = 1 - 2 * (x * x + z * z);
  out[5] = 2 * (y * z - x * w);
  out[6] = 2 * (x * z - y * w);
  out[7] = 2 * (y * z + x * w);
  out[8] = 1 - 2 * (x * x + y * y);
  return out;
}

/** Applies the 3×3 rotation r to every particle of row `row` of x in place. */
export function rotateRow(x: Float64Array, row: number, nParticles: number, r: Float64Array): void {
  if (r.length !== 9) throw new RangeError(`rotateRow: rotation must have 9 entries (3×3), got ${r.length}`);
  const off = row * nParticles * 3;
  for (let a = 0; a < nParticles; a++) {
    const o = off + 3 * a;
    const p0 = x[o], p1 = x[o + 1], p2 = x[o + 2];
    x[o] = r[0] * p0 + r[1] * p1 + r[2] * p2;
    x[o + 1] = r[3] * p0 + r[4] * p1 + r[5] * p2;
    x[o + 2] = r[6] * p0 + r[7] * p1 + r[8] * p2;
  }
}

/**
 * Rotates every row of x and of f (each [rows, nParticles·3]) in place by the
 * same independent uniform rotation per row (three uniforms per row from rng).
 */
export function rotateBatch(rng: Rng, x: Float64Array, f: Float64Array, rows: number, layout: ParticleLayout): void {
  checkRows('rotateBatch', x, rows, layout);
  checkRows('rotateBatch (forces)', f, rows, layout);
  if (layout.spatialDim !== 3) throw new RangeError(`rotateBatch: rotations need spatialDim 3, got ${layout.spatialDim}`);
  const r = new Float64Array(9);
  for (let i = 0; i < rows; i++) {
    randomRotation(rng, r);
    rotateRow(x, i, layout.nParticles, r);
    rotateRow(f, i, layout.nParticles, r);
  }
}
