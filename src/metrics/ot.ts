/**
 * Exact optimal transport between two equal-size point sets with uniform
 * weights. For n points on each side with cost matrix C, the optimal plan of
 * emd(1/n, 1/n, C) can be taken to be a permutation σ (Birkhoff–von Neumann),
 * so
 *
 *   emd2 = min_σ (1/n) Σ_i C[i, σ(i)],
 *
 * a linear assignment problem, solved exactly here by the shortest
 * augmenting path method of Jonker–Volgenant (column-reduction start, then
 * the augmentation of Crouse 2016 / scipy's linear_sum_assignment): the
 * unmatched rows are added one at a time; each addition runs Dijkstra on
 * reduced costs C[i,j] − u_i − v_j ≥ 0,
 * augments along the shortest path to a free column, and updates the duals
 * u, v so reduced costs stay non-negative and zero on assigned pairs. The
 * final assignment is optimal by LP duality. Time O(n³) worst case, memory
 * one dense n×n Float64Array.
 */
import { assertFiniteRows } from '../core/errors.js';
import { removeCentroid } from '../core/particles.js';
import { checkLayout, type ParticleLayout } from './distances.js';

/** A permutation assignment: row i is matched with column rowToCol[i]. */
export interface Assignment {
  rowToCol: Int32Array;
  /** Σ_i C[i, rowToCol[i]], summed from the cost matrix itself. */
  totalCost: number;
}

/** Largest n accepted: the n×n cost matrix then takes at most 2 GiB. */
export const MAX_ASSIGNMENT_SIZE = 16384;

function checkSquare(cost: ArrayLike<number>, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`assignment size n must be a positive integer, got ${n}`);
  if (n > MAX_ASSIGNMENT_SIZE) throw new RangeError(`assignment size ${n} exceeds ${MAX_ASSIGNMENT_SIZE} (dense n×n cost matrix); subsample first`);
  if (cost.length !== n * n) throw new RangeError(`cost matrix has ${cost.length} entries; expected [${n}, ${n}] = ${n * n}`);
  assertFiniteRows('cost matrix', cost, n, n);
}

/** Exact minimum-cost perfect matching of a dense row-major n×n cost matrix. */
export function linearSumAssignment(cost: Float64Array, n: number): Assignment {
  checkSquare(cost, n);
  const u = new Float64Array(n); // row duals
  const v = new Float64Array(n); // column duals
  const dist = new Float64Array(n); // shortest reduced path cost to each column
  const path = new Int32Array(n); // predecessor row of each column on the path
  const colForRow = new Int32Array(n).fill(-1);
  const rowForCol = new Int32Array(n).fill(-1);
  const remaining = new Int32Array(n); // columns not yet reached by Dijkstra
  const visitedRows = new Int32Array(n);
  const visitedCols = new Int32Array(n);

  // Column reduction (Jonker–Volgenant's initialisation): v_j = min_i C[i,j]
  // keeps every reduced cost ≥ 0, and each column is matched to its minimising
  // row when that row is still free; only the other rows need a search.
  v.fill(Infinity);
  for (let i = 0; i < n; i++) {
    const rowOff = i * n;
    for (let j = 0; j < n; j++) {
      if (cost[rowOff + j] < v[j]) {
        v[j] = cost[rowOff + j];
        path[j] = i;
      }
    }
  }
  for (let j = 0; j < n; j++) {
    if (colForRow[path[j]] < 0) {
      colForRow[path[j]] = j;
      rowForCol[j] = path[j];
    }
  }
  for (let start = 0; start < n; start++) {
    if (colForRow[start] >= 0) continue;
    // Dijkstra from row `start` over reduced costs, until a free column is reached.
    let nRemaining = n;
    for (let k = 0; k < n; k++) remaining[k] = n - 1 - k;
    dist.fill(Infinity);
    let nRowsSeen = 0;
    let nColsSeen = 0;
    let minVal = 0;
    let i = start;
    let sink = -1;
    while (sink < 0) {
      visitedRows[nRowsSeen++] = i;
      const rowOff = i * n;
      const base = minVal - u[i];
      let lowest = Infinity;
      let best = -1;
      for (let k = 0; k < nRemaining; k++) {
        const j = remaining[k];
        let dj = dist[j];
        const r = base + cost[rowOff + j] - v[j];
        if (r < dj) {
          dist[j] = dj = r;
          path[j] = i;
        }
        // Ties go to a free column: it ends the search at once.
        if (dj < lowest || (dj === lowest && rowForCol[j] < 0)) {
          lowest = dj;
          best = k;
        }
      }
      minVal = lowest;
      const j = remaining[best];
      visitedCols[nColsSeen++] = j;
      remaining[best] = remaining[--nRemaining];
      if (rowForCol[j] < 0) sink = j;
      else i = rowForCol[j];
    }
    // Dual update keeps reduced costs ≥ 0 and zero along the matching.
    u[start] += minVal;
    for (let k = 1; k < nRowsSeen; k++) {
      const r = visitedRows[k];
      u[r] += minVal - dist[colForRow[r]];
    }
    for (let k = 0; k < nColsSeen; k++) {
      const c = visitedCols[k];
      v[c] -= minVal - dist[c];
    }
    // Augment: flip the matching along the path back to `start`.
    let j = sink;
    for (;;) {
      const r = path[j];
      rowForCol[j] = r;
      const prev = colForRow[r];
      colForRow[r] = j;
      if (r === start) break;
      j = prev;
    }
  }
  let totalCost = 0;
  for (let r = 0; r < n; r++) totalCost += cost[r * n + colForRow[r]];
  return { rowToCol: colForRow, totalCost };
}

/**
 * emd2 with uniform weights for a generic n×n cost matrix: the mean assigned
 * cost (1/n) Σ_i C[i, σ(i)] of the optimal permutation σ, and σ itself.
 */
export function otFromCostMatrix(cost: Float64Array, n: number): { cost: number; rowToCol: Int32Array } {
  const { rowToCol, totalCost } = linearSumAssignment(cost, n);
  return { cost: totalCost / n, rowToCol };
}

/** C[i, j] = ‖x_i − y_j‖² for row-major x, y of shape [n, dim]. */
export function squaredEuclideanCostMatrix(x: ArrayLike<number>, y: ArrayLike<number>, n: number, dim: number): Float64Array {
  for (const [arr, what] of [[x, 'first sample'], [y, 'second sample']] as const) {
    if (arr.length !== n * dim) throw new RangeError(`${what} has ${arr.length} values; expected [${n}, ${dim}] = ${n * dim}`);
    assertFiniteRows(what, arr, n, dim);
  }
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const oi = i * dim;
    for (let j = 0; j < n; j++) {
      const oj = j * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const t = x[oi + d] - y[oj + d];
        s += t * t;
      }
      c[i * n + j] = s;
    }
  }
  return c;
}

export interface SampleW2Options {
  /** Subtract each row's unweighted particle centroid (copies; inputs are untouched). */
  meanFree?: ParticleLayout;
}

/**
 * Sample-space W2 ("Geometric-W2", docs/targets-and-metrics.md §3.3) between x and y, both [n, dim]:
 * sqrt(emd2) with squared-Euclidean cost on the flattened coordinates, no
 * rotation or permutation alignment; mean-free first when `meanFree` is given.
 */
export function sampleW2(x: ArrayLike<number>, y: ArrayLike<number>, n: number, dim: number, opts: SampleW2Options = {}): number {
  let a = x;
  let b = y;
  if (opts.meanFree) {
    const layout = opts.meanFree;
    if (layout.nParticles * layout.spatialDim !== dim) {
      throw new RangeError(`meanFree layout ${layout.nParticles} × ${layout.spatialDim} does not match dim ${dim}`);
    }
    checkLayout(x, n, layout, 'first sample');
    checkLayout(y, n, layout, 'second sample');
    a = removeCentroid(Float64Array.from(x), n, layout.nParticles, layout.spatialDim);
    b = removeCentroid(Float64Array.from(y), n, layout.nParticles, layout.spatialDim);
  }
  return Math.sqrt(otFromCostMatrix(squaredEuclideanCostMatrix(a, b, n, dim), n).cost);
}
