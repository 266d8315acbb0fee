import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/core/rng.js';
import { readNpyFloat64 } from '../../src/io/npy.js';
import { readPdb } from '../../src/io/trajectory.js';
import { matMul, transpose } from '../../src/metrics/linalg.js';
import {
  fitPeptideTica,
  fitTica,
  peptideTicaFeatureSpec,
  peptideTicaWasserstein,
  projectPeptideTica,
  ticaFeatureCount,
  ticaFeatures,
  ticaProject,
  ticaWasserstein,
} from '../../src/metrics/tica.js';

const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
const skipData = existsSync(join(DATA, 'aldp/train_300K.npy')) && existsSync(join(DATA, 'al3/al3.pdb')) ? false : 'reference data ../shared/data not present';

/** Stationary AR(1) with unit variance: s_t = ρ s_{t−1} + sqrt(1 − ρ²) ε_t, s_0 ~ N(0, 1). */
function ar1(rho: number, n: number, rng: Rng): Float64Array {
  const s = new Float64Array(n);
  const c = Math.sqrt(1 - rho * rho);
  s[0] = rng.normal();
  for (let t = 1; t < n; t++) s[t] = rho * s[t - 1] + c * rng.normal();
  return s;
}

function correlation(x: ArrayLike<number>, y: ArrayLike<number>, n: number, strideX = 1, offX = 0): number {
  let mx = 0;
  let my = 0;
  for (let t = 0; t < n; t++) {
    mx += x[t * strideX + offX];
    my += y[t];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let t = 0; t < n; t++) {
    const a = x[t * strideX + offX] - mx;
    const b = y[t] - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxy / Math.sqrt(sxx * syy);
}

test('TICA on mixed AR(1) processes: λ₁ ≈ ρ₁^τ, λ₂ ≈ ρ₂^τ, component 1 is the slow coordinate', () => {
  const T = 100_000;
  const lag = 10;
  const rng = new Rng(2024);
  const slow = ar1(0.99, T, rng);
  const fast = ar1(0.5, T, rng);
  // x = M s with M = [[1, 0.6], [−0.4, 1]], plus an offset; M⁻¹ ∝ [[1, −0.6], [0.4, 1]], so the
  // slow coordinate is s₁ ∝ x₁ − 0.6 x₂.
  const x = new Float64Array(2 * T);
  for (let t = 0; t < T; t++) {
    x[2 * t] = slow[t] + 0.6 * fast[t] + 3;
    x[2 * t + 1] = -0.4 * slow[t] + fast[t] - 1;
  }
  const model = fitTica(x, T, 2, { lag });
  // Bartlett: var of the lag-k sample autocorrelation of an AR(1) is ≈ [(1+ρ²)(1−ρ^{2k})/(1−ρ²) − 2kρ^{2k}]/T
  // = 1.75/T for ρ = 0.99, k = 10 (sd 0.0042 at T = 1e5) and ≈ 1.67/T for ρ = 0.5 (sd 0.0041).
  // Tolerance 0.025 ≈ 6 sd.
  assert.equal(model.nComponents, 2);
  assert.ok(Math.abs(model.eigenvalues[0] - 0.99 ** lag) < 0.025, `λ1 = ${model.eigenvalues[0]}, expected ${0.99 ** lag}`);
  assert.ok(Math.abs(model.eigenvalues[1] - 0.5 ** lag) < 0.025, `λ2 = ${model.eigenvalues[1]}, expected ${0.5 ** lag}`);
  const [r1, r2] = [model.components[0], model.components[2]];
  const cos = (r1 * 1 + r2 * -0.6) / Math.hypot(r1, r2) / Math.hypot(1, -0.6);
  // The estimated direction deviates by O(1/√T) ≈ 0.01 rad; 0.999 allows 0.045 rad.
  assert.ok(Math.abs(cos) > 0.999, `component 1 = (${r1}, ${r2}), cos to (1, −0.6) = ${cos}`);
  assert.ok(Math.abs(model.components[0]) >= Math.abs(model.components[2]) && model.components[0] > 0, 'sign convention: largest entry positive');
  const y = ticaProject(model, x, T, 2);
  assert.ok(Math.abs(correlation(y, slow, T, 2, 0)) > 0.999);
  assert.ok(Math.abs(correlation(y, fast, T, 2, 1)) > 0.99);
  // Kinetic map: projection i has variance λ_i² (unit before scaling, since Rᵀ C0 R = I).
  let v1 = 0;
  for (let t = 0; t < T; t++) v1 += y[2 * t] ** 2;
  assert.ok(Math.abs(Math.sqrt(v1 / T) - model.eigenvalues[0]) < 0.01);
  const unscaled = ticaProject({ ...model, scaling: 'none' }, x.subarray(0, 2), 1, 1);
  assert.ok(Math.abs(unscaled[0] * model.eigenvalues[0] - y[0]) < 1e-12);
});

test('TICA solves Cτ r = λ C0 r with Rᵀ C0 R = I (covariances recomputed independently), dropping constant features', () => {
  const T = 3000;
  const F = 5;
  const lag = 3;
  const rng = new Rng(77);
  // Five smoothed random walks mixed together, plus a sixth, constant, feature (zero variance → dropped).
  const raw = [0.95, 0.8, 0.6, 0.3, 0.1].map((rho) => ar1(rho, T, rng));
  const x = new Float64Array(T * (F + 1));
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < F; i++) {
      let s = 0;
      for (let j = 0; j < F; j++) s += (i === j ? 1 : 0.3 * Math.sin(i + 2 * j)) * raw[j][t];
      x[t * (F + 1) + i] = s;
    }
    x[t * (F + 1) + F] = 2.5;
  }
  const f = F + 1;
  const model = fitTica(x, T, f, { lag });
  assert.equal(model.nComponents, F);
  // Definition: μ over both ends of the P = T − τ pairs; C0, Cτ symmetrised, divided by 2P.
  const P = T - lag;
  const mu = new Float64Array(f);
  for (let t = 0; t < P; t++) for (let i = 0; i < f; i++) mu[i] += (x[t * f + i] + x[(t + lag) * f + i]) / (2 * P);
  const c0 = new Float64Array(f * f);
  const ct = new Float64Array(f * f);
  for (let t = 0; t < P; t++) {
    for (let i = 0; i < f; i++) {
      for (let j = 0; j < f; j++) {
        const [ai, aj] = [x[t * f + i] - mu[i], x[t * f + j] - mu[j]];
        const [bi, bj] = [x[(t + lag) * f + i] - mu[i], x[(t + lag) * f + j] - mu[j]];
        c0[i * f + j] += (ai * aj + bi * bj) / (2 * P);
        ct[i * f + j] += (ai * bj + bi * aj) / (2 * P);
      }
    }
  }
  for (let i = 0; i < f; i++) assert.ok(Math.abs(model.mean[i] - mu[i]) < 1e-12);
  const m = model.nComponents;
  const R = model.components;
  const lhs = matMul(ct, R, f, f, m);
  const c0R = matMul(c0, R, f, f, m);
  let worst = 0;
  for (let i = 0; i < f; i++) for (let c = 0; c < m; c++) worst = Math.max(worst, Math.abs(lhs[i * m + c] - model.eigenvalues[c] * c0R[i * m + c]));
  assert.ok(worst < 1e-10, `generalised eigen residual ${worst}`);
  const gram = matMul(transpose(R, f, m), c0R, m, f, m);
  for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) assert.ok(Math.abs(gram[a * m + b] - (a === b ? 1 : 0)) < 1e-10);
  for (let c = 1; c < m; c++) assert.ok(model.eigenvalues[c] <= model.eigenvalues[c - 1]);
  assert.ok(model.eigenvalues[0] < 1 && model.eigenvalues[m - 1] > -1);
  for (let c = 0; c < m; c++) assert.ok(Math.abs(R[F * m + c]) < 1e-10, 'the constant feature gets no weight');
});

test('TICA input validation', () => {
  const x = new Rng(1).normals(20);
  assert.throws(() => fitTica(x, 10, 2, { lag: 10 }), /lag must be an integer in \[1, 9\]/);
  assert.throws(() => fitTica(x, 10, 2, { lag: 0 }), /lag/);
  assert.throws(() => fitTica(x, 10, 3, { lag: 1 }), /shape \[10, 3\] needs 30/);
  assert.throws(() => fitTica(new Float64Array(20).fill(1), 10, 2, { lag: 1 }), /constant/);
  const model = fitTica(x, 10, 2, { lag: 1 });
  assert.throws(() => ticaProject(model, x, 10, 3), /k must be an integer in \[1, 2\]/);
});

test('TICA-W1/W2: hand-computed exact OT on 1-D and 2-D projections', () => {
  // {0, 1} vs {0.5, 3}: best pairing 0↔0.5, 1↔3 for both orders.
  const a = Float64Array.from([0, 1]);
  const b = Float64Array.from([0.5, 3]);
  assert.ok(Math.abs(ticaWasserstein(a, 2, b, 2, 1) - Math.sqrt((0.25 + 4) / 2)) < 1e-14);
  assert.ok(Math.abs(ticaWasserstein(a, 2, b, 2, 1, { order: 1 }) - (0.5 + 2) / 2) < 1e-14);
  // 2-D: (0,0),(1,0) vs (1,1),(0,1): every pairing that keeps x costs 1 per pair → W2 = 1.
  assert.ok(Math.abs(ticaWasserstein(Float64Array.from([0, 0, 1, 0]), 2, Float64Array.from([1, 1, 0, 1]), 2, 2) - 1) < 1e-14);
  assert.equal(ticaWasserstein(a, 2, a, 2, 1), 0);
});

test('peptide TICA features: counts from the PDB elements and values by hand', { skip: skipData }, () => {
  const elements = (name: string): string[] => readPdb(join(DATA, name, `${name}.pdb`)).atoms.map((a) => a.element);
  const aldp = peptideTicaFeatureSpec('aldp', elements('aldp'));
  assert.deepEqual(aldp.distanceAtoms, [1, 4, 6, 8, 10, 14, 16, 18]); // CH3 C N CA CB C N CH3
  assert.equal(ticaFeatureCount(aldp), 28 + 4);
  assert.equal(ticaFeatureCount(peptideTicaFeatureSpec('aldp', elements('aldp'), { omega: 'all' })), 28 + 8);
  const al3 = peptideTicaFeatureSpec('al3', elements('al3'));
  assert.equal(al3.distanceAtoms.length, 12);
  assert.equal(ticaFeatureCount(al3), 66 + 12);
  assert.throws(() => peptideTicaFeatureSpec('aldp', elements('al3')), /33 element symbols; the target has 22 atoms/);

  const { data } = readNpyFloat64(join(DATA, 'aldp/train_300K.npy'), { cols: 66 });
  const row = data.subarray(0, 66);
  const feats = ticaFeatures(aldp, row, 1);
  const dist = (i: number, j: number): number => Math.hypot(row[3 * i] - row[3 * j], row[3 * i + 1] - row[3 * j + 1], row[3 * i + 2] - row[3 * j + 2]);
  assert.ok(Math.abs(feats[0] - dist(1, 4)) < 1e-15); // first pair (CH3, C) ≈ a C–C bond
  assert.ok(feats[0] > 0.13 && feats[0] < 0.17, `C–C bond ${feats[0]} nm`);
  assert.ok(Math.abs(feats[27] - dist(16, 18)) < 1e-15); // last pair
  for (let d = 0; d < 2; d++) assert.ok(Math.abs(feats[28 + 2 * d] ** 2 + feats[29 + 2 * d] ** 2 - 1) < 1e-14, 'sin² + cos² = 1');
});

test('peptide TICA on shuffled 300 K samples: eigenvalues are at the noise level, W2 separates 300 K from 1200 K', { skip: skipData }, () => {
  const elements = readPdb(join(DATA, 'aldp/aldp.pdb')).atoms.map((a) => a.element);
  const load = (f: string): Float64Array => readNpyFloat64(join(DATA, 'aldp', f), { cols: 66 }).data;
  const train = load('train_300K.npy');
  const tica = fitPeptideTica('aldp', elements, train, 10000);
  assert.equal(tica.model.lag, 100);
  // The splits are random subsets, not time-ordered: whitened Cτ is then a noise matrix whose
  // largest eigenvalue is ≈ 2·sqrt(m/(2P)) ≈ 0.07 for m ≈ 26 kept components and P = 9900 pairs
  // (semicircle edge); observed 0.06. A time-ordered 300 K trajectory would give λ₁ near 1.
  assert.ok(tica.model.eigenvalues[0] < 0.2, `λ1 = ${tica.model.eigenvalues[0]}`);
  const n = 400;
  const sub = (x: Float64Array): Float64Array => x.subarray(0, n * 66);
  const y = projectPeptideTica(tica, sub(train), n);
  assert.equal(y.length, 2 * n);
  const same = peptideTicaWasserstein(tica, sub(train), n, sub(load('val_300K.npy')), n);
  const hot = peptideTicaWasserstein(tica, sub(train), n, sub(load('train_1200K.npy')), n);
  // Observed ≈ 0.02 and ≈ 0.28 (kinetic-map units).
  assert.ok(hot > 5 * same, `W2 300K/300K ${same}, 300K/1200K ${hot}`);
});
