import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { essBulk, essOf, normalQuantile, rankNormalize, rhatOf, splitRhat } from '../../src/samplers/diagnostics.js';
import { convergenceReport } from '../../src/samplers/convergence.js';

function iidChains(m: number, n: number, seed: number, shift: (c: number) => number = () => 0): Float64Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: m }, (_, c) => rng.normals(n).map((v) => v + shift(c)));
}

/** Stationary AR(1) chains x_t = ρ x_{t−1} + √(1−ρ²) ε_t, started from N(0, 1). */
function ar1Chains(m: number, n: number, rho: number, seed: number): Float64Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: m }, () => {
    const x = new Float64Array(n);
    x[0] = rng.normal();
    for (let t = 1; t < n; t++) x[t] = rho * x[t - 1] + Math.sqrt(1 - rho * rho) * rng.normal();
    return x;
  });
}

test('normalQuantile inverts the normal CDF at known points', () => {
  assert.equal(normalQuantile(0.5), 0);
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959963985) < 1e-8);
  assert.ok(Math.abs(normalQuantile(0.001) + 3.090232306) < 1e-8);
  assert.ok(Math.abs(normalQuantile(0.8413447461) - 1) < 1e-8);
});

test('rank normalization gives tied values one score and preserves order', () => {
  const z = rankNormalize([Float64Array.from([3, 1]), Float64Array.from([1, 2])]);
  // Pooled ranks: 1,1 → 1.5; 2 → 3; 3 → 4 over S = 4.
  assert.equal(z[0][1], z[1][0]);
  assert.ok(Math.abs(z[0][1] - normalQuantile((1.5 - 0.375) / 4.25)) < 1e-12);
  assert.ok(z[1][1] > z[0][1] && z[0][0] > z[1][1]);
});

test('i.i.d. normal chains: R̂ ≈ 1 and bulk ESS ≈ the number of draws', () => {
  const chains = iidChains(4, 1000, 1);
  const r = splitRhat(chains);
  assert.ok(r > 0.99 && r < 1.01, `R̂ ${r}`);
  const ess = essBulk(chains);
  assert.ok(ess > 3400 && ess < 4600, `ESS ${ess} of 4000`);
});

test('chains with shifted means: R̂ ≫ 1', () => {
  const chains = iidChains(4, 500, 2, (c) => c);
  const r = splitRhat(chains);
  assert.ok(r > 1.5, `R̂ ${r}`);
  // A chain drifting within itself is caught by the split even as a single chain.
  const drift = [Float64Array.from({ length: 400 }, (_, t) => t / 100 + 0.1 * Math.sin(t))];
  assert.ok(splitRhat(drift) > 1.5);
  // Chains that agree in location but not in scale are caught by the folded (tail) R̂.
  const scaled = iidChains(4, 1000, 3).map((c, k) => c.map((v) => v * (k < 2 ? 1 : 4)));
  assert.ok(rhatOf(scaled) < 1.01, 'classic R̂ misses a scale difference');
  assert.ok(splitRhat(scaled) > 1.05, `rank-normalized R̂ ${splitRhat(scaled)}`);
});

test('AR(1) chains: ESS matches n(1−ρ)/(1+ρ)', () => {
  for (const rho of [0.5, 0.9]) {
    const chains = ar1Chains(4, 20000, rho, 7);
    const expected = (4 * 20000 * (1 - rho)) / (1 + rho);
    for (const ess of [essOf(chains), essBulk(chains)]) {
      assert.ok(Math.abs(ess / expected - 1) < 0.1, `ρ=${rho}: ESS ${ess}, expected ${expected}`);
    }
  }
});

test('degenerate input: too few draws gives NaN; constant but different chains give R̂ = ∞', () => {
  assert.ok(Number.isNaN(splitRhat([Float64Array.from([1, 2, 3])])));
  assert.ok(Number.isNaN(essBulk([Float64Array.from([1, 2, 3])])));
  assert.equal(splitRhat([new Float64Array(10).fill(1), new Float64Array(10).fill(2)]), Infinity);
});

test('the report warns on R̂, ESS and round trips, and names the remedy', () => {
  const chains = 4;
  const draws = 200;
  const mk = (shift: number) => {
    const cs = iidChains(chains, draws, 5, (c) => (c === 0 ? shift : 0));
    const e = new Float64Array(chains * draws);
    for (let c = 0; c < chains; c++) for (let d = 0; d < draws; d++) e[d * chains + c] = cs[c][d];
    return e;
  };
  const good = mk(0);
  const base = { chains, drawsPerChain: draws, dim: 1, coordinatesIdentifiable: true, remedy: '--warmup' };
  const ok = convergenceReport({ ...base, x: good, energy: good });
  assert.deepEqual(ok.warnings, []);
  assert.equal(ok.converged, true);
  const bad = mk(5);
  const r = convergenceReport({ ...base, x: bad, energy: good, roundTrips: { total: 3, replicas: 8, walkers: 32 } });
  assert.equal(r.converged, false);
  assert.ok(r.coordinates.maxRhat > 1.5);
  assert.match(r.warnings.join('\n'), /R̂ .* for coordinate 0 .*lengthen --warmup/);
  assert.match(r.warnings.join('\n'), /3 round trip\(s\) during sampling, fewer than its 8 replicas/);
  assert.equal(r.roundTrips?.perReplica, 3 / 32);
  // Not identifiable (particle systems): coordinates are reported but do not warn.
  const p = convergenceReport({ ...base, x: bad, energy: good, coordinatesIdentifiable: false });
  assert.deepEqual(p.warnings, []);
  assert.match(convergenceReport({ ...base, drawsPerChain: 2, x: good, energy: good }).warnings[0], /only 2 draw\(s\) per chain/);
});
