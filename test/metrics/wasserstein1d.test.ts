import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { NonFiniteError } from '../../src/core/errors.js';
import { energyW1, energyW2, wasserstein1d, wasserstein2_1d, wassersteinPower1d } from '../../src/metrics/wasserstein1d.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('hand-computed cases, equal and unequal sizes', () => {
  // Equal sizes pair sorted values: {1,2,3} vs {4,5,9}: |diffs| 3, 3, 6.
  close(wasserstein1d([3, 1, 2], [5, 9, 4]), 4);
  close(wassersteinPower1d([3, 1, 2], [5, 9, 4], 2), 18);
  // {0,1} vs {0,0.5,1}: quantile functions differ by 0.5 on (1/3, 2/3), elsewhere 0.
  close(wasserstein1d([0, 1], [0, 0.5, 1]), 1 / 6);
  close(wasserstein2_1d([0, 1], [0, 0.5, 1]), Math.sqrt(1 / 12));
  // {0} vs {1,2,3}: every quantile of the first is 0.
  close(wasserstein1d([0], [1, 2, 3]), 2);
  close(wassersteinPower1d([0], [1, 2, 3], 2), 14 / 3);
  // {0,10} vs {1,2,3}: pieces (0,1/3] |0−1|, (1/3,1/2] |0−2|, (1/2,2/3] |10−2|, (2/3,1] |10−3|.
  close(wasserstein1d([0, 10], [1, 2, 3]), 1 / 3 + 2 / 6 + 8 / 6 + 7 / 3);
  close(wassersteinPower1d([0, 10], [1, 2, 3], 2), 1 / 3 + 4 / 6 + 64 / 6 + 49 / 3);
  close(wassersteinPower1d([0, 10], [1, 2, 3], 3), 1 / 3 + 8 / 6 + 512 / 6 + 343 / 3);
  close(energyW1([0, 1], [0, 0.5, 1]), 1 / 6);
  close(energyW2([0, 1], [0, 0.5, 1]), Math.sqrt(1 / 12));
});

test('unequal sizes agree with the equal-size expansion (each a_i repeated m times, each b_j n times)', () => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 20; trial++) {
    const n = 1 + rng.int(9);
    const m = 1 + rng.int(9);
    const a = Array.from(rng.normals(n));
    const b = Array.from(rng.uniforms(m, -2, 3));
    const ea = a.flatMap((v) => Array(m).fill(v)).sort((p, q) => p - q);
    const eb = b.flatMap((v) => Array(n).fill(v)).sort((p, q) => p - q);
    for (const p of [1, 2]) {
      const direct = ea.reduce((s, v, k) => s + Math.abs(v - eb[k]) ** p, 0) / (n * m);
      close(wassersteinPower1d(a, b, p), direct, 1e-12);
    }
  }
});

test('shift invariance W_p(X, X + c) = |c|, symmetry, zero self-distance, inputs untouched', () => {
  const rng = new Rng(3);
  const x = rng.normals(1000);
  const copy = Float64Array.from(x);
  for (const c of [0.7, -2.5]) {
    const y = x.map((v) => v + c);
    close(wasserstein1d(x, y), Math.abs(c), 1e-12);
    close(wasserstein2_1d(x, y), Math.abs(c), 1e-12);
  }
  assert.deepEqual(x, copy);
  assert.equal(wasserstein2_1d(x, x), 0);
  const a = rng.normals(37);
  const b = rng.uniforms(53, 0, 2);
  close(wasserstein1d(a, b), wasserstein1d(b, a), 1e-14);
  close(wasserstein2_1d(a, b), wasserstein2_1d(b, a), 1e-14);
});

test('rejects empty samples, non-finite values and bad orders', () => {
  assert.throws(() => wasserstein1d([], [1]), /first sample is empty/);
  assert.throws(() => wasserstein1d([1, NaN], [1]), (e: Error) => e instanceof NonFiniteError && /first sample\[1\] is NaN/.test(e.message));
  assert.throws(() => energyW2([1], [Infinity]), /second sample\[0\] is Infinity/);
  assert.throws(() => wassersteinPower1d([1], [2], 0.5), /p must be a finite number ≥ 1, got 0.5/);
});
