import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { NonFiniteError, UserError } from '../../src/core/errors.js';
import {
  effectiveSampleFraction,
  effectiveSampleSize,
  logSumExp,
  multinomialResample,
  normalizedWeights,
  systematicResample,
  uniqueCount,
} from '../../src/samplers/smc.js';

test('logSumExp is exact on small inputs and stable for large and very negative values', () => {
  assert.ok(Math.abs(logSumExp([0, 0]) - Math.log(2)) < 1e-15);
  assert.ok(Math.abs(logSumExp([1, 2, 3]) - Math.log(Math.E + Math.E ** 2 + Math.E ** 3)) < 1e-14);
  // exp(1000) overflows; the shifted form gives 1000 + log 2 (exactly representable sum).
  assert.equal(logSumExp([1000, 1000]), 1000 + Math.log(2));
  assert.equal(logSumExp([-1000, -1000]), -1000 + Math.log(2));
  assert.ok(Math.abs(logSumExp([1e308, 0]) - 1e308) === 0);
  assert.equal(logSumExp([-Infinity, 5]), 5);
  assert.equal(logSumExp([-Infinity, -Infinity]), -Infinity);
  assert.equal(logSumExp([]), -Infinity);
  assert.throws(() => logSumExp([0, NaN]), NonFiniteError);
  assert.throws(() => logSumExp([0, Infinity]), NonFiniteError);
});

test('normalised weights are the softmax and sum to 1, even for huge log-weights', () => {
  // 800 + log 3 is stored with an absolute error up to ulp(800)/2 ≈ 6e-14, hence 1e-12.
  const w = normalizedWeights([800, 800 + Math.log(3)]);
  assert.ok(Math.abs(w[0] - 0.25) < 1e-12 && Math.abs(w[1] - 0.75) < 1e-12);
  assert.ok(Math.abs(w[0] + w[1] - 1) < 1e-12);
  assert.deepEqual(Array.from(normalizedWeights([900, 900])), [0.5, 0.5]);
  const z = normalizedWeights([-Infinity, 0, -Infinity]);
  assert.deepEqual(Array.from(z), [0, 1, 0]);
  assert.throws(() => normalizedWeights([-Infinity, -Infinity]), NonFiniteError);
});

test('ESS: uniform weights give N, a one-hot gives 1, and a two-level vector gives the closed form', () => {
  const N = 1000;
  assert.ok(Math.abs(effectiveSampleSize(new Float64Array(N).fill(-7.5)) - N) < 1e-9);
  assert.ok(Math.abs(effectiveSampleFraction(new Float64Array(N).fill(12)) - 1) < 1e-12);
  const oneHot = new Float64Array(N).fill(-Infinity);
  oneHot[17] = 3;
  assert.equal(effectiveSampleSize(oneHot), 1);
  assert.equal(effectiveSampleFraction(oneHot), 1 / N);
  // Half the particles with weight a, half with 1: ESS = (Σw)²/Σw² = N(1+a)²/(2(1+a²)).
  const a = 4;
  const lw = Float64Array.from({ length: N }, (_, i) => (i % 2 === 0 ? Math.log(a) : 0));
  const expected = (N * (1 + a) ** 2) / (2 * (1 + a * a));
  assert.ok(Math.abs(effectiveSampleSize(lw) - expected) < 1e-9 * expected);
});

function counts(idx: Int32Array, n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const i of idx) c[i]++;
  return c;
}

test('systematic resampling draws every index ⌊N w̄_i⌋ or ⌈N w̄_i⌉ times (|count − N w̄_i| < 1)', () => {
  const rng = new Rng(11);
  const cases: number[][] = [
    [0.1, 0.2, 0.3, 0.4],
    [1, 1, 1, 1, 1, 1, 1],
    [1e-9, 5, 0.5, 3, 1e-3, 0, 2],
    Array.from({ length: 500 }, (_, i) => Math.exp(Math.sin(i) * 4)),
    Array.from({ length: 64 }, () => rng.uniform() ** 6),
  ];
  for (const w of cases) {
    const lw = w.map(Math.log);
    const wbar = normalizedWeights(lw);
    for (let rep = 0; rep < 20; rep++) {
      const idx = systematicResample(rng, lw);
      assert.equal(idx.length, w.length);
      for (let k = 1; k < idx.length; k++) assert.ok(idx[k] >= idx[k - 1], 'ancestors are sorted');
      const c = counts(idx, w.length);
      c.forEach((ci, i) => {
        assert.ok(Math.abs(ci - w.length * wbar[i]) < 1 + 1e-9, `index ${i}: count ${ci}, N·w̄ = ${w.length * wbar[i]}`);
        if (wbar[i] === 0) assert.equal(ci, 0, 'zero-weight index never drawn');
      });
    }
    // A different number of draws keeps the property with M·w̄_i.
    const M = 3 * w.length + 1;
    const c = counts(systematicResample(rng, lw, M), w.length);
    c.forEach((ci, i) => assert.ok(Math.abs(ci - M * wbar[i]) < 1 + 1e-9));
  }
});

test('a zero weight is never drawn, even where the cumulative weights round short of 1', () => {
  // Ten weights 0.1 sum to 0.9999999999999999 in float64; with u at its largest value the last point,
  // (u + 10)/11, lies past that sum. PITA's annealer used to hand such a point to the zero-weight particle 10.
  const lastU = { uniform: () => 1 - 2 ** -53 } as unknown as Rng;
  const lw = Float64Array.from([...new Array<number>(10).fill(0), -Infinity]);
  assert.deepEqual(Array.from(systematicResample(lastU, lw)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]);
});

test('the probability floor of the reference raises small weights without renormalising (and is off by default)', () => {
  const fixedU = { uniform: () => 0.4 } as unknown as Rng;
  // w̄ ≈ [2.5e-13, 1/4, 1/4, 1/4, 1/4]; points 0.08, 0.28, 0.48, 0.68, 0.88.
  const lw = Float64Array.from([Math.log(1e-12), 0, 0, 0, 0]);
  assert.deepEqual(Array.from(systematicResample(fixedU, lw)), [1, 2, 2, 3, 4]);
  // Floored to [0.2, 1/4, …] (sum 1.2): the negligible particle is drawn and the last one starves.
  assert.deepEqual(Array.from(systematicResample(fixedU, lw, 5, 0.2)), [0, 1, 2, 2, 3]);
  assert.throws(() => systematicResample(fixedU, lw, 5, -0.1), /floor must be in \[0, 1\]/);
});

test('systematic resampling of a one-hot keeps one unique ancestor; uniform weights keep all N', () => {
  const rng = new Rng(3);
  const lw = new Float64Array(50).fill(-Infinity);
  lw[9] = 0;
  const idx = systematicResample(rng, lw);
  assert.equal(uniqueCount(idx), 1);
  assert.equal(idx[0], 9);
  assert.equal(uniqueCount(systematicResample(rng, new Float64Array(50))), 50);
  assert.equal(uniqueCount([3, 3, 1, 7, 1]), 3);
});

test('multinomial resampling counts match N·w̄ within binomial error (5σ)', () => {
  const rng = new Rng(5);
  const w = [0.05, 0.15, 0.3, 0.5];
  const N = 200_000;
  const idx = multinomialResample(rng, w.map(Math.log), N);
  for (let k = 1; k < N; k++) assert.ok(idx[k] >= idx[k - 1]);
  const c = counts(idx, w.length);
  // Count_i ~ Binomial(N, w_i): sd = √(N w_i (1 − w_i)).
  c.forEach((ci, i) => assert.ok(Math.abs(ci - N * w[i]) < 5 * Math.sqrt(N * w[i] * (1 - w[i])), `index ${i}: ${ci} vs ${N * w[i]}`));
  assert.throws(() => multinomialResample(rng, w, 0), UserError);
  assert.throws(() => systematicResample(rng, w, 1.5), UserError);
});
