/**
 * MALA, HMC and BAOAB on the correlated Gaussian gaussian2d, Σ = [[1, 0.8], [0.8, 1]]:
 * p_T = N(0, T·Σ). Each test runs C independent chains after warm-up and
 * compares the grand means of x_i and x_i·x_j with 0 and T·Σ_ij; the standard
 * error is the between-chain sd of the chain averages / √C (see stats.ts),
 * which accounts for autocorrelation. Tolerance |z| < 4 (two-sided p ≈ 6e-5
 * per statistic). Each test also checks that its standard errors are small
 * (≤ 4 % of the variance), so a biased kernel, e.g. unadjusted Langevin at
 * the adapted step size (variance inflated by ≈ 1/(1 − h/(2σ²)), tens of %),
 * fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { GaussianTarget, GAUSSIAN2D_COVARIANCE } from '../../src/targets/gaussian.js';
import { runSampler, type SampleOptions } from '../../src/samplers/run.js';
import { langevin } from '../../src/samplers/langevin.js';
import { chainAverages, meanAndSe, zScore } from './stats.js';

const SIGMA = [1, 0.8, 0.8, 1];
const CHAINS = 128;
const PER_CHAIN = 250;

function secondMoments(x: Float64Array, o: number): number[] {
  return [x[o], x[o + 1], x[o] * x[o], x[o] * x[o + 1], x[o + 1] * x[o + 1]];
}

function checkMoments(label: string, opts: Omit<SampleOptions, 'n' | 'chains'>, T: number): void {
  const target = new GaussianTarget(GAUSSIAN2D_COVARIANCE);
  const r = runSampler(target, { ...opts, n: CHAINS * PER_CHAIN, chains: CHAINS, temperature: T });
  const avg = chainAverages(r.samples, r.n, 2, CHAINS, secondMoments);
  const expected = [0, 0, T * SIGMA[0], T * SIGMA[1], T * SIGMA[3]];
  const names = ['E[x0]', 'E[x1]', 'E[x0²]', 'E[x0x1]', 'E[x1²]'];
  avg.forEach((v, k) => {
    const z = zScore(v, expected[k]);
    const { mean, se } = meanAndSe(v);
    assert.ok(Math.abs(z) < 4, `${label} T=${T} ${names[k]}: ${mean.toFixed(4)} vs ${expected[k]} (se ${se.toFixed(4)}, z ${z.toFixed(2)})`);
    assert.ok(se < 0.04 * T, `${label} T=${T} ${names[k]}: standard error ${se} too large for a meaningful test`);
  });
  // Every energy evaluation is accounted for.
  assert.equal(r.evaluations.total, target.counter.total);
}

for (const T of [1, 2]) {
  test(`MALA reproduces mean and covariance T·Σ at T=${T}`, () => {
    checkMoments('MALA', { sampler: 'mala', warmup: 500, thin: 2, seed: 10 + T }, T);
  });

  // L = 3: with L = 5 the adapted εL is close to half the period of the slow mode (2π·√1.8), which
  // maps x → −x and leaves x² almost unmixed (HMC's resonance), making the test weak.
  test(`HMC (L=3) reproduces mean and covariance T·Σ at T=${T}`, () => {
    checkMoments('HMC', { sampler: 'hmc', leapfrogSteps: 3, warmup: 300, thin: 1, seed: 20 + T }, T);
  });

  // BAOAB's configurational marginal is exact for a harmonic potential at any
  // stable Δt (Leimkuhler & Matthews 2013; the stationary covariance of the
  // linear recursion is kT/ω² per normal mode), so the O(Δt²) bias bound
  // of general potentials is 0 here. Δt = 0.1, γ = 1: ω_max·Δt = √5·0.1 ≈ 0.22.
  test(`BAOAB (Δt = 0.1, γ = 1) reproduces mean and covariance T·Σ at T=${T}`, () => {
    checkMoments('BAOAB', { sampler: 'langevin', timestep: 0.1, friction: 1, warmup: 500, thin: 4, seed: 30 + T }, T);
  });
}

test('BAOAB at a large step (Δt = 0.5): configurations stay exact, kinetic temperature is T(1 − Δt²·tr(Σ⁻¹)/8)', () => {
  // For a harmonic mode of frequency ω, BAOAB's velocity variance after a full
  // step is kT(1 − Δt²ω²/4) while the position variance is exactly kT/ω².
  // With unit masses and dof = 2: E[T_kin] = T(1 − Δt²(ω1² + ω2²)/8), and
  // ω1² + ω2² = tr(Σ⁻¹) = 2/(1 − 0.64) = 5.556, so E[T_kin] = 0.8264·T at Δt = 0.5.
  // A splitting with the wrong order (e.g. OBABO, or Euler–Maruyama) biases
  // the positions by O(Δt²) ≈ 10 % here, far beyond the 4σ tolerance.
  const target = new GaussianTarget(GAUSSIAN2D_COVARIANCE);
  const T = 1.5;
  const dt = 0.5;
  const rng = new Rng(77);
  const kernel = langevin(target, { temperature: T, timestep: dt, friction: 1 });
  let s = kernel.init(target.sampleExact(rng, CHAINS, T), rng);
  const sums = Array.from({ length: 4 }, () => new Float64Array(CHAINS));
  const steps = 1500;
  for (let t = 0; t < steps; t++) {
    const r = kernel.step(rng, s);
    s = r.state;
    for (let c = 0; c < CHAINS; c++) {
      const a = s.x[2 * c];
      const b = s.x[2 * c + 1];
      sums[0][c] += (a * a) / steps;
      sums[1][c] += (a * b) / steps;
      sums[2][c] += (b * b) / steps;
      sums[3][c] += r.info.kineticTemperature[c] / steps;
    }
  }
  const trPrecision = target.precision[0] + target.precision[3];
  const expected = [T * SIGMA[0], T * SIGMA[1], T * SIGMA[3], T * (1 - (dt * dt * trPrecision) / 8)];
  sums.forEach((v, k) => {
    const z = zScore(v, expected[k]);
    assert.ok(Math.abs(z) < 4, `statistic ${k}: ${meanAndSe(v).mean} vs ${expected[k]} (z ${z.toFixed(2)})`);
    assert.ok(meanAndSe(v).se < 0.03 * T);
  });
  // The kinetic-temperature deficit (17 %) is resolved: it differs from T by many standard errors.
  assert.ok(Math.abs(zScore(sums[3], T)) > 10);
});
