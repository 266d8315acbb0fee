import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { UserError } from '../../src/core/errors.js';
import { BaseTarget } from '../../src/targets/target.js';
import { GaussianTarget, GAUSSIAN2D_COVARIANCE } from '../../src/targets/gaussian.js';
import { geometricLadder, parallelTempering, swapAcceptance, updateRoundTrips } from '../../src/samplers/pt.js';
import { runSampler } from '../../src/samplers/run.js';
import { chainAverages, meanAndSe, zScore } from './stats.js';

test('geometric ladder: T_k = T_min (T_max/T_min)^(k/(K−1)), ends exact', () => {
  const t = geometricLadder(1, 8, 4);
  assert.deepEqual(Array.from(t).map((v) => +v.toFixed(12)), [1, 2, 4, 8]);
  assert.equal(geometricLadder(0.3, 7.1, 9)[8], 7.1);
  assert.throws(() => geometricLadder(2, 1, 4), UserError);
  assert.throws(() => geometricLadder(1, 2, 1), UserError);
});

test('swap acceptance is min(1, exp((β_i − β_j)(E_i − E_j)))', () => {
  assert.equal(swapAcceptance(1, 0.5, 3, 1), 1); // colder holds the higher energy: always swap
  assert.ok(Math.abs(swapAcceptance(1, 0.5, 1, 3) - Math.exp(-1)) < 1e-16);
  assert.ok(Math.abs(swapAcceptance(2, 0.25, -4, 0.5) - Math.exp(-1.75 * 4.5)) < 1e-16);
  assert.equal(swapAcceptance(1, 0.5, NaN, 0), 0);
});

test('round trips: a label counts one trip per coldest → hottest → coldest journey (scripted labels)', () => {
  // Two chains, K = 3; each row lists the label held by slots 0, 1, 2.
  const K = 3;
  const script: number[][] = [
    [0, 1, 2, 0, 1, 2], // start: labels 0 (both chains) at the coldest → phase 1
    [1, 0, 2, 0, 2, 1], // chain 0: label 1 reaches the coldest; chain 1: label 1 at hottest (phase 0, no change)
    [1, 2, 0, 2, 0, 1], // chain 0: label 0 reaches the hottest (phase 2); chain 1: label 2 at coldest
    [0, 2, 1, 1, 2, 0], // chain 0: label 0 back at coldest → trip; label 1 at hottest (phase 2); chain 1: label 0 hottest
    [1, 2, 0, 0, 2, 1], // chain 0: label 1 → trip; chain 1: label 0 → trip
    [2, 1, 0, 0, 1, 2], // chain 0: label 2 first time coldest; label 0 hottest again (phase 1 → 2)
    [0, 1, 2, 0, 1, 2], // chain 0: label 0 → trip
    [0, 1, 2, 0, 1, 2], // staying at the coldest counts nothing
  ];
  const expected = [0, 0, 0, 1, 2, 0, 1, 0];
  const phase = new Uint8Array(2 * K);
  const got = script.map((labels) => updateRoundTrips(Int32Array.from(labels), phase, 2, K));
  assert.deepEqual(got, expected);
  assert.throws(() => updateRoundTrips(new Int32Array(5), phase, 2, K), UserError);
});

test('PT swap acceptance matches the analytic rate for a 2-D Gaussian: 2T_i/(T_i + T_j)', () => {
  // For E = ½xᵀΣ⁻¹x in 2-D, β E ~ Exp(1) at every T, independent of Σ. With
  // G_i, G_j ~ Exp(1) independent and r = T_i/T_j < 1, the log swap ratio is
  // (1 − r)G_i − (1/r − 1)G_j and E[min(1, e^Δ)] = 2r/(1 + r): 0.8 for
  // (1, 1.5), 2/3 for (1.5, 3). Replicas start from exact samples, so every
  // round is at stationarity. Error: per-chain acceptance rates (200 attempts
  // each) are i.i.d. over 256 chains → between-chain SE; |z| < 4.
  const target = new GaussianTarget(GAUSSIAN2D_COVARIANCE);
  const temps = [1, 1.5, 3];
  const K = temps.length;
  const chains = 256;
  const rng = new Rng(5);
  const x0 = new Float64Array(chains * K * 2);
  for (let c = 0; c < chains; c++) for (let k = 0; k < K; k++) x0.set(target.sampleExact(rng, 1, temps[k]), (c * K + k) * 2);
  const kernel = parallelTempering(target, { temperatures: temps, stepSize: temps.map((t) => 0.3 * t) });
  let s = kernel.init(x0, rng);
  const accepted = [new Float64Array(chains), new Float64Array(chains)];
  const attempts = [new Float64Array(chains), new Float64Array(chains)];
  for (let round = 0; round < 400; round++) {
    const r = kernel.step(rng, s);
    s = r.state;
    for (let c = 0; c < chains; c++) {
      for (let k = 0; k < K - 1; k++) {
        const o = r.info.swaps[c * (K - 1) + k];
        assert.equal(o === -1, (round + k) % 2 === 1, 'even rounds try (0,1), odd rounds (1,2)');
        if (o >= 0) {
          accepted[k][c] += o;
          attempts[k][c]++;
        }
      }
    }
  }
  const expected = [0.8, 2 / 3];
  for (let k = 0; k < K - 1; k++) {
    const rates = accepted[k].map((a, c) => a / attempts[k][c]);
    const z = zScore(rates, expected[k]);
    assert.ok(Math.abs(z) < 4, `pair ${k}: ${meanAndSe(rates).mean} vs ${expected[k]} (z ${z.toFixed(2)})`);
    assert.ok(meanAndSe(rates).se < 0.005);
    assert.equal(s.swapAttempts[k], chains * 200);
    assert.equal(s.swapAccepts[k], accepted[k].reduce((a, b) => a + b, 0));
  }
  // Swaps carry energies and forces with the configurations: recompute them.
  const check = target.energyAndForces(s.local.x);
  assert.deepEqual(s.local.energy, check.energy);
  assert.deepEqual(s.local.forces, check.forces);
  for (let c = 0; c < chains; c++) {
    assert.deepEqual(Array.from(s.labels.subarray(c * K, (c + 1) * K)).sort(), [0, 1, 2], 'labels stay a permutation');
  }
});

/** 1-D two-component mixture w·N(−a, σ²) + (1 − w)·N(a, σ²); E = −log p (normalised). */
class TwoWell extends BaseTarget {
  readonly name = 'two-well';
  readonly dim = 1;
  readonly nParticles = 1;
  readonly spatialDim = 1;
  readonly translationInvariant = false;
  constructor(
    readonly w: number,
    readonly a: number,
    readonly sigma: number,
  ) {
    super();
  }
  protected evalOne(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    const s2 = this.sigma * this.sigma;
    const l1 = Math.log(this.w) - (x[off] + this.a) ** 2 / (2 * s2);
    const l2 = Math.log(1 - this.w) - (x[off] - this.a) ** 2 / (2 * s2);
    const m = Math.max(l1, l2);
    const z = Math.exp(l1 - m) + Math.exp(l2 - m);
    if (forces) forces[fOff] = ((Math.exp(l1 - m) * (-this.a - x[off]) + Math.exp(l2 - m) * (this.a - x[off])) / z) / s2;
    return -(m + Math.log(z)) + 0.5 * Math.log(2 * Math.PI * s2);
  }
  initialConfigurations(rng: Rng, n: number): Float64Array {
    return rng.uniforms(n, -1, 1);
  }
}

test('PT coldest replica reproduces the mode weights of a bimodal density that MALA alone cannot cross', () => {
  // Modes at ±4 with σ = 0.5: the barrier at 0 is ≈ 32 k_BT at T = 1, so a
  // local kernel never crosses; the ladder 1 → 20 (K = 8) does. Exact weight
  // of the left mode at T = 1: w = 0.3 (tails past 0 are Φ(−8) ≈ 6e-16).
  // All chains start in the right mode. Error: per-chain fractions over 1500
  // rounds, i.i.d. over 64 chains → between-chain SE; |z| < 4.
  const target = new TwoWell(0.3, 4, 0.5);
  const chains = 64;
  const perChain = 1500;
  const init = new Float64Array(chains).fill(4);
  const r = runSampler(target, { sampler: 'pt', n: chains * perChain, chains, warmup: 300, thin: 1, seed: 8, temperature: 1, tMax: 20, replicas: 8, init });
  const [left] = chainAverages(r.samples, r.n, 1, chains, (x, o) => [x[o] < 0 ? 1 : 0]);
  const z = zScore(left, 0.3);
  assert.ok(Math.abs(z) < 4, `left-mode weight ${meanAndSe(left).mean} vs 0.3 (z ${z.toFixed(2)})`);
  assert.ok(meanAndSe(left).se < 0.02);
  assert.ok(r.pt && r.pt.roundTrips > 10 * chains, `round trips ${r.pt?.roundTrips}`);
  for (const a of r.pt.swapAcceptance) assert.ok(a > 0.2 && a < 1, `swap acceptance ${a}`);

  // Plain MALA from the same start never leaves the right mode.
  const m = runSampler(new TwoWell(0.3, 4, 0.5), { sampler: 'mala', n: chains * 200, chains, warmup: 300, thin: 5, seed: 8, init });
  assert.ok(m.samples.every((v) => v > 0));
});

test('PT validates its ladder, local kernel and starting batch', () => {
  const target = new GaussianTarget(GAUSSIAN2D_COVARIANCE);
  assert.throws(() => parallelTempering(target, { temperatures: [1] }), UserError);
  assert.throws(() => parallelTempering(target, { temperatures: [1, 3, 2] }), /increase strictly/);
  assert.throws(() => parallelTempering(target, { temperatures: [1, 2], local: 'gibbs' as 'mala' }), /valid: mala, hmc/);
  assert.throws(() => parallelTempering(target, { temperatures: [1, 2], leapfrogSteps: 4 }), /hmc/);
  const k = parallelTempering(target, { temperatures: [1, 2, 4] });
  assert.throws(() => k.init(new Float64Array(2 * 4), new Rng(1)), /chains·3/);
});
