import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/targets/builtin.js';
import { createTarget } from '../../src/targets/registry.js';
import { runSampler } from '../../src/samplers/run.js';

// Exact targets: the diagnostics must pass on a converged run and warn on one cut short.

test('Gaussian: a converged MALA run passes its diagnostics; a run cut short warns', () => {
  const g = createTarget('gaussian2d');
  const ok = runSampler(g, { sampler: 'mala', n: 16 * 200, chains: 16, warmup: 500, thin: 10, seed: 1 });
  assert.deepEqual(ok.warnings, []);
  assert.equal(ok.convergence.converged, true);
  assert.equal(ok.convergence.drawsPerChain, 200);
  assert.ok(ok.convergence.energy.rhat < 1.01 && ok.convergence.coordinates.maxRhat < 1.01);
  assert.ok(ok.convergence.energy.ess > 320 && ok.convergence.coordinates.minEss > 320);
  // No warm-up, a tiny step, every step collected: the chains are still where they started.
  const short = runSampler(g, { sampler: 'mala', n: 16 * 200, chains: 16, warmup: 0, thin: 1, seed: 1, stepSize: 0.001 });
  assert.equal(short.convergence.converged, false);
  assert.ok(short.convergence.coordinates.maxRhat > 1.5, `R̂ ${short.convergence.coordinates.maxRhat}`);
  assert.match(short.warnings.join('\n'), /not converged: energy R̂ .* lengthen the warm-up \(warmup, now 0\) or the spacing of the samples \(thin, now 1\)/);
  assert.match(short.warnings.join('\n'), /energy bulk ESS [\d.]+ < n\/10 = 320/);
});

test('GMM-40: PT across the modes passes (R̂, ESS, round trips); MALA cut short warns on the coordinates', () => {
  const m = createTarget('gmm40');
  const pt = runSampler(m, { sampler: 'pt', n: 16 * 100, chains: 16, warmup: 1000, thin: 20, tMax: 300, replicas: 10, seed: 3 });
  assert.deepEqual(pt.warnings, []);
  assert.ok(pt.convergence.roundTrips && pt.convergence.roundTrips.total >= 10);
  assert.ok(pt.convergence.coordinates.maxRhat < 1.01);
  // MALA never leaves its starting mode: the energy may look fine, the coordinates do not.
  const mala = runSampler(m, { sampler: 'mala', n: 16 * 50, chains: 16, warmup: 100, thin: 2, seed: 1 });
  assert.ok(mala.convergence.coordinates.maxRhat > 1.5);
  assert.match(mala.warnings.join('\n'), /R̂ [\d.]+ > 1\.01 for coordinate \d \(chains disagree, e\.g\. stuck in different modes\)/);
  // PT with too few rounds: fewer round trips than replicas.
  const cut = runSampler(m, { sampler: 'pt', n: 16 * 4, chains: 16, warmup: 10, thin: 1, tMax: 300, replicas: 10, seed: 1 });
  assert.match(cut.warnings.join('\n'), /parallel tempering made \d round trip\(s\) during sampling, fewer than its 10 replicas/);
});

test('MALA with a huge step size: acceptance below 1 % after warm-up warns with the step size', () => {
  const r = runSampler(createTarget('dw4'), { sampler: 'mala', n: 64, chains: 8, warmup: 2, stepSize: 1e6, seed: 0 });
  assert.ok((r.acceptance.sampling ?? 1) < 0.01);
  assert.match(r.warnings[0], /^acceptance [\d.]+ % after warm-up is below 1 %: .*reduce the step size \(stepSize, --step-size; adapted to /);
});

test('the adaptive warm-up (warmup not given) runs at least 1000 steps and stops in 500-step blocks within its cap', () => {
  const g = createTarget('gaussian2d');
  const r = runSampler(g, { sampler: 'mala', n: 64, chains: 16, thin: 5, seed: 2 });
  assert.ok(r.warmup >= 1000 && (r.warmup - 1000) % 500 === 0 && r.warmup <= 10000, `warmup ${r.warmup}`);
  const capped = runSampler(g, { sampler: 'mala', n: 64, chains: 16, thin: 5, seed: 2, stepSize: 1e-4, targetAcceptance: 0.999, maxWarmup: 1200 });
  assert.equal(capped.warmup, 1200);
  assert.match(capped.warnings.join('\n'), /the adaptive warm-up reached its cap of 1200 steps with R̂ [\d.]+ \(energy and coordinates\); raise the cap \(maxWarmup, --max-warmup\) or use pt/);
  assert.throws(() => runSampler(g, { sampler: 'mala', n: 8, warmup: 10, maxWarmup: 20 }), /either warmup or maxWarmup/);
});

// Default settings (only the target and n): every built-in exact target passes its own diagnostics.
test('default settings: the Gaussian (its default MALA, and HMC, Langevin, PT) and GMM-40 (its default PT) pass their diagnostics', () => {
  const g = createTarget('gaussian2d');
  for (const sampler of [undefined, 'hmc', 'langevin', 'pt']) {
    const r = runSampler(g, { sampler, n: 2000, seed: 11 });
    if (sampler === undefined) assert.equal(r.sampler, 'mala');
    assert.deepEqual(r.warnings, [], `${r.sampler}: ${r.warnings.join('; ')}`);
    assert.equal(r.chains, 20);
    assert.ok(r.convergence.energy.rhat <= 1.01 && r.convergence.coordinates.maxRhat <= 1.01);
    assert.ok(r.convergence.energy.ess >= 100 && r.convergence.coordinates.minEss >= 200);
  }
  const m = runSampler(createTarget('gmm40'), { n: 2000, seed: 11 });
  assert.equal(m.sampler, 'pt');
  assert.deepEqual(m.warnings, [], m.warnings.join('; '));
  assert.ok((m.convergence.roundTrips?.total ?? 0) >= 8);
});

test('the adaptive thin is twice the autocorrelation time over the warm-up: slow Langevin on the Gaussian gets a large thin, and a cap warns', () => {
  const g = createTarget('gaussian2d');
  // Δt = 0.02 (a fifth of the default), γ = 1: the slow eigenvalue (1.8) relaxes over ~2 time units, ~100 steps.
  const r = runSampler(g, { sampler: 'langevin', n: 640, chains: 32, seed: 4, timestep: 0.02 });
  assert.ok(r.thin > 100 && r.thin <= 1000, `thin ${r.thin}`);
  assert.equal(r.samplingSteps, 20 * r.thin);
  assert.ok(r.convergence.coordinates.minEss >= 320, `ESS ${r.convergence.coordinates.minEss}`);
  // A fast kernel keeps the floor of 10.
  assert.equal(runSampler(g, { sampler: 'pt', n: 64, seed: 4 }).thin, 10);
  const capped = runSampler(g, { sampler: 'langevin', n: 64, seed: 4, warmup: 2000, maxThin: 20, timestep: 0.005 });
  assert.equal(capped.thin, 20);
  assert.match(capped.warnings.join('\n'), /twice the autocorrelation time \(\d+ steps over the warm-up\) exceeds the cap of the adaptive thin, 20: .*raise the cap \(maxThin, --max-thin\) or use pt/);
  assert.throws(() => runSampler(g, { sampler: 'mala', n: 8, thin: 10, maxThin: 20 }), /either thin or maxThin/);
});
