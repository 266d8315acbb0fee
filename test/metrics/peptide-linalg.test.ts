import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { matMul, symmetricEigen, transpose } from '../../src/metrics/linalg.js';

function randomSymmetric(n: number, rng: Rng): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rng.normal();
  }
  return a;
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** V·diag(λ)·Vᵀ */
function reconstruct(values: Float64Array, vectors: Float64Array, n: number): Float64Array {
  const scaled = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) scaled[r * n + c] = vectors[r * n + c] * values[c];
  return matMul(scaled, transpose(vectors, n, n), n, n, n);
}

test('Jacobi: hand 3×3 tridiagonal [[2,−1,0],[−1,2,−1],[0,−1,2]]', () => {
  // Eigenvalues 2 + √2, 2, 2 − √2 with eigenvectors (1, −√2, 1)/2, (1, 0, −1)/√2, (1, √2, 1)/2.
  const a = Float64Array.from([2, -1, 0, -1, 2, -1, 0, -1, 2]);
  const { values, vectors } = symmetricEigen(a, 3);
  const s2 = Math.SQRT2;
  const expected = [
    [2 + s2, [0.5, -s2 / 2, 0.5]],
    [2, [1 / s2, 0, -1 / s2]],
    [2 - s2, [0.5, s2 / 2, 0.5]],
  ] as const;
  expected.forEach(([lambda, v], c) => {
    assert.ok(Math.abs(values[c] - lambda) < 1e-14, `λ${c} = ${values[c]}, expected ${lambda}`);
    const col = [vectors[c], vectors[3 + c], vectors[6 + c]];
    const dot = col[0] * v[0] + col[1] * v[1] + col[2] * v[2]; // ±1 (sign is free)
    assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-14, `eigenvector ${c} = ${col}, expected ±${v}`);
  });
});

test('Jacobi: diagonal and block input give exact results, descending order', () => {
  const a = Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 5]); // blocks: {3, 1} and {5}
  const { values, vectors } = symmetricEigen(a, 3);
  assert.deepEqual(Array.from(values).map((v) => Math.round(v * 1e12) / 1e12), [5, 3, 1]);
  assert.equal(Math.abs(vectors[2 * 3 + 0]), 1); // λ = 5 ↔ e3 exactly: untouched by any rotation
  const one = symmetricEigen(Float64Array.from([-7]), 1);
  assert.equal(one.values[0], -7);
  assert.equal(one.vectors[0], 1);
});

test('Jacobi: random symmetric 50×50 reconstructs A and V is orthonormal', () => {
  const n = 50;
  const a = randomSymmetric(n, new Rng(42));
  const { values, vectors, sweeps } = symmetricEigen(a, n);
  let maxA = 0;
  for (const v of a) maxA = Math.max(maxA, Math.abs(v));
  // Backward-stable Jacobi: ‖VΛVᵀ − A‖ is a small multiple of n·ε·‖A‖ (here ≈ 1e-14·‖A‖ observed).
  assert.ok(maxAbsDiff(reconstruct(values, vectors, n), a) < 1e-12 * maxA, 'reconstruction error');
  const identity = new Float64Array(n * n);
  for (let i = 0; i < n; i++) identity[i * n + i] = 1;
  assert.ok(maxAbsDiff(matMul(transpose(vectors, n, n), vectors, n, n, n), identity) < 1e-13, 'VᵀV = I');
  for (let i = 1; i < n; i++) assert.ok(values[i] <= values[i - 1], 'descending');
  let trace = 0;
  for (let i = 0; i < n; i++) trace += a[i * n + i];
  assert.ok(Math.abs(values.reduce((s, v) => s + v, 0) - trace) < 1e-11);
  assert.ok(sweeps >= 4 && sweeps < 20, `sweeps ${sweeps}`);
});

test('Jacobi: 150×150 (the largest TICA feature size in practice) is accurate and fast', () => {
  const n = 150;
  const a = randomSymmetric(n, new Rng(7));
  const t0 = performance.now();
  const { values, vectors } = symmetricEigen(a, n);
  const ms = performance.now() - t0;
  assert.ok(maxAbsDiff(reconstruct(values, vectors, n), a) < 1e-11, 'reconstruction error');
  assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms`);
});

test('Jacobi: rank-deficient PSD matrix gives zero eigenvalues to ~ε', () => {
  // A = B·Bᵀ with B [6, 2]: rank 2, so four eigenvalues are 0.
  const b = new Rng(3).normals(12);
  const a = matMul(b, transpose(b, 6, 2), 6, 2, 6);
  const { values } = symmetricEigen(a, 6);
  for (let i = 2; i < 6; i++) assert.ok(Math.abs(values[i]) < 1e-14 * values[0], `λ${i} = ${values[i]}`);
  assert.ok(values[1] > 1e-3);
});

test('Jacobi: rejects asymmetric, non-finite and misshaped input', () => {
  assert.throws(() => symmetricEigen(Float64Array.from([1, 2, 3, 1]), 2), /not symmetric/);
  assert.throws(() => symmetricEigen(Float64Array.from([1, NaN, NaN, 1]), 2), /NaN or Inf/);
  assert.throws(() => symmetricEigen(Float64Array.from([1, 0, 0]), 2), /shape \[2, 2\] needs 4/);
  assert.throws(() => symmetricEigen(new Float64Array(0), 0), /positive integer/);
});

test('matMul and transpose: hand values', () => {
  const a = Float64Array.from([1, 2, 3, 4, 5, 6]); // [2, 3]
  const b = Float64Array.from([7, 8, 9, 10, 11, 12]); // [3, 2]
  assert.deepEqual(Array.from(matMul(a, b, 2, 3, 2)), [58, 64, 139, 154]);
  assert.deepEqual(Array.from(transpose(a, 2, 3)), [1, 4, 2, 5, 3, 6]);
  assert.throws(() => matMul(a, b, 3, 2, 2), /shape \[2, 2\] needs 4/);
});
