import { test } from 'node:test';
import assert from 'node:assert/strict';
import { minimize } from '../../src/md/minimize.js';

test('L-BFGS finds the minimum of the Rosenbrock function', () => {
  // E = (1−x)² + 100(y−x²)², minimum 0 at (1, 1).
  const f = (v: Float64Array) => {
    const [x, y] = v;
    const energy = (1 - x) ** 2 + 100 * (y - x * x) ** 2;
    const gx = -2 * (1 - x) - 400 * x * (y - x * x);
    const gy = 200 * (y - x * x);
    return { energy, forces: Float64Array.of(-gx, -gy) };
  };
  const r = minimize(f, Float64Array.of(-1.2, 1), { forceTolerance: 1e-8, maxIterations: 500, maxStep: 1 });
  assert.ok(r.converged, `not converged: rms ${r.rmsForce}`);
  assert.ok(Math.abs(r.x[0] - 1) < 1e-6 && Math.abs(r.x[1] - 1) < 1e-6, `x = ${r.x}`);
  assert.ok(r.energy < 1e-12);
});

test('L-BFGS solves an ill-conditioned quadratic exactly', () => {
  // E = ½ Σ k_i (x_i − c_i)², k from 1 to 1000.
  const k = Float64Array.from({ length: 20 }, (_, i) => 10 ** (3 * i / 19));
  const c = Float64Array.from({ length: 20 }, (_, i) => Math.sin(i));
  const f = (v: Float64Array) => {
    let energy = 0;
    const forces = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      energy += 0.5 * k[i] * (v[i] - c[i]) ** 2;
      forces[i] = -k[i] * (v[i] - c[i]);
    }
    return { energy, forces };
  };
  const r = minimize(f, new Float64Array(20), { forceTolerance: 1e-10, maxStep: 10, maxIterations: 5000 });
  assert.ok(r.converged);
  // |x_i − c_i| = |F_i|/k_i ≤ √20·rms/min k ≤ 4.5e-10.
  for (let i = 0; i < 20; i++) assert.ok(Math.abs(r.x[i] - c[i]) < 5e-10, `coordinate ${i}: ${r.x[i]} vs ${c[i]}`);
});
