/**
 * DW-4 at T = 1 with parallel tempering (ladder 1 → 5, K = 6, MALA local
 * moves). Statistics: the mean energy, the mean interparticle distance and
 * the histogram of the 6 pair distances (bins of width 0.5 on [0, 8)).
 *
 * Errors: per-chain averages over 500 rounds, i.i.d. over 64 independent PT
 * chains → between-chain SE (stats.ts). Two runs with different seeds are
 * compared by two-sample z; each run is compared with the cached reference
 * below by z = Δ/√(se² + se_ref²). Tolerance |z| < 4 for the two means and
 * |z| < 4.5 per histogram bin (≈ 10 populated bins, family-wise p ≈ 1e-4).
 *
 * Reference (computed once with this code, 2048 PT chains × 2000 rounds
 * with MALA local moves, and 1024 × 2000 with HMC local moves (L = 5),
 * 500 warm-up rounds each, seeds 1000–1007 and 1500–1503). The two agreed
 * (E: −22.5426 ± 0.0022 vs −22.5400 ± 0.0027; mean distance 4.04502 ± 0.0014
 * vs 4.04401 ± 0.0012); the values are their inverse-variance averages, and
 * the bins are the MALA run's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/targets/builtin.js';
import { createTarget } from '../../src/targets/registry.js';
import { runSampler, type SampleResult } from '../../src/samplers/run.js';
import { chainAverages, meanAndSe, twoSampleZ } from './stats.js';

const REF_ENERGY = { mean: -22.5416, se: 0.0017 };
const REF_DISTANCE = { mean: 4.04444, se: 0.0009 };
/** Fraction of pair distances per bin [0.5·b, 0.5·(b+1)), b = 0..15, with its SE. */
const REF_HIST: [number, number][] = [
  [0, 0], [0, 0], [0, 0], [0.00116378, 0.0000084], [0.120988, 0.00017], [0.289611, 0.0003], [0.073719, 0.00011], [0.00917322, 0.000031],
  [0.00886719, 0.000032], [0.0561931, 0.000074], [0.273125, 0.00027], [0.164936, 0.00025], [0.00222445, 0.000013], [0, 0], [0, 0], [0, 0],
];

const CHAINS = 64;
const ROUNDS = 500;

function run(seed: number): { result: SampleResult; stats: Float64Array[] } {
  const target = createTarget('dw4');
  const result = runSampler(target, { sampler: 'pt', n: CHAINS * ROUNDS, chains: CHAINS, warmup: 300, thin: 1, seed, temperature: 1, tMax: 5, replicas: 6 });
  assert.equal(result.evaluations.total, target.counter.total);
  const stats = chainAverages(result.samples, result.n, 8, CHAINS, (x, o) => {
    const v = new Array<number>(2 + 16).fill(0);
    for (let a = 0; a < 4; a++) {
      for (let b = a + 1; b < 4; b++) {
        const d = Math.hypot(x[o + 2 * a] - x[o + 2 * b], x[o + 2 * a + 1] - x[o + 2 * b + 1]);
        v[1] += d / 6;
        v[2 + Math.min(15, Math.floor(d / 0.5))] += 1 / 6;
      }
    }
    return v;
  });
  stats[0] = Float64Array.from({ length: CHAINS }, (_, c) => {
    let e = 0;
    for (let s = 0; s < ROUNDS; s++) e += result.energies[s * CHAINS + c] / ROUNDS;
    return e;
  });
  return { result, stats };
}

test('DW-4 PT at T = 1: two seeds agree with each other and with the long reference', () => {
  const a = run(1);
  const b = run(2);
  const checks: [string, number, { mean: number; se: number }][] = [
    ['mean energy', 0, REF_ENERGY],
    ['mean pair distance', 1, REF_DISTANCE],
  ];
  for (const [name, k, ref] of checks) {
    const z = twoSampleZ(a.stats[k], b.stats[k]);
    assert.ok(Math.abs(z) < 4, `${name}: runs differ, z = ${z.toFixed(2)}`);
    for (const r of [a, b]) {
      const { mean, se } = meanAndSe(r.stats[k]);
      const zr = (mean - ref.mean) / Math.hypot(se, ref.se);
      assert.ok(Math.abs(zr) < 4, `${name}: ${mean.toFixed(4)} ± ${se.toFixed(4)} vs reference ${ref.mean} (z ${zr.toFixed(2)})`);
      assert.ok(se < (k === 0 ? 0.05 : 0.03), `${name}: standard error ${se} too large for a meaningful test`);
    }
  }
  for (let bin = 0; bin < 16; bin++) {
    const [refMean, refSe] = REF_HIST[bin];
    if (refMean < 1e-3) continue;
    const z = twoSampleZ(a.stats[2 + bin], b.stats[2 + bin]);
    assert.ok(Math.abs(z) < 4.5, `bin ${bin}: runs differ, z = ${z.toFixed(2)}`);
    for (const r of [a, b]) {
      const { mean, se } = meanAndSe(r.stats[2 + bin]);
      const zr = (mean - refMean) / Math.hypot(se, refSe);
      assert.ok(Math.abs(zr) < 4.5, `bin ${bin}: ${mean.toFixed(5)} vs reference ${refMean} (z ${zr.toFixed(2)})`);
    }
  }
  // The ladder mixes: swaps are accepted and replicas travel the whole ladder.
  for (const r of [a.result, b.result]) {
    assert.ok(r.pt && r.pt.swapAcceptance.every((p) => p > 0.3), `swap acceptance ${r.pt?.swapAcceptance}`);
    assert.ok(r.pt.roundTrips > 10 * CHAINS, `round trips ${r.pt.roundTrips}`);
    assert.ok(Math.abs(r.acceptance.sampling! - 0.574) < 0.05);
  }
});
