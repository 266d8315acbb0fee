import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/core/rng.js';
import { readNpyFloat64 } from '../../src/io/npy.js';
import { peptideRamachandranKL, ramachandranHistogram, ramachandranKL } from '../../src/metrics/ramachandran.js';

const DATA = fileURLToPath(new URL('../../../shared/data/aldp/', import.meta.url));
const skipData = existsSync(join(DATA, 'train_300K.npy')) ? false : 'reference data ../shared/data/aldp not present';

/** n angle pairs placed at the centres of the given 2×2 bins (bin 0: (−π, 0), bin 1: [0, π)). */
function pairsInBins(counts: [number, number, number, number]): { x: Float64Array; n: number } {
  const centre = [-Math.PI / 2, Math.PI / 2];
  const pts: number[] = [];
  counts.forEach((c, b) => {
    for (let k = 0; k < c; k++) pts.push(centre[b >> 1], centre[b & 1]);
  });
  return { x: Float64Array.from(pts), n: pts.length / 2 };
}

test('histogram: density normalisation, bin placement and wrapping', () => {
  const bins = 4; // width π/2, area π²/4; bins at φ: [−π,−π/2), [−π/2,0), [0,π/2), [π/2,π)
  const x = Float64Array.from([
    0.1, 0.1, // (2, 2)
    -Math.PI, 3.0, // (0, 3)
    Math.PI, -0.1, // π wraps to −π → (0, 1)
    1.5 * Math.PI, 0.1 + 2 * Math.PI, // 3π/2 ≡ −π/2 → (1, 2)
  ]);
  const h = ramachandranHistogram(x, 4, { bins });
  const area = (Math.PI / 2) ** 2;
  const w = 1 / (4 * area);
  const expected = new Float64Array(16);
  expected[2 * 4 + 2] = w;
  expected[0 * 4 + 3] = w;
  expected[0 * 4 + 1] = w;
  expected[1 * 4 + 2] = w;
  assert.deepEqual(h, expected);
  assert.ok(Math.abs(h.reduce((s, v) => s + v, 0) * area - 1) < 1e-15);
  assert.equal(ramachandranHistogram(x, 4).length, 64 * 64);
  assert.throws(() => ramachandranHistogram(x, 3), /shape \[3, 2\] needs 6/);
  assert.throws(() => ramachandranHistogram(Float64Array.from([NaN, 0]), 1), /NaN or Inf/);
  assert.throws(() => ramachandranHistogram(new Float64Array(0), 0), /at least one/);
  assert.throws(() => ramachandranHistogram(x, 4, { bins: 0 }), /positive integer/);
});

test('Rama-KL of a set with itself is 0', () => {
  const x = new Rng(5).uniforms(2000, -Math.PI, Math.PI);
  assert.equal(ramachandranKL(x, 1000, x, 1000), 0);
  assert.equal(ramachandranKL(x, 1000, x, 1000, { bins: 100, direction: 'generated-reference' }), 0);
});

test('Rama-KL: hand-computed 2×2 histograms, both directions', () => {
  // ref counts [2, 1, 1, 0] / 4, gen counts [1, 2, 2, 0] / 5 → bin masses p, q (density × area).
  const ref = pairsInBins([2, 1, 1, 0]);
  const gen = pairsInBins([1, 2, 2, 0]);
  const p = [0.5, 0.25, 0.25];
  const q = [0.2, 0.4, 0.4];
  const forward = p.reduce((s, pi, i) => s + pi * Math.log(pi / q[i]), 0);
  const backward = q.reduce((s, qi, i) => s + qi * Math.log(qi / p[i]), 0);
  const opts = { bins: 2, epsilon: 0 };
  assert.ok(Math.abs(ramachandranKL(ref.x, ref.n, gen.x, gen.n, opts) - forward) < 1e-15);
  assert.ok(Math.abs(ramachandranKL(ref.x, ref.n, gen.x, gen.n, { ...opts, direction: 'generated-reference' }) - backward) < 1e-15);
  assert.notEqual(forward.toFixed(6), backward.toFixed(6));
});

test('Rama-KL: ε = 1e-10 (FAB) on a bin the generated set misses', () => {
  // ref [1, 1, 0, 0] / 2, gen [1, 0, 1, 0] / 2. Densities are mass/π² (bin area π² for 2 bins).
  const ref = pairsInBins([1, 1, 0, 0]);
  const gen = pairsInBins([1, 0, 1, 0]);
  const area = Math.PI ** 2;
  const d = 0.5 / area;
  const eps = 1e-10;
  // bin 0: p = q → ln 1 = 0; bin 1: p = d, q = 0 → d·ln((d + ε)/ε)·area; bin 2 has p = 0 → 0.
  const expected = d * Math.log((d + eps) / eps) * area;
  assert.ok(Math.abs(ramachandranKL(ref.x, ref.n, gen.x, gen.n, { bins: 2 }) - expected) < 1e-14, `${expected}`);
  assert.ok(Math.abs(expected - 0.5 * Math.log(1 + 0.5 / (area * eps))) < 1e-14);
  assert.throws(() => ramachandranKL(ref.x, ref.n, gen.x, gen.n, { epsilon: -1 }), /epsilon/);
  // @ts-expect-error: runtime check of an invalid direction
  assert.throws(() => ramachandranKL(ref.x, ref.n, gen.x, gen.n, { direction: 'forward' }), /direction/);
});

test('Rama-KL: 100 bins on [−π, π) equal 100 bins on [0, 2π) (TA-BG): shifting both sets by π permutes bins cyclically', () => {
  const rng = new Rng(11);
  const a = rng.uniforms(4000, -Math.PI, Math.PI);
  const b = new Float64Array(4000);
  for (let i = 0; i < 4000; i++) b[i] = 0.6 * rng.normal() - 1; // a peaked set, wrapped by the histogram
  const shift = (x: Float64Array): Float64Array => x.map((v) => v + Math.PI);
  const kl = ramachandranKL(b, 2000, a, 2000, { bins: 100 });
  const klShifted = ramachandranKL(shift(b), 2000, shift(a), 2000, { bins: 100 });
  assert.ok(kl > 0.1);
  assert.ok(Math.abs(kl - klShifted) < 1e-12, `${kl} vs ${klShifted}`);
});

test('ALDP Rama-KL on reference splits: 300 K val is closer to 300 K train than 1200 K is', { skip: skipData }, () => {
  const load = (f: string): Float64Array => readNpyFloat64(join(DATA, f), { cols: 66 }).data;
  const train = load('train_300K.npy');
  const val = load('val_300K.npy');
  const hot = load('train_1200K.npy');
  const n = 10000;
  const same = peptideRamachandranKL('aldp', train, n, val, n);
  const far = peptideRamachandranKL('aldp', train, n, hot, n);
  assert.deepEqual(same.perResidue.map((r) => r.residue), [1]);
  assert.equal(same.mean, same.perResidue[0].kl);
  // Observed 0.52 and 0.91. The 300 K value is a finite-sample floor: with ε = 1e-10 each of the
  // ~hundreds of bins hit by train but not by val costs (1/n)·ln(p/ε) ≈ 18/n.
  assert.ok(same.mean > 0 && same.mean < 0.7, `KL(train‖val) = ${same.mean}`);
  assert.ok(far.mean > same.mean + 0.2, `KL(train‖1200 K) = ${far.mean}`);
});
