/**
 * GMM-40 has 40 well-separated modes, so no local kernel mixes across them
 * at T = 1. The test is therefore a stationarity test: MALA started from exact
 * samples must keep the exact distribution. After 100 MALA steps the C chains
 * are C independent draws (each chain's marginal stays exact, chains are
 * independent), compared with C fresh exact draws by two-sample tests:
 *   - means and covariance entries: z = Δ/√(s_a²/C + s_b²/C), |z| < 4;
 *   - squared distance to the nearest component mean (the within-mode spread,
 *     where a biased kernel shows first; unadjusted Langevin at this step
 *     inflates it by ≈ 1/(1 − h/(2σ²)) = 1.8×), same z-test;
 *   - occupancy of the 40 nearest-mean cells: two-sample χ² = Σ (a−b)²/(a+b)
 *     with 39 degrees of freedom, below 80 (p ≈ 1e-4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/targets/builtin.js';
import { Rng } from '../../src/core/rng.js';
import { createTarget } from '../../src/targets/registry.js';
import { GaussianMixtureTarget } from '../../src/targets/gmm40.js';
import { runSampler } from '../../src/samplers/run.js';
import { twoSampleZ } from './stats.js';

function nearestMean(means: Float64Array, x: Float64Array, o: number): { k: number; d2: number } {
  let best = { k: -1, d2: Infinity };
  for (let k = 0; k < means.length / 2; k++) {
    const d2 = (x[o] - means[2 * k]) ** 2 + (x[o + 1] - means[2 * k + 1]) ** 2;
    if (d2 < best.d2) best = { k, d2 };
  }
  return best;
}

/** Per-sample statistics [x, y, x², xy, y², d²_nearest] and the cell counts. */
function describe(means: Float64Array, x: Float64Array, n: number): { stats: Float64Array[]; cells: number[] } {
  const stats = Array.from({ length: 6 }, () => new Float64Array(n));
  const cells = new Array<number>(means.length / 2).fill(0);
  for (let i = 0; i < n; i++) {
    const a = x[2 * i];
    const b = x[2 * i + 1];
    const { k, d2 } = nearestMean(means, x, 2 * i);
    [a, b, a * a, a * b, b * b, d2].forEach((v, s) => (stats[s][i] = v));
    cells[k]++;
  }
  return { stats, cells };
}

test('MALA on gmm40 started from exact samples keeps the exact distribution (stationarity)', () => {
  const target = createTarget('gmm40');
  assert.ok(target instanceof GaussianMixtureTarget);
  const means = target.componentMeans();
  const C = 4000;
  const rng = new Rng(40);
  const start = target.sampleExact!(rng, C, 1);
  const reference = target.sampleExact!(rng, C, 1);
  // warmup 0: the step size h = 1.5 (h/σ² = 0.87) is fixed from the start.
  const r = runSampler(target, { sampler: 'mala', n: C, chains: C, warmup: 0, thin: 100, stepSize: 1.5, seed: 41, init: start });
  assert.ok(r.acceptance.sampling! > 0.5 && r.acceptance.sampling! < 0.95, `acceptance ${r.acceptance.sampling}`);
  // The chains moved: most final states differ from their starts.
  let moved = 0;
  for (let i = 0; i < C; i++) if (r.samples[2 * i] !== start[2 * i]) moved++;
  assert.ok(moved > 0.99 * C);

  const a = describe(means, r.samples, C);
  const b = describe(means, reference, C);
  const names = ['E[x]', 'E[y]', 'E[x²]', 'E[xy]', 'E[y²]', 'E[d²nearest]'];
  a.stats.forEach((v, s) => {
    const z = twoSampleZ(v, b.stats[s]);
    assert.ok(Math.abs(z) < 4, `${names[s]}: two-sample z = ${z.toFixed(2)}`);
  });
  let chi2 = 0;
  a.cells.forEach((ca, k) => {
    const cb = b.cells[k];
    if (ca + cb > 0) chi2 += (ca - cb) ** 2 / (ca + cb);
  });
  assert.ok(chi2 < 80, `mode occupancy χ² = ${chi2.toFixed(1)} (39 dof)`);
  // Every component is populated (expected 100 per cell).
  assert.ok(a.cells.every((c) => c > 40));
});
