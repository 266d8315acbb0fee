/**
 * Dense float64 linear algebra for the metrics: a symmetric eigensolver
 * (cyclic Jacobi) and the few matrix helpers TICA needs. Matrices are
 * row-major Float64Array; an [m, n] matrix stores entry (i, j) at i·n + j.
 */
import { UserError, assertFiniteRows } from '../core/errors.js';

/** Eigen-decomposition A = V·diag(values)·Vᵀ of a symmetric matrix. */
export interface SymmetricEigen {
  /** Eigenvalues sorted in descending order. */
  values: Float64Array;
  /** [n, n] row-major; column j (entries j, n + j, 2n + j, …) is the unit eigenvector of values[j]. */
  vectors: Float64Array;
  /** Jacobi sweeps used. */
  sweeps: number;
}

export interface SymmetricEigenOptions {
  /**
   * Largest accepted asymmetry |a_ij − a_ji| relative to max|a_ij| (default
   * 1e-10). Within it the matrix is symmetrised as (A + Aᵀ)/2; beyond it the
   * input is rejected, since a non-symmetric matrix has no such decomposition.
   */
  symmetryTolerance?: number;
  /** Sweep limit before giving up (default 100; convergence takes ~6–12 sweeps). */
  maxSweeps?: number;
}

/** Throws unless `n` is a non-negative integer and `x` holds exactly n·dim values. */
export function checkShape(what: string, x: ArrayLike<number>, n: number, dim: number): void {
  if (!Number.isInteger(n) || n < 0) throw new UserError(`${what}: row count must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(dim) || dim < 1) throw new UserError(`${what}: row width must be a positive integer, got ${dim}`);
  if (x.length !== n * dim) {
    throw new UserError(`${what}: has ${x.length} values; shape [${n}, ${dim}] needs ${n * dim}`);
  }
}

/** `checkShape` plus a NonFiniteError naming the rows that hold NaN or ±Inf. */
export function checkRows(what: string, x: ArrayLike<number>, n: number, dim: number): void {
  checkShape(what, x, n, dim);
  assertFiniteRows(what, x, n, dim);
}

/**
 * Eigenvalues and eigenvectors of a real symmetric [n, n] matrix by the cyclic
 * Jacobi method (Rutishauser's variant as in Numerical Recipes §11.1: the
 * diagonal is updated through separate accumulators, and rotations are skipped
 * once an off-diagonal entry is negligible against both diagonal entries, so the
 * iteration ends with exactly zero off-diagonal sum). Eigenvalues come out with
 * absolute error of order ε·‖A‖ and eigenvectors orthonormal to working
 * precision. Cost is about 4n³ flops per sweep, ~10 sweeps: n = 150 takes ~0.3 s,
 * n = 600 ~15 s. `a` is not modified.
 */
export function symmetricEigen(a: Float64Array, n: number, opts: SymmetricEigenOptions = {}): SymmetricEigen {
  const { symmetryTolerance = 1e-10, maxSweeps = 100 } = opts;
  if (!Number.isInteger(n) || n < 1) throw new UserError(`symmetricEigen: size must be a positive integer, got ${n}`);
  checkRows('symmetricEigen matrix', a, n, n);
  let maxAbs = 0;
  for (let i = 0; i < n * n; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i]));
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const asym = Math.abs(a[i * n + j] - a[j * n + i]);
      if (asym > symmetryTolerance * maxAbs) {
        throw new UserError(
          `symmetricEigen: matrix is not symmetric: |a[${i}][${j}] − a[${j}][${i}]| = ${asym.toExponential(3)} exceeds ${symmetryTolerance} × max|a| = ${(symmetryTolerance * maxAbs).toExponential(3)}`,
        );
      }
      m[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
    }
  }

  const vt = new Float64Array(n * n); // Vᵀ: row k is eigenvector k, so rotations touch contiguous memory
  const d = new Float64Array(n);
  const b = new Float64Array(n);
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    vt[i * n + i] = 1;
    d[i] = b[i] = m[i * n + i];
  }

  let sweeps = 0;
  for (;;) {
    let offSum = 0;
    for (let p = 0; p < n - 1; p++) for (let q = p + 1; q < n; q++) offSum += Math.abs(m[p * n + q]);
    if (offSum === 0) break;
    if (sweeps >= maxSweeps) {
      throw new Error(`symmetricEigen: no convergence after ${maxSweeps} sweeps (off-diagonal sum ${offSum.toExponential(3)})`);
    }
    sweeps++;
    // The first sweeps rotate only large entries (cheaper, same result).
    const threshold = sweeps < 4 ? (0.2 * offSum) / (n * n) : 0;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        const g = 100 * Math.abs(apq);
        if (sweeps > 4 && Math.abs(d[p]) + g === Math.abs(d[p]) && Math.abs(d[q]) + g === Math.abs(d[q])) {
          m[p * n + q] = 0;
          continue;
        }
        if (Math.abs(apq) <= threshold) continue;
        let h = d[q] - d[p];
        let t: number;
        if (Math.abs(h) + g === Math.abs(h)) {
          t = apq / h;
        } else {
          const theta = (0.5 * h) / apq;
          t = 1 / (Math.abs(theta) + Math.sqrt(1 + theta * theta));
          if (theta < 0) t = -t;
        }
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        const tau = s / (1 + c);
        h = t * apq;
        z[p] -= h;
        z[q] += h;
        d[p] -= h;
        d[q] += h;
        m[p * n + q] = 0;
        // Rotate the upper triangle only; (j, p) with j < p etc.
        for (let j = 0; j < p; j++) rotate(m, j * n + p, j * n + q, s, tau);
        for (let j = p + 1; j < q; j++) rotate(m, p * n + j, j * n + q, s, tau);
        for (let j = q + 1; j < n; j++) rotate(m, p * n + j, q * n + j, s, tau);
        for (let j = 0; j < n; j++) rotate(vt, p * n + j, q * n + j, s, tau);
      }
    }
    for (let p = 0; p < n; p++) {
      b[p] += z[p];
      d[p] = b[p];
      z[p] = 0;
    }
  }

  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => d[j] - d[i]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = d[src];
    for (let r = 0; r < n; r++) vectors[r * n + dst] = vt[src * n + r];
  });
  return { values, vectors, sweeps };
}

/** The Jacobi rotation of the pair (x[i], x[k]) with sin s and tau = s/(1 + cos). */
function rotate(x: Float64Array, i: number, k: number, s: number, tau: number): void {
  const g = x[i];
  const h = x[k];
  x[i] = g - s * (h + g * tau);
  x[k] = h + s * (g - h * tau);
}

/** C = A·B for A [m, k] and B [k, n], both row-major; returns C [m, n]. */
export function matMul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  checkShape('matMul left operand', a, m, k);
  checkShape('matMul right operand', b, k, n);
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < k; l++) {
      const ail = a[i * k + l];
      if (ail === 0) continue;
      const bRow = l * n;
      const cRow = i * n;
      for (let j = 0; j < n; j++) c[cRow + j] += ail * b[bRow + j];
    }
  }
  return c;
}

/** Aᵀ [n, m] of A [m, n]. */
export function transpose(a: Float64Array, m: number, n: number): Float64Array {
  checkShape('transpose operand', a, m, n);
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}
