/**
 * PITA's unit conversions (src/pita/units.ts, docs/algorithm.md §1.1): coordinate round trips, ℓ and
 * the reduced energy against hand-computed values, and the model-space score f = s·F/(k_B T) against a
 * central finite difference of ℓ(s·y) in the model coordinates y, on built-in targets with s ≠ 1,
 * T ≠ 1 and (ALDP) k_B ≠ 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { inverseTemperature, logDensity, modelScore, reducedEnergy, toModelCoordinates, toPhysicalCoordinates } from '../../src/pita/units.js';
import { createTarget } from '../../src/targets/index.js';

test('coordinates: x → x/s → x round trips (exactly for a power-of-two s), model coordinates are x/s', () => {
  const rng = new Rng(1);
  const x = Float64Array.from({ length: 64 }, () => 3 * rng.normal());
  const y = toModelCoordinates(x, 0.25);
  assert.equal(y[5], x[5] * 4);
  assert.deepEqual(toPhysicalCoordinates(y, 0.25), x);
  // s = 0.164 (ALDP): the round trip is off by at most one rounding of each operation.
  const back = toPhysicalCoordinates(toModelCoordinates(x, 0.164), 0.164);
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back[i] - x[i]) <= 2 * Number.EPSILON * Math.abs(x[i]), `row ${i}: ${back[i]} vs ${x[i]}`);
  // The inputs are not modified.
  assert.notEqual(y, x);
});

test('ℓ = −E/(k_B T) and E/(k_B T), with the target’s k_B', () => {
  const lj = createTarget('lj13');
  assert.deepEqual([...logDensity(lj, Float64Array.of(-40, 3), 2)], [20, -1.5]);
  assert.equal(reducedEnergy(lj, -40, 2), -20);
  const aldp = createTarget('aldp');
  // k_B = R = 0.008314462618 kJ/(mol K): at 300 K, k_B T ≈ 2.4943 kJ/mol.
  assert.ok(Math.abs(inverseTemperature(aldp, 300) - 1 / 2.4943387854) < 1e-9);
  assert.ok(Math.abs(logDensity(aldp, Float64Array.of(-24.943387854), 300)[0] - 10) < 1e-8);
});

for (const [name, s, T, tol] of [
  ['dw4', 0.5, 1.5, 1e-7],
  ['lj13', 0.7, 2, 1e-6],
  ['aldp', 0.164, 300, 1e-5],
] as const) {
  test(`${name}: the model score s·F/(k_B T) is the gradient of ℓ(s·y) in model coordinates y (s = ${s}, T = ${T})`, () => {
    const target = createTarget(name);
    const x = target.initialConfigurations(new Rng(7), 1);
    const y = toModelCoordinates(x, s);
    const { forces } = target.energyAndForces(toPhysicalCoordinates(y, s), 1);
    const f = modelScore(target, forces, T, s);
    // ℓ of the model point y, through the physical energy.
    const ell = (yy: Float64Array) => logDensity(target, target.energy(toPhysicalCoordinates(yy, s), 1), T)[0];
    const h = 1e-5;
    let worst = 0;
    let scale = 1;
    for (let i = 0; i < target.dim; i++) {
      const plus = Float64Array.from(y);
      const minus = Float64Array.from(y);
      plus[i] += h;
      minus[i] -= h;
      const fd = (ell(plus) - ell(minus)) / (2 * h);
      worst = Math.max(worst, Math.abs(f[i] - fd));
      scale = Math.max(scale, Math.abs(f[i]));
    }
    assert.ok(worst / scale < tol, `${name}: max |f − FD| / max|f| = ${worst / scale}`);
    // Without the factor s (the physical-space score F/(k_B T)) the check fails: the test can tell.
    const physical = modelScore(target, forces, T, 1);
    const k = physical.findIndex((v) => Math.abs(v) > 1e-3);
    assert.ok(Math.abs(physical[k] - f[k]) > 0.1 * Math.abs(f[k]), `${name}: s changes the score`);
  });
}
