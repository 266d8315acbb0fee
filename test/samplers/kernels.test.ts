import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/targets/builtin.js';
import { Rng } from '../../src/core/rng.js';
import { NonFiniteError, UserError } from '../../src/core/errors.js';
import { maxCentroid } from '../../src/core/particles.js';
import { BaseTarget } from '../../src/targets/target.js';
import { createTarget } from '../../src/targets/registry.js';
import { GaussianTarget, GAUSSIAN2D_COVARIANCE } from '../../src/targets/gaussian.js';
import { StepSizeAdapter } from '../../src/samplers/adapt.js';
import { mala } from '../../src/samplers/mala.js';
import { hmc } from '../../src/samplers/hmc.js';
import { langevin } from '../../src/samplers/langevin.js';
import { meanAndSe, zScore } from './stats.js';

/** Half-Gaussian: E = x²/2 for x ≥ 0, +∞ for x < 0 (NaN below −5, to exercise NaN handling). */
class HalfGaussian extends BaseTarget {
  readonly name = 'half-gaussian';
  readonly dim = 1;
  readonly nParticles = 1;
  readonly spatialDim = 1;
  readonly translationInvariant = false;
  protected evalOne(x: Float64Array, off: number, forces: Float64Array | null, fOff: number): number {
    const v = x[off];
    if (forces) forces[fOff] = v >= 0 ? -v : v < -5 ? NaN : 0;
    return v >= 0 ? 0.5 * v * v : v < -5 ? NaN : Infinity;
  }
  initialConfigurations(rng: Rng, n: number): Float64Array {
    return rng.uniforms(n, 0.1, 2);
  }
}

test('MALA and HMC reject non-finite proposals, count them, and still sample the truncated density', () => {
  // Half-normal at T = 1: E[x] = √(2/π) = 0.7979. Error: per-chain averages
  // over 400 steps, i.i.d. over 200 chains → between-chain SE; |z| < 4.
  for (const make of [
    (t: HalfGaussian) => mala(t, { temperature: 1, stepSize: 0.8 }),
    (t: HalfGaussian) => hmc(t, { temperature: 1, stepSize: 0.5, leapfrogSteps: 4 }),
  ]) {
    const t = new HalfGaussian();
    const kernel = make(t);
    const rng = new Rng(12);
    const chains = 200;
    let s = kernel.init(t.initialConfigurations(rng, chains), rng);
    const avg = new Float64Array(chains);
    let nonFinite = 0;
    for (let step = 0; step < 500; step++) {
      const r = kernel.step(rng, s);
      s = r.state;
      nonFinite += r.info.nonFinite;
      for (let i = 0; i < chains; i++) {
        assert.ok(s.x[i] >= 0 && Number.isFinite(s.energy[i]));
        if (r.info.accepted[i] === 0) continue;
        assert.ok(r.info.acceptProb[i] > 0);
      }
      if (step >= 100) for (let i = 0; i < chains; i++) avg[i] += s.x[i] / 400;
    }
    assert.ok(nonFinite > 1000, `non-finite proposals counted: ${nonFinite}`);
    const z = zScore(avg, Math.sqrt(2 / Math.PI));
    assert.ok(Math.abs(z) < 4, `E[x] = ${meanAndSe(avg).mean} vs 0.7979 (z ${z.toFixed(2)})`);
  }
});

test('init refuses starting points with non-finite energy; Langevin stops with a NonFiniteError', () => {
  const t = new HalfGaussian();
  const rng = new Rng(1);
  assert.throws(() => mala(t, { temperature: 1 }).init(Float64Array.from([1, -1, 2]), rng), (e: Error) => e instanceof NonFiniteError && /rows 1/.test(e.message));
  assert.throws(() => hmc(t, { temperature: 1 }).init(Float64Array.from([NaN]), rng), NonFiniteError);
  const l = langevin(t, { temperature: 1, timestep: 0.5 });
  let s = l.init(Float64Array.from([0.01, 0.02, 0.05, 0.01]), rng);
  assert.throws(() => {
    for (let i = 0; i < 1000; i++) s = l.step(rng, s).state;
  }, /reduce the timestep/);
});

test('kernels validate their options', () => {
  const g = new GaussianTarget(GAUSSIAN2D_COVARIANCE);
  const rng = new Rng(1);
  assert.throws(() => mala(g, { temperature: -1 }), /temperature must be a positive number/);
  assert.throws(() => mala(g, { temperature: 1, stepSize: [0.1, 0.2] }).init(new Float64Array(6), rng), /stepSize has 2 entries; expected 1 or 3/);
  assert.throws(() => mala(g, { temperature: [1, 2] }).init(new Float64Array(6), rng), /temperature has 2 entries; expected 1 or 3/);
  assert.throws(() => hmc(g, { temperature: 1, leapfrogSteps: 0 }), /leapfrogSteps must be an integer ≥ 1/);
  assert.throws(() => hmc(g, { temperature: 1, mass: 0 }), /mass must be a positive number/);
  assert.throws(() => langevin(g, { temperature: 1, friction: -1 }), /friction must be a number ≥ 0/);
  assert.throws(() => mala(g, { temperature: 1, com: 'drop' as 'keep' }), /com must be 'remove' or 'keep'/);
  assert.throws(() => mala(g, { temperature: 1 }).init(new Float64Array(5), rng), UserError);
});

test('step-size adapter: one Robbins–Monro update moves log h by κ₀(ā − α*) per group', () => {
  const h0 = Float64Array.from([0.1, 0.1, 0.4, 0.4]);
  const a = new StepSizeAdapter(h0, { targetAcceptance: 0.5, rate: 0.2, groups: Int32Array.from([0, 0, 1, 1]) });
  const h1 = a.update(Float64Array.from([1, 0.8, 0.2, 0]));
  // group 0: ā = 0.9 → log h + 0.2·0.4; group 1: ā = 0.1 → log h − 0.2·0.4.
  assert.ok(Math.abs(h1[0] - 0.1 * Math.exp(0.08)) < 1e-15 && h1[0] === h1[1]);
  assert.ok(Math.abs(h1[2] - 0.4 * Math.exp(-0.08)) < 1e-15 && h1[2] === h1[3]);
  // Second update: κ = 0.2/√2.
  const h2 = a.update(Float64Array.from([0.5, 0.5, 1, 1]));
  assert.ok(Math.abs(h2[0] - h1[0]) < 1e-15);
  assert.ok(Math.abs(h2[2] - h1[2] * Math.exp((0.2 / Math.SQRT2) * 0.5)) < 1e-15);
  assert.equal(a.updates, 2);
  // 'global' starts from the geometric mean of the rows.
  const g = new StepSizeAdapter(Float64Array.from([0.1, 0.4]), { targetAcceptance: 0.5 });
  assert.ok(Math.abs(g.groupStepSizes()[0] - 0.2) < 1e-15);
  assert.throws(() => new StepSizeAdapter(h0, { targetAcceptance: 0 }), UserError);
  assert.throws(() => new StepSizeAdapter(h0, { targetAcceptance: 0.5, groups: new Int32Array(3) }), /3 entries; expected 4/);
  assert.throws(() => a.update(new Float64Array(2)), UserError);
});

test('Langevin with unequal masses on dw4: centroid stays 0, kinetic temperature equals T (equipartition on dim − 2 dof)', () => {
  // With com 'remove' the velocity increments are projected with P_M, the
  // M-orthogonal projection onto Σ_a v_a = 0; the constrained Maxwell–Boltzmann
  // law then gives E[Σ m v²] = k_B T (dim − spatialDim). Δt = 0.005 puts the
  // O(Δt²) velocity bias (Δt²ω²/4 ≈ 1e-3 for the stiffest pair mode,
  // ω² ≈ 2·16/m_min) below the error. The random starts release a lot of
  // energy, so 1000 steps (5 time units, 10 friction times) are discarded.
  // Error: per-chain time averages over 2000 steps, i.i.d. over 64 chains; |z| < 4.
  const target = createTarget('dw4');
  const rng = new Rng(21);
  const T = 1.3;
  const chains = 64;
  const kernel = langevin(target, { temperature: T, timestep: 0.005, friction: 2, masses: [1, 2, 3, 4] });
  let s = kernel.init(target.initialConfigurations(rng, chains), rng);
  const avg = new Float64Array(chains);
  for (let step = 0; step < 3000; step++) {
    const r = kernel.step(rng, s);
    s = r.state;
    if (step >= 1000) r.info.kineticTemperature.forEach((t, c) => (avg[c] += t / 2000));
  }
  assert.ok(maxCentroid(s.x, chains, 4, 2) <= 1e-12);
  const z = zScore(avg, T);
  assert.ok(Math.abs(z) < 4, `kinetic temperature ${meanAndSe(avg).mean} vs ${T} (z ${z.toFixed(2)})`);
  assert.ok(meanAndSe(avg).se < 0.03);
  // Unweighted velocity sum is 0 per axis (the constraint P_M enforces).
  for (let c = 0; c < chains; c++) {
    for (let d = 0; d < 2; d++) {
      let sum = 0;
      for (let a = 0; a < 4; a++) sum += s.v[c * 8 + a * 2 + d];
      assert.ok(Math.abs(sum) < 1e-12);
    }
  }
});
