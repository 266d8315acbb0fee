/**
 * Score and energy models (algorithm spec §3.1) against closed forms: a
 * linear field F(c, y, β) = y·W + c·v + β·u makes D_S, U, ∇ₓU and D_E
 * analytic (float64 references in helpers.ts); the inner-product identity
 * with a constant field; ∂U/∂t by autodiff against central differences.
 * Tolerances: float32 evaluation of O(1–10) quantities, relMax 2e-5 unless stated.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import {
  energy,
  energyDenoiser,
  energyGradients,
  energyModelScore,
  energyTimeGradients,
  preconditioning,
  scoreDenoiser,
  scoreModelScore,
} from '../../src/diffusion/models.js';
import { EdmSchedule } from '../../src/diffusion/schedule.js';
import { createMlp } from '../../src/nets/mlp.js';
import * as T from '../../src/tensor/index.js';
import { hostEnergy, hostEnergyDenoiser, hostEnergyGrad, hostScoreDenoiser, linearField, randomLinear, relMax, row } from './helpers.js';

before(async () => {
  await T.initTensorBackend();
});

const B = 5;
const D = 4;
/** Noise levels spanning the schedule, float32-exact. */
const SIGMAS = Float64Array.from([0.01, 0.07, 0.6, 3.2, 45].map(Math.fround));

function inputs(seed: number) {
  const rng = new Rng(seed);
  const x = rng.normals(B * D).map((v) => Math.fround(2 * v));
  return { rng, x };
}

/** Evaluate `f` on uploaded (x, σ, β) and read the result (float64). */
function run(f: (x: T.Tensor, s: T.Tensor, b: T.Tensor | null) => T.Tensor, x: Float64Array, beta: number | null): Float64Array {
  return T.scope(() => T.readF64Sync(f(T.fromF64(x, [B, D]), T.fromF64(SIGMAS, [B, 1]), beta === null ? null : T.full([B, 1], beta))));
}

function hostRows(fn: (xr: Float64Array, s: number) => ArrayLike<number> | number, x: Float64Array): Float64Array {
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    const v = fn(row(x, b, D), SIGMAS[b]);
    if (typeof v === 'number') out.push(v);
    else out.push(...Array.from(v));
  }
  return Float64Array.from(out);
}

describe('EDM preconditioning', () => {
  test('c_skip = 1/(1+σ²), c_in = 1/√(1+σ²), c_out = σ/√(1+σ²), c_noise = ¼ ln σ', () => {
    const p = T.scope(() => {
      const q = preconditioning(T.fromF64(SIGMAS, [B, 1]));
      return { cSkip: T.readF64Sync(q.cSkip), cIn: T.readF64Sync(q.cIn), cOut: T.readF64Sync(q.cOut), cNoise: T.readF64Sync(q.cNoise) };
    });
    const h = SIGMAS.map((s) => s * s);
    assert.ok(relMax(p.cSkip, h.map((v) => 1 / (1 + v))) < 1e-6);
    assert.ok(relMax(p.cIn, h.map((v) => 1 / Math.sqrt(1 + v))) < 1e-6);
    assert.ok(relMax(p.cOut, SIGMAS.map((s) => s / Math.sqrt(1 + s * s))) < 1e-6);
    assert.ok(relMax(p.cNoise, SIGMAS.map((s) => Math.log(s) / 4)) < 1e-6);
  });
});

describe('score and energy models with a linear field (closed forms)', () => {
  for (const beta of [null, 1.33]) {
    test(`D_S, s_θ, U, ∇ₓU, −∇ₓU and D_E match float64 (β = ${beta})`, () => {
      const { rng, x } = inputs(3);
      const { store, p } = randomLinear(rng, D, 0.7, beta !== null);
      const F = linearField(store);
      const ds = run((xt, s, b) => scoreDenoiser(F, xt, s, b), x, beta);
      const dsRef = hostRows((xr, s) => hostScoreDenoiser(p, xr, s, beta), x);
      assert.ok(relMax(ds, dsRef) < 2e-6, `D_S relMax ${relMax(ds, dsRef)}`);
      // s = (D_S − x)/σ²: compare per row (σ spans 4 decades, so per-row scale).
      const sc = run((xt, s, b) => scoreModelScore(F, xt, s, b), x, beta);
      for (let b = 0; b < B; b++) {
        const ref = row(dsRef, b, D).map((v, j) => (v - x[b * D + j]) / SIGMAS[b] ** 2);
        // D_S − x loses float32 digits when σ is small (D_S ≈ x); measured relMax ≤ 4e-6 at σ = 0.01.
        assert.ok(relMax(row(sc, b, D), ref) < 1e-5, `row ${b}: score ${row(sc, b, D)} vs ${ref}`);
      }
      const u = run((xt, s, b) => energy(F, xt, s, b), x, beta);
      const uRef = hostRows((xr, s) => hostEnergy(p, xr, s, beta), x);
      assert.ok(relMax(u, uRef) < 2e-5, `U relMax ${relMax(u, uRef)}: ${u} vs ${uRef}`);
      const gRef = hostRows((xr, s) => hostEnergyGrad(p, xr, s, beta), x);
      const negG = run((xt, s, b) => energyModelScore(F, xt, s, b), x, beta);
      assert.ok(relMax(negG.map((v) => -v), gRef) < 2e-5, `−∇U relMax ${relMax(negG.map((v) => -v), gRef)}`);
      const de = run((xt, s, b) => energyDenoiser(F, xt, s, b), x, beta);
      const deRef = hostRows((xr, s) => hostEnergyDenoiser(p, xr, s, beta), x);
      assert.ok(relMax(de, deRef) < 5e-5, `D_E relMax ${relMax(de, deRef)}`);
      store.dispose();
    });
  }

  test('energyGradients: per-row U and ∇ₓU from one pass; ∂U/∂σ matches a float64 central difference', () => {
    const { rng, x } = inputs(5);
    const { store, p } = randomLinear(rng, D, 0.5);
    const F = linearField(store);
    const g = T.scope(() => {
      const r = energyGradients(F, T.fromF64(x, [B, D]), T.fromF64(SIGMAS, [B, 1]), null);
      return { u: T.readF64Sync(r.energy), gx: T.readF64Sync(r.gradX), gs: T.readF64Sync(r.gradSigma), shape: T.shapeOf(r.energy) };
    });
    assert.deepEqual(g.shape, [B, 1]);
    assert.ok(relMax(g.u, hostRows((xr, s) => hostEnergy(p, xr, s, null), x)) < 2e-5);
    assert.ok(relMax(g.gx, hostRows((xr, s) => hostEnergyGrad(p, xr, s, null), x)) < 2e-5);
    for (let b = 0; b < B; b++) {
      const s = SIGMAS[b];
      const d = 1e-6 * s;
      const fd = (hostEnergy(p, row(x, b, D), s + d, null) - hostEnergy(p, row(x, b, D), s - d, null)) / (2 * d);
      assert.ok(Math.abs(g.gs[b] - fd) < 1e-4 * Math.abs(fd) + 1e-5, `row ${b} (σ=${s}): ∂U/∂σ ${g.gs[b]} vs FD ${fd}`);
    }
    store.dispose();
  });
});

describe('inner-product identity (spec §3.1)', () => {
  test('with F_E ≡ F_S ≡ constant c, −∇ₓU equals (D_S − x)/σ² to float32 tolerance', () => {
    const { rng, x } = inputs(8);
    const c = rng.normals(D).map((v) => Math.fround(v));
    const constant = (_c: T.Tensor, y: T.Tensor) => T.add(T.mul(y, 0), T.fromF64(c, [1, D]));
    const sigmas = Float64Array.from([0.05, 0.3, 1, 4, 20].map(Math.fround));
    const both = T.scope(() => {
      const xt = T.fromF64(x, [B, D]);
      const st = T.fromF64(sigmas, [B, 1]);
      return { e: T.readF64Sync(energyModelScore(constant, xt, st, null)), s: T.readF64Sync(scoreModelScore(constant, xt, st, null)) };
    });
    for (let b = 0; b < B; b++) {
      // Analytic: −x/(1+σ²) + c/(σ√(1+σ²)).
      const h = sigmas[b] ** 2;
      const ref = row(x, b, D).map((xi, j) => -xi / (1 + h) + c[j] / (sigmas[b] * Math.sqrt(1 + h)));
      assert.ok(relMax(row(both.e, b, D), ref) < 1e-5, `energy score row ${b}`);
      assert.ok(relMax(row(both.s, b, D), ref) < 1e-4, `score-model score row ${b}: ${row(both.s, b, D)} vs ${ref}`);
      assert.ok(relMax(row(both.e, b, D), row(both.s, b, D)) < 1e-4);
    }
  });
});

describe('∂U/∂t by autodiff (spec §11.4)', () => {
  test('real MLP F_E: energyTimeGradients.dEnergyDt matches a central difference in t (float32, relative 1e-2)', async () => {
    const rng = new Rng(21);
    const net = createMlp({ dim: D, hidden: 16, layers: 2, conditionOnTemperature: true }, rng);
    const schedule = new EdmSchedule({ sigmaMin: 0.01 });
    const x = rng.normals(B * D);
    const times = Float64Array.from([0.15, 0.3, 0.5, 0.7, 0.9]);
    const r = await energyTimeGradients(net.apply, schedule, x, B, times, 2);
    const uAt = async (t: Float64Array) => (await energyTimeGradients(net.apply, schedule, x, B, t, 2)).energy;
    for (let b = 0; b < B; b++) {
      // Step δ = 1e-3 · t: truncation O(δ²) ≪ 1e-2; float32 rounding of U (~1e-7·|U|) over 2δ stays below 1e-3 relative here.
      const d = 1e-3 * times[b];
      const up = Float64Array.from(times);
      const dn = Float64Array.from(times);
      up[b] += d;
      dn[b] -= d;
      const fd = ((await uAt(up))[b] - (await uAt(dn))[b]) / (2 * d);
      assert.ok(Math.abs(r.dEnergyDt[b] - fd) < 1e-2 * Math.abs(fd), `row ${b} (t=${times[b]}): ∂U/∂t ${r.dEnergyDt[b]} vs FD ${fd}`);
    }
    // The same rows' U and ∇U agree with the plain energy and energyGradX paths.
    const u = T.scope(() => energy(net.apply, T.fromF64(x, [B, D]), T.fromF64(times.map((t) => schedule.sigma(t)), [B, 1]), T.full([B, 1], 2)));
    const direct = await T.readF64(u);
    T.dispose(u);
    assert.ok(relMax(r.energy, direct) < 1e-6);
    net.params.dispose();
  });

  test('linear field: ∂U/∂t = ∂U/∂σ·dσ/dt matches the float64 closed form', async () => {
    const { rng, x } = inputs(9);
    const { store, p } = randomLinear(rng, D, 0.6);
    const schedule = new EdmSchedule();
    const t = 0.4;
    const r = await energyTimeGradients(linearField(store), schedule, x, B, t, null);
    for (let b = 0; b < B; b++) {
      const dt = 1e-6;
      const fd = (hostEnergy(p, row(x, b, D), schedule.sigma(t + dt), null) - hostEnergy(p, row(x, b, D), schedule.sigma(t - dt), null)) / (2 * dt);
      assert.ok(Math.abs(r.dEnergyDt[b] - fd) < 1e-4 * Math.abs(fd), `row ${b}: ${r.dEnergyDt[b]} vs ${fd}`);
    }
    store.dispose();
  });
});

describe('input validation', () => {
  test('wrong shapes name what was found and what is expected', () => {
    const F = (_c: T.Tensor, y: T.Tensor) => y;
    T.scope(() => {
      const x = T.zeros([3, 2]);
      assert.throws(() => energy(F, x, T.full([2, 1], 1), null), /sigma must have shape \[3, 1\].*got \[2, 1\]/);
      assert.throws(() => scoreDenoiser(F, x, T.full([3, 1], 1), T.full([3, 2], 1)), /beta must have shape \[3, 1\] or be null, got \[3, 2\]/);
      const bad = (_c: T.Tensor, y: T.Tensor) => T.slice(y, [0, 0], [3, 1]);
      assert.throws(() => scoreDenoiser(bad, x, T.full([3, 1], 1), null), /network returned shape \[3, 1\], expected \[3, 2\]/);
    });
  });
});
