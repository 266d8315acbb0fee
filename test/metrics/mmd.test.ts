import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { medianPairwiseDistance, mmd2, mmd2MultiScale, mmd2Rbf } from '../../src/metrics/mmd.js';

const close = (a: number, b: number, tol = 1e-14) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('2 vs 2 points, h = 1: biased (1 − e^−½)/2, unbiased (e^−2 − 1)/2', () => {
  // x = {0, 1}, y = {0, 2}, k(d) = exp(−d²/2): k(1) = a = e^−½, k(2) = b = e^−2.
  // Biased: (2+2a)/4 + (2+2b)/4 − 2(1+b+2a)/4 = (1−a)/2.
  // Unbiased: a + b − 2(1+b+2a)/4 = (b−1)/2 (negative: the estimator is unbiased, not non-negative).
  const x = [0, 1];
  const y = [0, 2];
  close(mmd2Rbf(x, 2, y, 2, 1, { bandwidth: 1 }).mmd2, (1 - Math.exp(-0.5)) / 2);
  close(mmd2Rbf(x, 2, y, 2, 1, { bandwidth: 1, estimator: 'unbiased' }).mmd2, (Math.exp(-2) - 1) / 2);
  // h = 2 scales the exponents by 1/4: k(1) = e^−1/8.
  close(mmd2Rbf(x, 2, y, 2, 1, { bandwidth: 2 }).mmd2, (1 - Math.exp(-1 / 8)) / 2);
});

test('median heuristic: median of unsquared pooled pair distances', () => {
  // Pooled {0, 1, 0, 2}: distances 1, 0, 2, 1, 1, 2 → sorted 0 1 1 1 2 2 → median (1+1)/2 = 1.
  assert.equal(medianPairwiseDistance([0, 1], 2, [0, 2], 2, 1), 1);
  const r = mmd2Rbf([0, 1], 2, [0, 2], 2, 1);
  assert.equal(r.bandwidth, 1);
  close(r.mmd2, (1 - Math.exp(-0.5)) / 2);
  // 2-D, odd pair count: pooled (0,0), (3,4), (0,1): distances 5, 1, √18 → median √18.
  close(medianPairwiseDistance([0, 0, 3, 4], 2, [0, 1], 1, 2), Math.sqrt(18));
  // Strided subset: 6 pooled points, 3 kept at indices 0, 2, 4 → {0, 1, 2} → distances 1, 2, 1 → median 1.
  assert.equal(medianPairwiseDistance([0, 10, 1, 11], 4, [2, 12], 2, 1, 3), 1);
  assert.equal(medianPairwiseDistance([0, 10, 1, 11], 4, [2, 12], 2, 1), 9); // full: 15 distances 1 1 1 1 2 8 9 9 9 9 10 10 11 11 12 → 9
});

test('multi-scale kernel of spec §3.4: x = {0}, y = {1} gives 2·Σk(0) − 2·Σk(1)', () => {
  const sigmas = [0.01, 0.1, 1, 10, 100];
  const k1 = sigmas.reduce((s, sg) => s + Math.exp(-1 / (2 * sg * sg)), 0);
  close(mmd2MultiScale([0], 1, [1], 1, 1), 2 * 5 - 2 * k1, 1e-13);
  close(mmd2MultiScale([0], 1, [1], 1, 1, { sigmas: [1] }), 2 - 2 * Math.exp(-0.5));
});

test('identical samples: biased MMD² is 0, unbiased lies in [−2/(n−1), 0]', () => {
  // For X = Y with S = Σ_{i,j} k(x_i, x_j): biased = S/n² + S/n² − 2S/n² = 0;
  // unbiased = 2(S − n²)/(n²(n−1)) ∈ [−2/(n−1), 0] since 0 < k ≤ 1.
  const n = 100;
  const x = new Rng(5).normals(n * 3);
  const b = mmd2Rbf(x, n, x, n, 3).mmd2;
  assert.ok(Math.abs(b) < 1e-14, `biased ${b}`);
  const u = mmd2Rbf(x, n, x, n, 3, { estimator: 'unbiased' }).mmd2;
  assert.ok(u <= 1e-14 && u >= -2 / (n - 1), `unbiased ${u}`);
});

test('independent samples of one Gaussian give MMD² ≈ 0; shifted Gaussians give larger MMD²', () => {
  // n = 300 per side in 2-D, median bandwidth. Over 30 seeds (measured when
  // writing this test) the null unbiased MMD² had mean 1.6e-4 and sd 2.5e-3,
  // and the biased one mean 3.0e-3 (≈ 2(1 − E k)/n) and sd 2.5e-3, so 0.0125
  // (5 sd) and 0.02 (mean + 7 sd) bound them. A shift of 1 (2) per coordinate
  // gave 0.21 ± 0.025 (0.60 ± 0.03), far above those bounds.
  const n = 300;
  const dim = 2;
  const rng = new Rng(2024);
  const x = rng.normals(n * dim);
  const y = rng.normals(n * dim);
  const nullBiased = mmd2Rbf(x, n, y, n, dim).mmd2;
  const nullUnbiased = mmd2Rbf(x, n, y, n, dim, { estimator: 'unbiased' }).mmd2;
  assert.ok(nullBiased >= 0 && nullBiased < 0.02, `biased ${nullBiased}`);
  assert.ok(Math.abs(nullUnbiased) < 0.0125, `unbiased ${nullUnbiased}`);
  const shifted = (c: number) => mmd2Rbf(x, n, y.map((v) => v + c), n, dim).mmd2;
  const m1 = shifted(1);
  const m2 = shifted(2);
  assert.ok(m1 > 0.1 && m2 > m1 + 0.2, `shift 1: ${m1}, shift 2: ${m2}`);
});

test('validates inputs', () => {
  assert.throws(() => mmd2Rbf([0, 1, 2], 2, [0, 1], 2, 1), /first sample has 3 values; expected \[2, 1\]/);
  assert.throws(() => mmd2Rbf([0], 1, [0], 1, 1, { estimator: 'unbiased', bandwidth: 1 }), /at least 2 samples per side/);
  assert.throws(() => mmd2Rbf([0, 1], 2, [1], 1, 1, { bandwidth: 0 }), /bandwidth must be positive and finite, got 0/);
  assert.throws(() => mmd2Rbf([0, 1], 2, [NaN, 1], 2, 1), /second sample: 1 of 2 rows contain NaN/);
  assert.throws(() => mmd2([0], 1, [1], 1, 1, (d) => d, 'exact' as never), /'biased' or 'unbiased'/);
  assert.throws(() => mmd2MultiScale([0], 1, [1], 1, 1, { sigmas: [1, -1] }), /positive finite bandwidths/);
});

test('coinciding points: MMD² 0 when all coincide, else the median of the distinct pairs as bandwidth', () => {
  // Two identical one-row sets (pita eval on them used to throw a RangeError).
  assert.deepEqual(mmd2Rbf([1, 1], 1, [1, 1], 1, 2), { mmd2: 0, bandwidth: 1 });
  assert.deepEqual(mmd2Rbf([1, 1], 2, [1], 1, 1), { mmd2: 0, bandwidth: 1 });
  // Pooled [0, 0, 0, 3]: pair distances 0, 0, 0, 3, 3, 3 have median 1.5 (> 0, kept); [0, 0, 0, 0, 2]: median 0 → distinct pairs' median 2.
  assert.equal(mmd2Rbf([0, 0], 2, [0, 3], 2, 1).bandwidth, 1.5);
  assert.equal(mmd2Rbf([0, 0, 0], 3, [0, 2], 2, 1).bandwidth, 2);
});
