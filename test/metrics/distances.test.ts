import { test } from 'node:test';
import assert from 'node:assert/strict';
import { distanceW2, pairDistances } from '../../src/metrics/distances.js';

const layout = { nParticles: 3, spatialDim: 3 };

test('pair distances of a 3-4-5 triangle, in (0,1), (0,2), (1,2) order', () => {
  assert.deepEqual(Array.from(pairDistances([0, 0, 0, 3, 0, 0, 0, 4, 0], 1, layout)), [3, 4, 5]);
});

test('distance W2, hand case with 3 particles: pooled {3,4,5} vs {1,1,2} gives sqrt((4+9+9)/3)', () => {
  const triangle = [0, 0, 0, 3, 0, 0, 0, 4, 0];
  const line = [0, 0, 0, 1, 0, 0, 2, 0, 0]; // distances 1, 2, 1
  const expected = Math.sqrt(22 / 3);
  assert.ok(Math.abs(distanceW2(triangle, 1, line, 1, layout) - expected) < 1e-15);
  // A second, rotated and translated copy of the triangle duplicates the pooled
  // set {3,4,5}: its quantile function, hence W2, is unchanged (and nx ≠ ny).
  const moved = [10, 10, 10, 10, 13, 10, 6, 10, 10]; // rotated 90° about z, then shifted
  assert.deepEqual(Array.from(pairDistances(moved, 1, layout)), [3, 4, 5]);
  assert.ok(Math.abs(distanceW2([...triangle, ...moved], 2, line, 1, layout) - expected) < 1e-15);
  assert.equal(distanceW2(line, 1, line, 1, layout), 0);
});

test('distance W2 validates shapes and values', () => {
  assert.throws(() => distanceW2([0, 0, 0], 1, [0, 0, 0], 1, { nParticles: 1, spatialDim: 3 }), /at least 2 particles/);
  assert.throws(() => pairDistances([0, 0, 0, 1], 1, layout), /samples has 4 values; expected \[1, 9\]/);
  assert.throws(() => pairDistances([0, 0, 0, 1, 0, 0, NaN, 0, 0], 1, layout), /rows contain NaN/);
});
