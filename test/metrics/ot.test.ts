import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { linearSumAssignment, otFromCostMatrix, sampleW2, squaredEuclideanCostMatrix } from '../../src/metrics/ot.js';

/** Minimum of Σ_i C[i, σ(i)] over all permutations σ (Heap's algorithm), with an optimal σ. */
function bruteForce(cost: Float64Array, n: number): { total: number; perm: number[] } {
  const p = Array.from({ length: n }, (_, i) => i);
  const c = new Array(n).fill(0);
  const evaluate = () => p.reduce((s, j, i) => s + cost[i * n + j], 0);
  let best = { total: evaluate(), perm: [...p] };
  let i = 0;
  while (i < n) {
    if (c[i] < i) {
      const k = i % 2 === 0 ? 0 : c[i];
      [p[k], p[i]] = [p[i], p[k]];
      const t = evaluate();
      if (t < best.total) best = { total: t, perm: [...p] };
      c[i]++;
      i = 0;
    } else {
      c[i] = 0;
      i++;
    }
  }
  return best;
}

test('matches brute force over all permutations for n ≤ 7 (random matrices and point sets)', () => {
  const rng = new Rng(99);
  let cases = 0;
  for (let n = 1; n <= 7; n++) {
    const trials = n <= 5 ? 60 : 15;
    for (let t = 0; t < trials; t++) {
      // Alternate uniform cost matrices and squared distances of 3-D point sets.
      const cost =
        t % 2 === 0 ? rng.uniforms(n * n, -1, 5) : squaredEuclideanCostMatrix(rng.normals(n * 3), rng.normals(n * 3), n, 3);
      const ref = bruteForce(cost, n);
      const got = linearSumAssignment(cost, n);
      assert.ok(Math.abs(got.totalCost - ref.total) <= 1e-12 * Math.max(1, Math.abs(ref.total)), `n=${n} trial ${t}`);
      // Continuous random costs have a unique optimum (with probability 1).
      assert.deepEqual(Array.from(got.rowToCol), ref.perm, `n=${n} trial ${t}`);
      cases++;
    }
  }
  assert.equal(cases, 5 * 60 + 2 * 15);
});

test('integer costs with ties: optimal total equals brute force', () => {
  const rng = new Rng(7);
  for (let t = 0; t < 100; t++) {
    const n = 2 + rng.int(6);
    const cost = Float64Array.from({ length: n * n }, () => rng.int(4));
    const got = linearSumAssignment(cost, n);
    assert.equal(got.totalCost, bruteForce(cost, n).total);
    assert.deepEqual(Array.from(got.rowToCol).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  }
});

test('hand case: 3×3 matrix whose greedy choice is not optimal', () => {
  // Greedy row by row takes (0,0)=1, (1,1)=5, (2,2)=2: total 8. The optimum is
  // (0,1),(1,0),(2,2) = 2 + 2 + 2 = 6, so emd2 = 6/3 = 2.
  const cost = Float64Array.from([1, 2, 9, 2, 5, 9, 9, 9, 2]);
  const r = otFromCostMatrix(cost, 3);
  assert.deepEqual(Array.from(r.rowToCol), [1, 0, 2]);
  assert.equal(r.cost, 2);
});

test('sampleW2 of known structures: Y = X + c gives |c|, a row permutation gives 0', () => {
  const rng = new Rng(123);
  const n = 400;
  const dim = 39;
  const x = rng.normals(n * dim);
  // Σ_i ‖x_i − x_σ(i) − c‖² = Σ‖x_i − x_σ(i)‖² + n‖c‖² for every σ (the cross term sums to 0),
  // so the identity is optimal and W2 = ‖c‖.
  const c = rng.normals(dim);
  const y = x.map((v, k) => v + c[k % dim]);
  const norm = Math.hypot(...c);
  assert.ok(Math.abs(sampleW2(x, y, n, dim) - norm) < 1e-9 * norm);
  const perm = rng.permutation(n);
  const z = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) z.set(x.subarray(perm[i] * dim, (perm[i] + 1) * dim), i * dim);
  assert.equal(sampleW2(z, x, n, dim), 0);
  const a = otFromCostMatrix(squaredEuclideanCostMatrix(z, x, n, dim), n);
  assert.deepEqual(a.rowToCol, perm);
});

test('meanFree: per-sample translations of 13-particle clusters are removed; inputs untouched', () => {
  const rng = new Rng(5);
  const n = 50;
  const layout = { nParticles: 13, spatialDim: 3 };
  const dim = 39;
  const x = rng.normals(n * dim);
  const moved = Float64Array.from(x);
  for (let i = 0; i < n; i++) {
    const shift = rng.normals(3);
    for (let a = 0; a < 13; a++) for (let d = 0; d < 3; d++) moved[i * dim + a * 3 + d] += 5 * shift[d];
  }
  const before = Float64Array.from(moved);
  assert.ok(sampleW2(x, moved, n, dim) > 1);
  assert.ok(sampleW2(x, moved, n, dim, { meanFree: layout }) < 1e-12);
  assert.deepEqual(moved, before);
  assert.throws(() => sampleW2(x, moved, n, dim, { meanFree: { nParticles: 12, spatialDim: 3 } }), /does not match dim 39/);
});

test('validates inputs', () => {
  assert.throws(() => linearSumAssignment(new Float64Array(5), 2), /cost matrix has 5 entries; expected \[2, 2\]/);
  assert.throws(() => linearSumAssignment(Float64Array.from([0, NaN, 1, 2]), 2), /cost matrix: 1 of 2 rows contain NaN/);
  assert.throws(() => linearSumAssignment(new Float64Array(0), 0), /positive integer/);
  assert.throws(() => squaredEuclideanCostMatrix([1, 2], [1], 2, 1), /second sample has 1 values; expected \[2, 1\]/);
});

test('n = 2000 in 39-D: optimal against 2-opt, timing reported', (t) => {
  const rng = new Rng(2000);
  const n = 2000;
  const dim = 39;
  const x = rng.normals(n * dim);
  const y = rng.normals(n * dim).map((v) => 1.2 * v + 0.1);
  const t0 = performance.now();
  const cost = squaredEuclideanCostMatrix(x, y, n, dim);
  const t1 = performance.now();
  const { rowToCol, totalCost } = linearSumAssignment(cost, n);
  const t2 = performance.now();
  t.diagnostic(`n=2000, dim=39: cost matrix ${(t1 - t0).toFixed(0)} ms, assignment ${(t2 - t1).toFixed(0)} ms, W2 = ${Math.sqrt(totalCost / n).toFixed(6)}`);
  // Necessary optimality condition: no exchange of partners between two rows lowers the cost.
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let k = i + 1; k < n; k++) {
      const gain = cost[i * n + rowToCol[i]] + cost[k * n + rowToCol[k]] - cost[i * n + rowToCol[k]] - cost[k * n + rowToCol[i]];
      worst = Math.max(worst, gain);
    }
  }
  assert.ok(worst < 1e-9, `a 2-exchange improves the cost by ${worst}`);
  // And it beats the identity matching by far (independent samples).
  let identity = 0;
  for (let i = 0; i < n; i++) identity += cost[i * n + i];
  assert.ok(totalCost < 0.9 * identity);
});
