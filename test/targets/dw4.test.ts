import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { maxCentroid } from '../../src/core/particles.js';
import { DoubleWellTarget, DW4_DEFAULTS } from '../../src/targets/dw4.js';
import { forceFdError } from './finite-difference.js';

const dw4 = (over: Partial<typeof DW4_DEFAULTS> = {}) => new DoubleWellTarget({ ...DW4_DEFAULTS, ...over });

// Square of side 4: four sides with d − d0 = 0 and two diagonals with u = d − d0 = 4√2 − 4.
const SQUARE = Float64Array.from([0, 0, 4, 0, 4, 4, 0, 4]);

test('square of side 4: E = 2(b·u² + c·u⁴) with u = 4√2 − 4, i.e. −8.396642530754047', () => {
  // By hand: u² = 16(3 − 2√2) = 2.745166, u⁴ = 256(17 − 12√2) = 7.535938, E = 2(−4·2.745166 + 0.9·7.535938).
  const e = dw4().energy(SQUARE)[0];
  assert.ok(Math.abs(e - -8.396642530754047) < 1e-12, `E = ${e}`);
  // The linear term and τ: E = (1/τ)·2(a·u + b·u² + c·u⁴) → −14.805059962117234 for a = 0.3, τ = 0.5.
  const e2 = dw4({ a: 0.3, tau: 0.5 }).energy(SQUARE)[0];
  assert.ok(Math.abs(e2 - -14.805059962117234) < 1e-12, `E = ${e2}`);
});

test('square of side 4: each corner is pulled toward the opposite corner with dE/dd(u) = 2b·u + 4c·u³ = 3.1191898578664627', () => {
  // Side pairs sit at u = 0 where dE/dd = a = 0, so only the diagonal acts.
  const { forces } = dw4().energyAndForces(SQUARE);
  const g = 3.1191898578664627 / Math.SQRT2;
  const expected = [g, g, -g, g, -g, -g, g, -g];
  forces.forEach((f, i) => assert.ok(Math.abs(f - expected[i]) < 1e-12, `component ${i}: ${f} vs ${expected[i]}`));
});

test('a pair in a well minimum d = d0 ± √(−b/(2c)) has zero force and energy −b²/(4c)', () => {
  const w = Math.sqrt(4 / 1.8);
  for (const d of [4 - w, 4 + w]) {
    const t = new DoubleWellTarget(DW4_DEFAULTS, 2, 2, 'dw2');
    const { energy, forces } = t.energyAndForces(Float64Array.from([0, 0, d, 0]));
    assert.ok(Math.abs(energy[0] - -16 / 3.6) < 1e-12, `E = ${energy[0]}`);
    forces.forEach((f) => assert.ok(Math.abs(f) < 1e-12));
  }
});

test('forces match central finite differences (rel. ∞-norm error ≤ 1e-6), default and non-default parameters', () => {
  const rng = new Rng(21);
  for (const t of [dw4(), dw4({ a: 0.3, b: -3, c: 1.1, d0: 3.5, tau: 0.7 })]) {
    const x = t.initialConfigurations(rng, 5);
    for (let c = 0; c < 5; c++) {
      const err = forceFdError(t, x.slice(c * 8, c * 8 + 8));
      assert.ok(err <= 1e-6, `${JSON.stringify(t.params)} config ${c}: FD error ${err}`);
    }
  }
});

test('energy is invariant under translation, rotation and reflection; forces transform covariantly', () => {
  const rng = new Rng(22);
  const t = dw4();
  const x = t.initialConfigurations(rng, 10);
  const ref = t.energyAndForces(x);
  const c = Math.cos(1.3);
  const s = Math.sin(1.3);
  for (const reflect of [1, -1]) {
    const y = new Float64Array(x.length);
    for (let p = 0; p < x.length; p += 2) {
      y[p] = c * x[p] - s * reflect * x[p + 1] + 7.5;
      y[p + 1] = s * x[p] + c * reflect * x[p + 1] - 3;
    }
    const r = t.energyAndForces(y);
    for (let i = 0; i < 10; i++) assert.ok(Math.abs(r.energy[i] - ref.energy[i]) < 1e-10 * Math.max(1, Math.abs(ref.energy[i])));
    for (let p = 0; p < x.length; p += 2) {
      assert.ok(Math.abs(r.forces[p] - (c * ref.forces[p] - s * reflect * ref.forces[p + 1])) < 1e-9);
      assert.ok(Math.abs(r.forces[p + 1] - (s * ref.forces[p] + c * reflect * ref.forces[p + 1])) < 1e-9);
    }
  }
});

test('initialConfigurations: mean-free N(0, 2²I) draws', () => {
  const t = dw4();
  const n = 20_000;
  const x = t.initialConfigurations(new Rng(23), n);
  assert.ok(maxCentroid(x, n, 4, 2) < 1e-12);
  // After centring, each coordinate has variance 4·(1 − 1/4) = 3. A row's sum of squares is 4·χ²₆ (8 coordinates
  // minus 2 centroid constraints), variance 16·12, so the mean of x² over 8n entries has sd √(192/(64n)) = 0.0122;
  // the tolerance 0.1 is about 8 sd.
  const v = x.reduce((a, b) => a + b * b, 0) / x.length;
  assert.ok(Math.abs(v - 3) < 0.1, `variance ${v}`);
});

test('constructor rejects bad parameters', () => {
  assert.throws(() => dw4({ tau: 0 }), /tau must be positive, got 0/);
  assert.throws(() => dw4({ c: Number.NaN }), /option c must be a finite number, got NaN/);
  assert.throws(() => dw4().energy(new Float64Array(9)), /batch of length 9 is not \[n, 8\]/);
});
