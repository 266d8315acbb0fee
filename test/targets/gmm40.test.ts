import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { UserError } from '../../src/core/errors.js';
import { logProb } from '../../src/targets/target.js';
import { createGmm40, GMM40_MEANS, GMM40_STD } from '../../src/targets/gmm40.js';
import { forceFdError } from './finite-difference.js';

const K = 40;

test('means are the float32 values of torch.manual_seed(0); (torch.rand(40, 2) − 0.5)·2·40', () => {
  // Spot values and column sums printed with torch 1.13 (Debian python3-torch), sums taken in float64.
  assert.equal(GMM40_MEANS.length, 80);
  assert.equal(GMM40_MEANS[0], -0.2994728088378906);
  assert.equal(GMM40_MEANS[1], 21.457744598388672);
  assert.equal(GMM40_MEANS[26], 36.21904754638672);
  assert.equal(GMM40_MEANS[41], -20.5073394775390625); // torch prints −20.507339477539062 (same double)
  assert.equal(GMM40_MEANS[79], -25.024213790893555);
  for (const v of GMM40_MEANS) assert.equal(Math.fround(v), v, `${v} is not a float32 value`);
  const sum = (c: number) => GMM40_MEANS.filter((_, i) => i % 2 === c).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum(0) - -85.62051773071289) < 1e-11);
  assert.ok(Math.abs(sum(1) - 49.601531982421875) < 1e-11);
  assert.equal(GMM40_STD, Math.log(1 + Math.E));
  assert.ok(Math.abs(GMM40_STD - 1.3132616875182228) < 1e-15);
});

// log p and ∇ log p from FAB's GMM in float64 torch:
//   torch.manual_seed(0); m = ((torch.rand(40, 2) - 0.5) * 2 * 40).double(); s = math.log1p(math.e)
//   g = MixtureSameFamily(Categorical(logits=torch.ones(40)), MultivariateNormal(m, scale_tril=diag_embed(full((40, 2), s))))
//   lp = g.log_prob(pts); grad = torch.autograd.grad(lp.sum(), pts)
const TORCH_REFERENCE: { x: [number, number]; logp: number; grad: [number, number] }[] = [
  { x: [0, 0], logp: -23.316347949181434, grad: [-3.7372204124463884, 2.454850005532235] },
  { x: [-0.2994728088378906, 21.457744598388672], logp: -6.071784281528395, grad: [-1.5202370242638522e-14, 3.1253001981338666e-13] },
  { x: [10, -10], logp: -54.4422856152281, grad: [4.859687384274008, 1.2558480538471626] },
  { x: [3.7, -25], logp: -6.070700290797871, grad: [-0.013023280721841581, -0.01044808428060399] },
  { x: [60, 60], logp: -367.0118967532222, grad: [-14.606799161531336, -14.325017113624101] },
  { x: [1000, -1000], logp: -538095.0384183708, grad: [-558.8249524619484, 558.3102018925812] },
];

test('log p at T = 1 and forces equal torch MixtureSameFamily log_prob and its gradient', () => {
  const t = createGmm40();
  const x = Float64Array.from(TORCH_REFERENCE.flatMap((r) => r.x));
  const { energy, forces } = t.energyAndForces(x);
  const lp1 = logProb(t, energy, 1);
  const lp3 = logProb(t, energy, 3);
  TORCH_REFERENCE.forEach((r, i) => {
    assert.ok(Math.abs(lp1[i] - r.logp) <= 1e-12 * Math.max(1, Math.abs(r.logp)), `x = ${r.x}: ${lp1[i]} vs ${r.logp}`);
    assert.ok(Math.abs(lp3[i] - r.logp / 3) <= 1e-12 * Math.max(1, Math.abs(r.logp)));
    for (let d = 0; d < 2; d++) {
      assert.ok(Math.abs(forces[2 * i + d] - r.grad[d]) <= 1e-10 * Math.max(1, Math.abs(r.grad[d])), `x = ${r.x}: force ${forces[2 * i + d]} vs ${r.grad[d]}`);
    }
  });
});

test('forces match central finite differences (rel. ∞-norm error ≤ 1e-6) at random points', () => {
  const t = createGmm40();
  const rng = new Rng(31);
  const x = t.initialConfigurations(rng, 20);
  for (let i = 0; i < 20; i++) {
    const err = forceFdError(t, x.slice(2 * i, 2 * i + 2));
    assert.ok(err <= 1e-6, `point ${x[2 * i]}, ${x[2 * i + 1]}: FD error ${err}`);
  }
});

interface GridMoments {
  z: number;
  mean: number[];
  cov: number[];
  cellMass: number[];
  /** E[min_k |x − μ_k|²]: squared distance to the nearest mean, sensitive to the component width. */
  nearestD2: number;
}

/**
 * Midpoint-rule integrals of p_T ∝ exp(−E/T), for each T in `temperatures`,
 * on [−60, 60]² with spacing 0.1 (means lie within ±40, so the box reaches
 * ≥ 15 σ·√2 beyond every mode, and h/σ = 0.076 makes the rule exact to far
 * below the tolerances used): the normaliser ∫exp(−E/T), the mean, the
 * covariance, the mass of each mode's Voronoi cell (points nearest to that
 * mean) and the mean squared distance to the nearest mean. Computed once for
 * all tests.
 */
function gridMoments(temperatures: number[]): GridMoments[] {
  const t = createGmm40();
  const h = 0.1;
  const m = 1200;
  const row = new Float64Array(2 * m);
  const acc = temperatures.map(() => ({ z: 0, s1: [0, 0], s2: [0, 0, 0], cell: new Float64Array(K), d2: 0 }));
  for (let i = 0; i < m; i++) {
    const px = -60 + h * (i + 0.5);
    for (let j = 0; j < m; j++) {
      row[2 * j] = px;
      row[2 * j + 1] = -60 + h * (j + 0.5);
    }
    const e = t.energy(row);
    for (let j = 0; j < m; j++) {
      const py = row[2 * j + 1];
      const mode = nearestMode(px, py);
      const d2 = (px - GMM40_MEANS[2 * mode]) ** 2 + (py - GMM40_MEANS[2 * mode + 1]) ** 2;
      temperatures.forEach((temp, c) => {
        const a = acc[c];
        const w = Math.exp(-e[j] / temp) * h * h;
        a.z += w;
        a.s1[0] += w * px;
        a.s1[1] += w * py;
        a.s2[0] += w * px * px;
        a.s2[1] += w * px * py;
        a.s2[2] += w * py * py;
        a.cell[mode] += w;
        a.d2 += w * d2;
      });
    }
  }
  return acc.map(({ z, s1, s2, cell, d2 }) => {
    const mean = [s1[0] / z, s1[1] / z];
    const cov = [s2[0] / z - mean[0] ** 2, s2[1] / z - mean[0] * mean[1], s2[2] / z - mean[1] ** 2];
    return { z, mean, cov, cellMass: Array.from(cell, (c) => c / z), nearestD2: d2 / z };
  });
}

const [GRID_T1, GRID_T2] = gridMoments([1, 2]);

function nearestMode(px: number, py: number): number {
  let best = 0;
  let bestD = Infinity;
  for (let k = 0; k < K; k++) {
    const d = (px - GMM40_MEANS[2 * k]) ** 2 + (py - GMM40_MEANS[2 * k + 1]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

/**
 * Compares exact samples with the expected mean [mx, my], covariance
 * [cxx, cxy, cyy], Voronoi cell masses and mean squared nearest-mean
 * distance. Mean, covariance entries and that distance must
 * lie within 4.5 Monte-Carlo standard errors (SE of a mean: √(var/n); SE of a
 * covariance entry: sd of the centred products / √n, estimated from the
 * sample; the same for the distance). Cell counts: Pearson χ² with 39 degrees of freedom (mean 39, sd
 * √78 ≈ 8.8) must stay below 39 + 5·8.8 = 83.
 */
function checkSamples(x: Float64Array, { mean, cov, cellMass, nearestD2 }: Omit<GridMoments, 'z'>): void {
  const n = x.length / 2;
  const sm = [0, 0];
  for (let i = 0; i < n; i++) {
    sm[0] += x[2 * i] / n;
    sm[1] += x[2 * i + 1] / n;
  }
  assert.ok(Math.abs(sm[0] - mean[0]) < 4.5 * Math.sqrt(cov[0] / n), `mean x ${sm[0]} vs ${mean[0]}`);
  assert.ok(Math.abs(sm[1] - mean[1]) < 4.5 * Math.sqrt(cov[2] / n), `mean y ${sm[1]} vs ${mean[1]}`);
  const pairs: [number, number][] = [[0, 0], [0, 1], [1, 1]];
  pairs.forEach(([a, b], c) => {
    let s = 0;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const p = (x[2 * i + a] - mean[a]) * (x[2 * i + b] - mean[b]);
      s += p;
      ss += p * p;
    }
    const est = s / n;
    const se = Math.sqrt((ss / n - est * est) / n);
    assert.ok(Math.abs(est - cov[c]) < 4.5 * se, `cov[${a}${b}] ${est} vs ${cov[c]} (se ${se})`);
  });
  const counts = new Float64Array(K);
  let d2 = 0;
  let d4 = 0;
  for (let i = 0; i < n; i++) {
    const k = nearestMode(x[2 * i], x[2 * i + 1]);
    counts[k]++;
    const r2 = (x[2 * i] - GMM40_MEANS[2 * k]) ** 2 + (x[2 * i + 1] - GMM40_MEANS[2 * k + 1]) ** 2;
    d2 += r2 / n;
    d4 += (r2 * r2) / n;
  }
  const seD2 = Math.sqrt((d4 - d2 * d2) / n);
  assert.ok(Math.abs(d2 - nearestD2) < 4.5 * seD2, `mean squared nearest-mean distance ${d2} vs ${nearestD2} (se ${seD2})`);
  let chi2 = 0;
  for (let k = 0; k < K; k++) chi2 += (counts[k] - n * cellMass[k]) ** 2 / (n * cellMass[k]);
  assert.ok(chi2 < 83, `χ² of nearest-mode counts = ${chi2} (39 dof)`);
}

test('T = 1: grid integral of exp(−E) is 1 (normalised) and its moments equal the analytic mixture moments', () => {
  const g = GRID_T1;
  assert.ok(Math.abs(g.z - 1) < 1e-9, `∫exp(−E) = ${g.z}`);
  const { mean, cov } = analyticMoments();
  for (let d = 0; d < 2; d++) assert.ok(Math.abs(g.mean[d] - mean[d]) < 1e-8);
  for (let c = 0; c < 3; c++) assert.ok(Math.abs(g.cov[c] - cov[c]) < 1e-6);
});

/** Mixture moments: mean μ̄ = (1/K)Σμ_k; covariance σ²I + (1/K)Σ(μ_k − μ̄)(μ_k − μ̄)ᵀ. */
function analyticMoments() {
  const mean = [0, 0];
  for (let k = 0; k < K; k++) {
    mean[0] += GMM40_MEANS[2 * k] / K;
    mean[1] += GMM40_MEANS[2 * k + 1] / K;
  }
  const s2 = GMM40_STD ** 2;
  const cov = [s2, 0, s2];
  for (let k = 0; k < K; k++) {
    const dx = GMM40_MEANS[2 * k] - mean[0];
    const dy = GMM40_MEANS[2 * k + 1] - mean[1];
    cov[0] += (dx * dx) / K;
    cov[1] += (dx * dy) / K;
    cov[2] += (dy * dy) / K;
  }
  return { mean, cov };
}

test('sampleExact at T = 1 matches the mixture mean, covariance and nearest-mode masses', () => {
  const t = createGmm40();
  const x = t.sampleExact(new Rng(32), 40_000, 1);
  const { mean, cov } = analyticMoments();
  checkSamples(x, { ...GRID_T1, mean, cov });
  assert.equal(t.counter.total, 0, 'exact sampling must not count energy evaluations');
});

test('sampleExact at T = 2 (rejection) matches grid moments and nearest-mode masses of GMM(x)^(1/2)', () => {
  const x = createGmm40().sampleExact(new Rng(33), 40_000, 2);
  checkSamples(x, GRID_T2);
});

test('sampleExact refuses T < 1 and bad counts; initialConfigurations are uniform in [−50, 50]²', () => {
  const t = createGmm40();
  assert.throws(() => t.sampleExact(new Rng(1), 10, 0.5), (e: unknown) => e instanceof UserError && /temperature ≥ 1 only, got 0.5/.test(e.message));
  assert.throws(() => t.sampleExact(new Rng(1), 10, -1), /temperature must be a positive number, got -1/);
  assert.throws(() => t.sampleExact(new Rng(1), 2.5, 1), /non-negative integer, got 2.5/);
  const n = 20_000;
  const x = t.initialConfigurations(new Rng(34), n);
  assert.equal(x.length, 2 * n);
  let mean = 0;
  for (const v of x) {
    assert.ok(v >= -50 && v < 50);
    mean += v / x.length;
  }
  // U(−50, 50) has sd 100/√12 = 28.9; the mean of 2n draws has SE 28.9/√40000 = 0.144; 5 SE = 0.72.
  assert.ok(Math.abs(mean) < 0.72, `mean ${mean}`);
});
