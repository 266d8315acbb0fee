import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/targets/gaussian.js';
import { Rng } from '../../src/core/rng.js';
import { UserError } from '../../src/core/errors.js';
import { createTarget } from '../../src/targets/registry.js';
import { GaussianTarget, GAUSSIAN2D_COVARIANCE } from '../../src/targets/gaussian.js';

test('gaussian2d: energy ½xᵀΣ⁻¹x with the analytic precision, forces match central differences', () => {
  const t = createTarget('gaussian2d');
  assert.ok(t instanceof GaussianTarget);
  assert.equal(t.dim, 2);
  assert.equal(t.translationInvariant, false);
  // Σ⁻¹ = [[1, −0.8], [−0.8, 1]] / 0.36.
  const p = [1 / 0.36, -0.8 / 0.36, -0.8 / 0.36, 1 / 0.36];
  t.precision.forEach((v, i) => assert.ok(Math.abs(v - p[i]) < 1e-12, `precision[${i}] = ${v}`));
  const x = Float64Array.from([0.3, -1.2, 2, 1.5]);
  const { energy, forces } = t.energyAndForces(x);
  for (let i = 0; i < 2; i++) {
    const a = x[2 * i];
    const b = x[2 * i + 1];
    const e = 0.5 * (p[0] * a * a + 2 * p[1] * a * b + p[3] * b * b);
    assert.ok(Math.abs(energy[i] - e) < 1e-12);
    for (let j = 0; j < 2; j++) {
      const h = 1e-5;
      const xp = x.slice(2 * i, 2 * i + 2);
      const xm = xp.slice();
      xp[j] += h;
      xm[j] -= h;
      const fd = -(t.energy(xp)[0] - t.energy(xm)[0]) / (2 * h);
      // Central differences of a quadratic are exact up to rounding (≈ ε·E/h ≈ 1e-10).
      assert.ok(Math.abs(forces[2 * i + j] - fd) < 1e-8, `force ${i},${j}: ${forces[2 * i + j]} vs ${fd}`);
    }
  }
  assert.equal(t.counter.total, 2 + 8);
});

test('gaussian: mean shifts the energy minimum; exact samples have mean μ and covariance T·Σ (5σ)', () => {
  const t = new GaussianTarget(
    [
      [2, 0.5, 0],
      [0.5, 1, -0.3],
      [0, -0.3, 0.5],
    ],
    [1, -2, 0.5],
  );
  assert.equal(t.energy(Float64Array.from([1, -2, 0.5]))[0], 0);
  const T = 1.7;
  const n = 100_000;
  const x = t.sampleExact(new Rng(9), n, T);
  for (let i = 0; i < 3; i++) {
    let m = 0;
    for (let k = 0; k < n; k++) m += x[3 * k + i] / n;
    // sd of the sample mean: √(TΣ_ii/n).
    assert.ok(Math.abs(m - t.mean[i]) < 5 * Math.sqrt((T * t.covariance[4 * i]) / n));
    for (let j = 0; j <= i; j++) {
      let c = 0;
      for (let k = 0; k < n; k++) c += ((x[3 * k + i] - t.mean[i]) * (x[3 * k + j] - t.mean[j])) / n;
      // Var of a Gaussian product moment: (Σ_ii Σ_jj + Σ_ij²)T²/n.
      const cov = (a: number, b: number): number => t.covariance[3 * a + b];
      const sd = T * Math.sqrt((cov(i, i) * cov(j, j) + cov(i, j) ** 2) / n);
      assert.ok(Math.abs(c - T * cov(i, j)) < 5 * sd, `cov ${i},${j}: ${c} vs ${T * cov(i, j)}`);
    }
  }
});

test('gaussian: invalid covariance, mean or options are UserErrors naming the problem', () => {
  assert.throws(() => new GaussianTarget([[1, 2], [2, 1]]), /not positive definite/);
  assert.throws(() => new GaussianTarget([[1, 0.5], [0.4, 1]]), /not symmetric/);
  assert.throws(() => new GaussianTarget([[1, 0], [0]]), /row 1 has 1 entries; expected 2/);
  assert.throws(() => new GaussianTarget(GAUSSIAN2D_COVARIANCE, [0, 0, 0]), /mean has 3 entries; expected 2/);
  assert.throws(() => createTarget('gaussian2d', { scale: 2 }), (e: Error) => e instanceof UserError && /unknown option 'scale'/.test(e.message));
  assert.throws(() => createTarget('gaussian2d', { covariance: [[1]] }), /2×2/);
  const t = createTarget('gaussian2d', { covariance: [[2, 0], [0, 3]], mean: [1, 1] });
  assert.ok(Math.abs(t.energy(Float64Array.from([3, 1]))[0] - 1) < 1e-15); // ½·2²/2
  assert.throws(() => t.sampleExact!(new Rng(1), 3, 0), UserError);
  const x0 = t.initialConfigurations(new Rng(1), 1000);
  assert.ok(x0.every((v, i) => Math.abs(v - 1) <= 3 * Math.sqrt(i % 2 === 0 ? 2 : 3)));
});
