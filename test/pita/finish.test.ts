import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { finishAnneal, type FinishConfig, type RelaxationKernelFactory } from '../../src/pita/finish.js';
import { hmc } from '../../src/samplers/hmc.js';
import { langevin } from '../../src/samplers/langevin.js';
import { mala } from '../../src/samplers/mala.js';
import { createTarget } from '../../src/targets/index.js';

/**
 * Proposal x ~ N(0, s²I) in 2-D with s = 1.5, presented as exp(−γU) with
 * U = ‖x‖²/(2s²), γ = 1. Reweighting with the true gaussian2d target
 * (Σ = [[1, 0.8], [0.8, 1]]) must recover Σ. With M = 20 000 and an ESS
 * fraction ≈ 0.4, the sd of each covariance entry is ≈ √(2/8000) ≈ 0.016;
 * tolerance 0.06 ≈ 4 sd.
 */
const M = 20000;
const s = 1.5;
function proposal(seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: 2 * M }, () => s * rng.normal());
}
const modelEnergy = async (x: Float64Array) => {
  const u = new Float64Array(x.length / 2);
  for (let i = 0; i < u.length; i++) u[i] = (x[2 * i] ** 2 + x[2 * i + 1] ** 2) / (2 * s * s);
  return u;
};
function covariance(x: Float64Array): [number, number, number] {
  const n = x.length / 2;
  let a = 0, b = 0, c = 0;
  for (let i = 0; i < n; i++) {
    a += x[2 * i] ** 2;
    b += x[2 * i] * x[2 * i + 1];
    c += x[2 * i + 1] ** 2;
  }
  return [a / n, b / n, c / n];
}
const base: FinishConfig = { temperature: 1, gamma: 1, finalReweight: { enabled: true, clampQuantile: null }, relaxation: { kernel: 'none', steps: 0, stepSize: 0.1 } };

test('final reweighting with the true energy turns a wrong proposal into the target', async () => {
  const target = createTarget('gaussian2d');
  const r = await finishAnneal(target, proposal(1), M, modelEnergy, base, new Rng(2));
  const [a, b, c] = covariance(r.x);
  assert.ok(Math.abs(a - 1) < 0.06 && Math.abs(b - 0.8) < 0.06 && Math.abs(c - 1) < 0.06, `cov ${a} ${b} ${c}`);
  assert.ok(r.reweightEss > 0.2 && r.reweightEss < 0.8, `ESS fraction ${r.reweightEss}`);
  // Evaluations: M for the reweight, M for the final energies and forces.
  assert.deepEqual(target.counter.breakdown(), { 'buffer-fill': M, 'final-reweight': M });
  // Without reweighting the proposal stays wrong (isotropic, variance 2.25).
  const raw = await finishAnneal(createTarget('gaussian2d'), proposal(1), M, modelEnergy, { ...base, finalReweight: { enabled: false, clampQuantile: null } }, new Rng(2));
  assert.ok(Math.abs(covariance(raw.x)[0] - 2.25) < 0.1);
});

test('MALA relaxation keeps the reweighted distribution, adapts its step size and reuses its energies', async () => {
  const target = createTarget('gaussian2d');
  const cfg: FinishConfig = { ...base, relaxation: { kernel: 'mala', steps: 30, stepSize: 0.01 } };
  const r = await finishAnneal(target, proposal(3), M, modelEnergy, cfg, new Rng(4));
  const [a, b, c] = covariance(r.x);
  assert.ok(Math.abs(a - 1) < 0.06 && Math.abs(b - 0.8) < 0.06 && Math.abs(c - 1) < 0.06, `cov ${a} ${b} ${c}`);
  assert.ok(r.relaxationStepSize! > 0.05, `step size adapted from 0.01 to ${r.relaxationStepSize}`);
  // 1 initial + 1 per sweep evaluation per particle; no separate buffer fill.
  assert.deepEqual(target.counter.breakdown(), { 'final-reweight': M, relaxation: M * 31 });
  for (let i = 0; i < M; i++) {
    const x0 = r.x[2 * i], x1 = r.x[2 * i + 1];
    // E = ½ xᵀΣ⁻¹x with Σ⁻¹ = [[1, −0.8], [−0.8, 1]]/0.36
    const e = (x0 * x0 - 1.6 * x0 * x1 + x1 * x1) / 0.72;
    assert.ok(Math.abs(r.energy[i] - e) < 1e-9);
  }
});

test('a set whose energies are all non-finite is reported, not resampled silently', async () => {
  const target = createTarget('gaussian2d');
  const bad = async () => new Float64Array(4).fill(NaN);
  await assert.rejects(finishAnneal(target, new Float64Array(8), 4, bad, base, new Rng(0)), /all 4 log-weights are −Inf/);
});

test('log-weights carried from the annealer enter the final reweight, and are resampled alone when it is off', async () => {
  // The model claims N(0, I) (U' = ‖x‖²/2) for particles that follow N(0, s²I); the annealer's carried
  // log-weights log N(x; 0, I) − log N(x; 0, s²I) (up to a constant) make up the difference.
  const claimed = async (x: Float64Array) => (await modelEnergy(x)).map((u) => u * s * s);
  const carriedFor = async (x: Float64Array) => (await modelEnergy(x)).map((u) => u - u * s * s);
  const x = proposal(5);
  const r = await finishAnneal(createTarget('gaussian2d'), x, M, claimed, base, new Rng(6), await carriedFor(x));
  const [a, b, c] = covariance(r.x);
  assert.ok(Math.abs(a - 1) < 0.06 && Math.abs(b - 0.8) < 0.06 && Math.abs(c - 1) < 0.06, `with carried weights: cov ${a} ${b} ${c}`);
  // Without them the wrong claim biases the result (the weights exp(−E + ‖x‖²/2) are even unbounded).
  const [a0] = covariance((await finishAnneal(createTarget('gaussian2d'), x, M, claimed, base, new Rng(6))).x);
  assert.ok(Math.abs(a0 - 1) > 0.15, `without carried weights: cov[0][0] ${a0}`);
  // Reweighting off: the carried weights alone turn N(0, s²I) into N(0, I).
  const off = await finishAnneal(createTarget('gaussian2d'), x, M, claimed, { ...base, finalReweight: { enabled: false, clampQuantile: null } }, new Rng(6), await carriedFor(x));
  const [a1, b1, c1] = covariance(off.x);
  assert.ok(Math.abs(a1 - 1) < 0.06 && Math.abs(b1) < 0.06 && Math.abs(c1 - 1) < 0.06, `carried weights only: cov ${a1} ${b1} ${c1}`);
  assert.ok(off.reweightEss < 0.9, `ESS fraction ${off.reweightEss}`);
});

test('relaxation takes a kernel factory: a custom HMC factory relaxes, adapts its step size and is given the rung temperature', async () => {
  const target = createTarget('gaussian2d');
  const calls: { temperature: number; stepSize: number }[] = [];
  const factory: RelaxationKernelFactory = (o) => {
    calls.push(o);
    return hmc(target, { ...o, leapfrogSteps: 5 });
  };
  const cfg: FinishConfig = { ...base, relaxation: { kernel: factory, steps: 20, stepSize: 0.1 } };
  const r = await finishAnneal(target, proposal(3), M, modelEnergy, cfg, new Rng(4));
  assert.deepEqual(calls, [{ temperature: 1, stepSize: 0.1 }]);
  const [a, b, c] = covariance(r.x);
  assert.ok(Math.abs(a - 1) < 0.06 && Math.abs(b - 0.8) < 0.06 && Math.abs(c - 1) < 0.06, `cov ${a} ${b} ${c}`);
  // Metropolis: acceptance reported (averaged over the steps, most of them taken while the step grows), and
  // the leapfrog step adapted from 0.1 toward 0.574 acceptance (≈ 0.46 after 20 steps).
  assert.ok(r.relaxationAcceptance! > 0.5 && r.relaxationAcceptance! < 1, `acceptance ${r.relaxationAcceptance}`);
  assert.ok(r.relaxationStepSize! > 0.3, `step size adapted from 0.1 to ${r.relaxationStepSize}`);
  // HMC: 1 initial evaluation + 5 leapfrog evaluations per step, per particle.
  assert.deepEqual(target.counter.breakdown(), { 'final-reweight': M, relaxation: M * (1 + 5 * 20) });
});

test('the config names are factories: mala and langevin by name, by factory and as a prebuilt kernel give identical results', async () => {
  const mk = () => createTarget('gaussian2d');
  const run = (kernel: FinishConfig['relaxation']['kernel'], target = mk()) =>
    finishAnneal(target, proposal(7), 2000, modelEnergy, { ...base, relaxation: { kernel, steps: 10, stepSize: 0.02 } }, new Rng(8));
  const byName = await run('mala');
  const t = mk();
  const byFactory = await run((o) => mala(t, o), t);
  assert.deepEqual(byFactory, byName);
  assert.notEqual(byName.relaxationStepSize, 0.02);
  const lByName = await run('langevin');
  const t2 = mk();
  const prebuilt = await run(langevin(t2, { temperature: 1, timestep: 0.02 }), t2);
  assert.deepEqual(prebuilt.x, lByName.x);
  assert.deepEqual(prebuilt.energy, lByName.energy);
  assert.equal(lByName.relaxationAcceptance, null);
  assert.equal(lByName.relaxationStepSize, 0.02);
  // A kernel built beforehand keeps its own step size, which finishAnneal does not know.
  assert.equal(prebuilt.relaxationStepSize, null);
  // Langevin moved the particles.
  assert.ok(lByName.x.some((v, i) => v !== byName.x[i]));
});
