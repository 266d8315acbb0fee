import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveSampleFraction as essFraction, effectiveSampleSize as essFromLogWeights, normalizedWeights } from '../../src/core/logweights.js';

test('uniform weights give N, one-hot gives 1, at any log offset', () => {
  assert.equal(essFromLogWeights(new Float64Array(64).fill(1000)), 64);
  assert.equal(essFromLogWeights(new Float64Array(64).fill(-1e6)), 64);
  assert.equal(essFraction(new Float64Array(64).fill(3)), 1);
  assert.equal(essFromLogWeights([0, -Infinity, -Infinity]), 1);
  assert.equal(essFraction([-Infinity, 7, -Infinity, -Infinity]), 0.25);
  // A weight e^-1000 below the other is numerically zero: ESS 1.
  assert.equal(essFromLogWeights([0, -1000]), 1);
});

test('two weights 1 and 3: w̄ = (1/4, 3/4), ESS = 1/(1/16 + 9/16) = 1.6', () => {
  // At offset ±1e5, rounding offset + ln 3 changes the log-ratio by up to
  // ulp(1e5)/2 ≈ 7e-12, so the values are compared to 1e-10 there.
  for (const offset of [0, 1e5, -1e5]) {
    const tol = offset === 0 ? 1e-15 : 1e-10;
    const logW = [offset, offset + Math.log(3)];
    assert.ok(Math.abs(essFromLogWeights(logW) - 1.6) < tol);
    assert.ok(Math.abs(essFraction(logW) - 0.8) < tol);
    const w = normalizedWeights(logW);
    assert.ok(Math.abs(w[0] - 0.25) < tol && Math.abs(w[1] - 0.75) < tol);
  }
});

test('rejects NaN, +Inf, all-zero weights and empty input', () => {
  assert.throws(() => essFromLogWeights([0, NaN, Infinity]), /2 of 3 log-weights are NaN or \+Inf \(indices 1, 2\)/);
  assert.throws(() => essFromLogWeights([-Infinity, -Infinity]), /all 2 log-weights are −Inf/);
  assert.throws(() => essFromLogWeights([]), /at least one/);
});
