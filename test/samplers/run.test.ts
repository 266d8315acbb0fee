import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/targets/builtin.js';
import { Rng } from '../../src/core/rng.js';
import { UserError } from '../../src/core/errors.js';
import { maxCentroid } from '../../src/core/particles.js';
import { createTarget } from '../../src/targets/registry.js';
import { GaussianTarget, GAUSSIAN2D_COVARIANCE } from '../../src/targets/gaussian.js';
import { SAMPLER_NAMES, defaultChains, runSampler, type SampleOptions, type SampleProgress } from '../../src/samplers/run.js';
import { mala } from '../../src/samplers/mala.js';
import { hmc } from '../../src/samplers/hmc.js';
import { langevin } from '../../src/samplers/langevin.js';

const gaussian = (): GaussianTarget => new GaussianTarget(GAUSSIAN2D_COVARIANCE);

test('the driver validates n, temperature, sampler name and options that do not apply', () => {
  assert.deepEqual([...SAMPLER_NAMES], ['mala', 'hmc', 'langevin', 'pt']);
  const t = gaussian();
  assert.throws(() => runSampler(t, { sampler: 'nuts', n: 10 }), (e: Error) => e instanceof UserError && /valid samplers: mala, hmc, langevin, pt/.test(e.message));
  assert.throws(() => runSampler(t, { sampler: 'mala', n: 0 }), /n \(number of samples\) must be an integer ≥ 1, got 0/);
  assert.throws(() => runSampler(t, { sampler: 'mala', n: 2.5 }), UserError);
  assert.throws(() => runSampler(t, { sampler: 'mala', n: 10, temperature: 0 }), /temperature must be a positive number/);
  assert.throws(() => runSampler(t, { sampler: 'mala', n: 10, temperature: -1 }), UserError);
  assert.throws(() => runSampler(t, { sampler: 'mala', n: 10, thin: 0 }), /thin/);
  assert.throws(() => runSampler(t, { sampler: 'mala', n: 10, friction: 1 }), /'friction' does not apply to sampler 'mala'/);
  assert.throws(() => runSampler(t, { sampler: 'langevin', n: 10, stepSize: 0.1 }), /'stepSize' does not apply/);
  assert.throws(() => runSampler(t, { sampler: 'mala', n: 10, targetAcceptance: 1.2 }), /strictly between 0 and 1/);
  assert.throws(() => runSampler(t, { sampler: 'mala', n: 10, stepSize: -0.1 }), /stepSize must be a positive number/);
  assert.throws(() => runSampler(t, { sampler: 'mala', n: 4, init: new Float64Array(6) }), /init has shape \[3, 2\]; mala needs \[4, 2\]/);
  assert.throws(() => runSampler(t, { sampler: 'pt', n: 4, temperatures: [1, 2], temperature: 2 }), /must start at the sampling temperature 2/);
  assert.throws(() => runSampler(t, { sampler: 'langevin', n: 4, masses: [1, 2] }), /masses has 2 entries; target gaussian has 1 particles/);
});

test('the same seed gives bit-identical samples for every sampler; another seed differs', () => {
  const extra: Record<string, Partial<SampleOptions>> = { hmc: { leapfrogSteps: 3 }, pt: { replicas: 3 } };
  for (const sampler of SAMPLER_NAMES) {
    const opts: SampleOptions = { sampler, n: 50, chains: 10, warmup: 20, thin: 2, ...extra[sampler] };
    const a = runSampler(gaussian(), { ...opts, seed: 42 });
    const b = runSampler(gaussian(), { ...opts, seed: 42 });
    const c = runSampler(gaussian(), { ...opts, seed: 43 });
    assert.deepEqual(a.samples, b.samples, sampler);
    assert.deepEqual(a.energies, b.energies, sampler);
    assert.notDeepEqual(a.samples, c.samples, sampler);
    // A given Rng is used the same way as the seed.
    const d = runSampler(gaussian(), { ...opts, rng: new Rng(42) });
    assert.deepEqual(a.samples, d.samples, sampler);
  }
});

test('step sizes adapt during warm-up only and stay frozen while sampling', () => {
  for (const sampler of ['mala', 'hmc', 'pt'] as const) {
    const seen: SampleProgress[] = [];
    const r = runSampler(gaussian(), {
      sampler,
      n: 200,
      chains: 20,
      warmup: 100,
      thin: 3,
      seed: 1,
      stepSize: 1e-3,
      onProgress: (_done, _total, info) => seen.push({ ...info, stepSize: info.stepSize && info.stepSize.slice() }),
    });
    const warm = seen.filter((p) => p.phase === 'warmup');
    const sampling = seen.filter((p) => p.phase === 'sampling');
    assert.equal(warm.length, 100);
    assert.equal(sampling.length, r.samplingSteps);
    assert.equal(r.samplingSteps, 30); // ⌈200/20⌉ · 3
    const frozen = warm[warm.length - 1].stepSize!;
    assert.ok(frozen[0] > 10 * 1e-3, `${sampler}: warm-up moved the step size up from 1e-3 (got ${frozen[0]})`);
    assert.notDeepEqual(warm[0].stepSize, frozen);
    for (const p of sampling) assert.deepEqual(p.stepSize, frozen, `${sampler}: step size changed while sampling`);
    assert.deepEqual(r.stepSize, frozen);
    assert.equal(sampling[sampling.length - 1].collected, 200);
  }
});

test('adaptation reaches the target acceptance (MALA 0.574, HMC 0.65, per-chain scope too)', () => {
  // Acceptance over 10 000 proposals: binomial sd ≤ 0.005, plus the spread of
  // the frozen step size around its fixed point; 0.05 is far above both and
  // far below the distance from a non-adapted start (1e-3 → acceptance ≈ 1).
  const cases: [SampleOptions, number][] = [
    [{ sampler: 'mala', n: 10000, chains: 100, warmup: 1000, thin: 1, stepSize: 1e-3 }, 0.574],
    [{ sampler: 'mala', n: 10000, chains: 100, warmup: 1000, thin: 1, adapt: 'chain', targetAcceptance: 0.4 }, 0.4],
    [{ sampler: 'hmc', n: 10000, chains: 100, warmup: 500, thin: 1, leapfrogSteps: 3 }, 0.65],
  ];
  for (const [opts, target] of cases) {
    const r = runSampler(gaussian(), { ...opts, seed: 3 });
    assert.ok(Math.abs(r.acceptance.sampling! - target) < 0.05, `${opts.sampler}: acceptance ${r.acceptance.sampling} vs ${target}`);
  }
});

test('energy evaluations: one per chain per step for MALA and Langevin, L for HMC, counted by the target', () => {
  const chains = 8;
  const steps = { warmup: 10, thin: 2, n: 32 }; // 4 collections × 2 = 8 sampling steps
  const cases: [SampleOptions, number][] = [
    [{ sampler: 'mala', chains, ...steps }, 1],
    [{ sampler: 'langevin', chains, ...steps }, 1],
    [{ sampler: 'hmc', chains, leapfrogSteps: 7, ...steps }, 7],
  ];
  for (const [opts, perStep] of cases) {
    const t = gaussian();
    const r = runSampler(t, opts);
    assert.deepEqual(r.evaluations, { init: chains, warmup: 10 * chains * perStep, sampling: 8 * chains * perStep, total: chains + 18 * chains * perStep });
    assert.equal(t.counter.total, r.evaluations.total);
  }
  // PT: K replicas per chain, localSteps local moves per round, swaps cost nothing.
  const t = gaussian();
  const r = runSampler(t, { sampler: 'pt', chains: 4, n: 8, warmup: 5, thin: 1, replicas: 3, localSteps: 2, local: 'hmc', leapfrogSteps: 2 });
  assert.equal(r.evaluations.total, 4 * 3 + 7 * 4 * 3 * 2 * 2);
  assert.equal(t.counter.total, r.evaluations.total);
  // Per-step info of the kernels says the same.
  const rng = new Rng(1);
  const x = t.sampleExact(rng, 5, 1);
  assert.equal(mala(t, { temperature: 1 }).step(rng, mala(t, { temperature: 1 }).init(x, rng)).info.evaluations, 5);
  const h = hmc(t, { temperature: 1, leapfrogSteps: 4 });
  assert.equal(h.step(rng, h.init(x, rng)).info.evaluations, 20);
  const l = langevin(t, { temperature: 1 });
  assert.equal(l.step(rng, l.init(x, rng)).info.evaluations, 5);
});

test('default schedule: chains = n/100 within [4, 32] and ≤ n, thinning collects every thin-th step until n samples', () => {
  const r = runSampler(gaussian(), { sampler: 'mala', n: 1005, warmup: 5, thin: 4 });
  assert.equal(r.chains, 10);
  assert.equal(r.samplingSteps, 101 * 4);
  assert.equal(r.samples.length, 1005 * 2);
  // The last partial collection is filled: no zero rows left.
  for (let i = 0; i < 1005; i++) assert.ok(r.samples[2 * i] !== 0 || r.samples[2 * i + 1] !== 0);
  const e = new GaussianTarget(GAUSSIAN2D_COVARIANCE).energy(r.samples);
  assert.deepEqual(r.energies, e, 'energies belong to the returned samples');
  assert.deepEqual(
    [3, 7, 2000, 3149, 10 ** 5].map((n) => defaultChains(n)),
    [3, 4, 20, 31, 32],
  );
  assert.equal(runSampler(gaussian(), { sampler: 'mala', n: 3, warmup: 0, thin: 1 }).chains, 3);
});

test("dw4 with com 'remove': the centroid stays 0 (≤ 1e-12) for every sampler, even from shifted starts", () => {
  const dw4 = createTarget('dw4');
  assert.ok(dw4.translationInvariant);
  const chains = 16;
  const init = dw4.initialConfigurations(new Rng(2), chains);
  for (let i = 0; i < init.length; i += 2) {
    init[i] += 3; // shift every row by (3, −1.5)
    init[i + 1] -= 1.5;
  }
  const extra: Record<string, Partial<SampleOptions>> = { hmc: { leapfrogSteps: 3 }, pt: { replicas: 3 }, langevin: { timestep: 0.002 } };
  for (const sampler of SAMPLER_NAMES) {
    const r = runSampler(createTarget('dw4'), { sampler, n: 64, chains, warmup: 200, thin: 10, seed: 4, init, ...extra[sampler] });
    assert.ok(maxCentroid(r.samples, r.n, 4, 2) <= 1e-12, `${sampler}: centroid ${maxCentroid(r.samples, r.n, 4, 2)}`);
  }
  // With 'keep' the shifted start is not re-centred and the centroid diffuses.
  const kept = runSampler(createTarget('dw4'), { sampler: 'mala', com: 'keep', n: 16, chains, warmup: 50, thin: 1, seed: 4, init });
  assert.ok(maxCentroid(kept.samples, kept.n, 4, 2) > 1);
});
