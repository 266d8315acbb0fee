import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { equalSizeSubsample, torusW2, wrappedAngleDistance } from '../../src/metrics/torus.js';

const TWO_PI = 2 * Math.PI;

test('wrapped angle distance: across ±π and multiples of 2π', () => {
  assert.ok(Math.abs(wrappedAngleDistance(Math.PI - 0.1, -Math.PI + 0.1) - 0.2) < 1e-14);
  assert.ok(Math.abs(wrappedAngleDistance(0.3, 0.3 + 6 * Math.PI) - 0) < 1e-14);
  assert.ok(Math.abs(wrappedAngleDistance(-1, 2.5) - (TWO_PI - 3.5)) < 1e-14);
  assert.equal(wrappedAngleDistance(0, Math.PI), Math.PI);
});

test('torus W2: one point each across the ±π seam is 0.2 apart', () => {
  const w = torusW2(Float64Array.from([Math.PI - 0.1]), 1, Float64Array.from([-Math.PI + 0.1]), 1, 1);
  assert.ok(Math.abs(w - 0.2) < 1e-14, `${w}`);
});

test('torus W2: shifting a set by 2π (any coordinate, any multiple) gives 0', () => {
  const rng = new Rng(1);
  const a = rng.uniforms(2 * 300, -Math.PI, Math.PI);
  const b = a.map((v, i) => v + (i % 2 === 0 ? TWO_PI : -4 * Math.PI));
  assert.ok(torusW2(a, 300, b, 300, 2) < 1e-6); // per-entry rounding of v ± 4π is ~1e-15; sqrt of its square-sum mean
  assert.equal(torusW2(a, 300, a, 300, 2), 0);
});

test('torus W2: wrap-around changes the optimal assignment (hand case)', () => {
  // a = {0.1, 3.0}, b = {−3.0, 0.2}. On the torus the best pairing is 0.1↔0.2 (0.1) and 3.0↔−3.0
  // (2π − 6); on the line it would be 0.1↔−3.0 and 3.0↔0.2.
  const a = Float64Array.from([0.1, 3.0]);
  const b = Float64Array.from([-3.0, 0.2]);
  const expected = Math.sqrt((0.1 ** 2 + (TWO_PI - 6) ** 2) / 2);
  assert.ok(Math.abs(torusW2(a, 2, b, 2, 1) - expected) < 1e-14);
});

test('torus W2: 2-D hand case sums squared wrapped distances over dimensions', () => {
  // One point each: Δφ wraps to 0.3, Δψ = 0.4 → W2 = 0.5.
  const w = torusW2(Float64Array.from([3.0, 0.1]), 1, Float64Array.from([-TWO_PI + 3.3, 0.5]), 1, 2);
  assert.ok(Math.abs(w - 0.5) < 1e-14, `${w}`);
});

test('torus W2: a cluster translated across the seam is |δ| away', () => {
  // Points within a box of side 0.6 around (π − 0.1, 0), translated by δ = (0.3, −0.4). Every
  // coordinate difference (taken the short way round) is below π, so the torus cost equals the
  // Euclidean cost of the unwrapped points, and the W2 between a set and its translate is |δ| = 0.5
  // (Jensen: W2 ≥ |mean shift|, attained by the identity pairing). On the line, without wrapping,
  // the translated points that crossed π would sit near −π instead.
  const rng = new Rng(9);
  const n = 200;
  const a = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    a[2 * i] = Math.PI - 0.1 + rng.uniform() * 0.6 - 0.3;
    a[2 * i + 1] = rng.uniform() * 0.6 - 0.3;
  }
  const b = a.map((v, i) => (i % 2 === 0 ? v + 0.3 : v - 0.4));
  const wrapped = b.map((v) => v - 2 * Math.PI * Math.floor((v + Math.PI) / (2 * Math.PI))); // into [−π, π)
  assert.ok(wrapped.some((v, i) => i % 2 === 0 && v < 0), 'some points crossed the seam');
  assert.ok(Math.abs(torusW2(a, n, wrapped, n, 2) - 0.5) < 1e-12);
});

test('torus W2: unequal sizes and > maxPoints use seeded subsamples', () => {
  const rng = new Rng(2);
  const a = rng.uniforms(50, -Math.PI, Math.PI);
  const b = rng.uniforms(80, -Math.PI, Math.PI);
  const w1 = torusW2(a, 50, b, 80, 1, { seed: 4 });
  assert.equal(torusW2(a, 50, b, 80, 1, { seed: 4 }), w1, 'same seed, same value');
  const { a: ia, b: ib } = equalSizeSubsample(50, 80, { seed: 4 });
  assert.deepEqual(Array.from(ia), Array.from({ length: 50 }, (_, i) => i));
  assert.equal(new Set(ib).size, 50);
  assert.ok(Array.from(ib).every((i) => i >= 0 && i < 80));
  const capped = equalSizeSubsample(50, 80, { maxPoints: 10, seed: 1 });
  assert.equal(capped.a.length, 10);
  assert.equal(capped.b.length, 10);
  assert.throws(() => torusW2(a, 50, b, 80, 2), /shape \[50, 2\] needs 100/);
  assert.throws(() => equalSizeSubsample(0, 3), /at least one sample/);
  assert.throws(() => equalSizeSubsample(3, 3, { maxPoints: 0 }), /maxPoints/);
});
