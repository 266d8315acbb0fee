/**
 * Kernels over a user's own LogDensity: a correlated, off-centre Gaussian
 * π = N(μ, Σ), μ = (1, −2), Σ = [[2, 1.2], [1.2, 1]], written as a plain
 * object (no Target). MALA through the driver, HMC by hand and PT with a
 * user-supplied local kernel factory must all reproduce μ and Σ. As in
 * gaussian.test.ts the standard error is the between-chain sd of chain
 * averages / √C; tolerance |z| < 4 per statistic, and each test checks that
 * its standard errors are small enough (≤ 0.05) that a wrong kernel fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { asPotential, targetLogDensity, type LogDensity } from '../../src/targets/density.js';
import { GaussianTarget, GAUSSIAN2D_COVARIANCE } from '../../src/targets/gaussian.js';
import { hmc, mala, runSampler, type McmcKernelOptions } from '../../src/samplers/index.js';
import { chainAverages, meanAndSe, zScore } from './stats.js';

const MU = [1, -2];
const SIGMA = [2, 1.2, 1.2, 1];
const DET = SIGMA[0] * SIGMA[3] - SIGMA[1] * SIGMA[2];
const PREC = [SIGMA[3] / DET, -SIGMA[1] / DET, -SIGMA[2] / DET, SIGMA[0] / DET];

/** The user's density: log π = −½ (x−μ)ᵀ Σ⁻¹ (x−μ), ∇log π = −Σ⁻¹ (x−μ). */
function correlatedGaussian(): LogDensity {
  return {
    name: 'my-gaussian',
    dim: 2,
    logDensityAndGradient(x, n) {
      const logDensity = new Float64Array(n);
      const gradient = new Float64Array(2 * n);
      for (let i = 0; i < n; i++) {
        const a = x[2 * i] - MU[0];
        const b = x[2 * i + 1] - MU[1];
        const g0 = -(PREC[0] * a + PREC[1] * b);
        const g1 = -(PREC[2] * a + PREC[3] * b);
        gradient[2 * i] = g0;
        gradient[2 * i + 1] = g1;
        logDensity[i] = 0.5 * (a * g0 + b * g1);
      }
      return { logDensity, gradient };
    },
  };
}

function moments(x: Float64Array, o: number): number[] {
  const a = x[o] - MU[0];
  const b = x[o + 1] - MU[1];
  return [x[o], x[o + 1], a * a, a * b, b * b];
}

/** Checks E[x] = μ and Cov = Σ from per-chain averages of `moments` (samples collected chain-interleaved). */
function checkMoments(label: string, samples: Float64Array, n: number, chains: number): void {
  const avg = chainAverages(samples, n, 2, chains, moments);
  const expected = [MU[0], MU[1], SIGMA[0], SIGMA[1], SIGMA[3]];
  const names = ['E[x0]', 'E[x1]', 'Var x0', 'Cov x0x1', 'Var x1'];
  avg.forEach((v, k) => {
    const { mean, se } = meanAndSe(v);
    const z = zScore(v, expected[k]);
    assert.ok(Math.abs(z) < 4, `${label} ${names[k]}: ${mean.toFixed(4)} vs ${expected[k]} (se ${se.toFixed(4)}, z ${z.toFixed(2)})`);
    assert.ok(se < 0.05, `${label} ${names[k]}: standard error ${se} too large for a meaningful test`);
  });
}

/** Starting points [rows, 2], deliberately far from μ. */
function starts(rows: number, seed: number): Float64Array {
  return new Rng(seed).normals(rows * 2).map((v) => 3 * v);
}

test('runSampler samples a user LogDensity with MALA: mean and covariance of N(μ, Σ)', () => {
  const density = correlatedGaussian();
  const chains = 64;
  const r = runSampler(density, { sampler: 'mala', n: chains * 200, chains, warmup: 500, thin: 5, seed: 3, init: starts(chains, 1) });
  checkMoments('mala', r.samples, r.n, chains);
  // The density's evaluations are counted like a target's.
  assert.equal(r.evaluations.total, asPotential(density).counter.total);
  assert.equal(r.evaluations.total, chains * (1 + 500 + 200 * 5));
});

test('HMC kernel stepped by hand on a user LogDensity', () => {
  const density = correlatedGaussian();
  const chains = 64;
  const kernel = hmc(density, { stepSize: 0.3, leapfrogSteps: 8 });
  const rng = new Rng(7);
  let s = kernel.init(starts(chains, 2), rng);
  for (let t = 0; t < 200; t++) s = kernel.step(rng, s).state;
  const perChain = 150;
  const out = new Float64Array(perChain * chains * 2);
  for (let t = 0; t < perChain; t++) {
    s = kernel.step(rng, s).state;
    out.set(s.x, t * chains * 2);
  }
  checkMoments('hmc', out, perChain * chains, chains);
});

test('PT with a user kernel factory as its local move samples the coldest replica from π', () => {
  const density = correlatedGaussian();
  const built: McmcKernelOptions[] = [];
  const local = (o: McmcKernelOptions) => {
    built.push(o);
    return mala(density, o);
  };
  const chains = 48;
  const r = runSampler(density, { sampler: 'pt', local, temperatures: [1, 2, 4], n: chains * 150, chains, warmup: 400, thin: 4, seed: 5, init: starts(chains, 3) });
  checkMoments('pt', r.samples, r.n, chains);
  // The factory received one temperature per row of a chain (chains step one by one, each from its own stream): the ladder.
  assert.equal(built.length, 1);
  assert.deepEqual([...(built[0].temperature as Float64Array)], [1, 2, 4]);
  assert.ok(r.pt && r.pt.swapAcceptance.every((a) => a > 0.2), `swap acceptance ${r.pt?.swapAcceptance}`);
});

test('a kernel factory naming a built-in kernel reproduces that kernel bit for bit', () => {
  const target = new GaussianTarget(GAUSSIAN2D_COVARIANCE);
  const base = { n: 64, chains: 16, warmup: 30, thin: 2, seed: 11, temperature: 1.5 };
  const byName = runSampler(target, { ...base, sampler: 'hmc' });
  const byFactory = runSampler(target, { ...base, sampler: (o) => hmc(target, o), targetAcceptance: 0.65 });
  assert.deepEqual(byFactory.samples, byName.samples);
  assert.equal(byFactory.sampler, 'custom');
  const ptName = runSampler(target, { ...base, sampler: 'pt', local: 'mala', replicas: 3 });
  const ptFactory = runSampler(target, { ...base, sampler: 'pt', local: (o) => mala(target, o), replicas: 3 });
  assert.deepEqual(ptFactory.samples, ptName.samples);
});

test('targetLogDensity adapts a Target: log p_T = −E/(k_B T) and ∇ = F/(k_B T)', () => {
  const target = new GaussianTarget(GAUSSIAN2D_COVARIANCE);
  const x = new Float64Array([0.3, -0.7, 1.1, 0.4]);
  const { energy, forces } = target.energyAndForces(x, 2);
  const d = targetLogDensity(target, 2);
  const r = d.logDensityAndGradient(x, 2);
  assert.deepEqual([...r.logDensity], [...energy].map((e) => -e / 2));
  assert.deepEqual([...r.gradient], [...forces].map((f) => f / 2));
  assert.equal(d.layout?.translationInvariant, false);
});

test('a LogDensity without init, or with a wrong-sized gradient, is a clear user error', () => {
  const density = correlatedGaussian();
  assert.throws(() => runSampler(density, { sampler: 'mala', n: 4 }), /no starting configurations; give init \[4, 2\]/);
  const bad: LogDensity = { dim: 2, logDensityAndGradient: (_x, n) => ({ logDensity: new Float64Array(n), gradient: new Float64Array(n) }) };
  assert.throws(() => mala(bad).init(new Float64Array(4), new Rng(0)), /gradient of 2; expected 2 and 4/);
});
