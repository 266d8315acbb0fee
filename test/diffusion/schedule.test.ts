/** EDM schedule (algorithm spec §2.2–2.4) against the spec's table, finite differences and inverses. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import { EdmSchedule, samplingGrid, sampleTrainingSigmas } from '../../src/diffusion/schedule.js';

describe('EDM schedule', () => {
  test('σ(t) reproduces the table of spec §2.2 (3 significant digits)', () => {
    const table: [number, number[]][] = [
      [0.01, [0.0507, 0.189, 3.46, 47.3]],
      [0.05, [0.166, 0.462, 5.07, 49.9]],
    ];
    for (const [sigmaMin, expected] of table) {
      const s = new EdmSchedule({ sigmaMin });
      [0.1, 0.2, 0.5, 0.9].forEach((t, i) => {
        // The table is rounded to 3 significant digits: the error is at most half a unit of the 3rd digit.
        const halfUnit = 0.5 * 10 ** (Math.floor(Math.log10(expected[i])) - 2);
        assert.ok(Math.abs(s.sigma(t) - expected[i]) <= halfUnit, `σ_min ${sigmaMin}: σ(${t}) = ${s.sigma(t)}, table ${expected[i]}`);
      });
      assert.ok(Math.abs(s.sigma(0) - sigmaMin) < 1e-15);
      assert.ok(Math.abs(s.sigma(1) - 80) < 1e-12);
    }
    // One exact value: σ(0.5) = ((80^{1/7} + 0.01^{1/7})/2)^7.
    const mid = ((80 ** (1 / 7) + 0.01 ** (1 / 7)) / 2) ** 7;
    assert.ok(Math.abs(new EdmSchedule().sigma(0.5) - mid) < 1e-13 * mid);
  });

  test('g² = dh/dt and dσ/dt agree with central differences (relative 1e-6)', () => {
    for (const sigmaMin of [0.01, 0.05]) {
      const s = new EdmSchedule({ sigmaMin });
      for (const t of [0.02, 0.1, 0.3, 0.5, 0.77, 0.98]) {
        const d = 1e-5;
        const fdH = (s.h(t + d) - s.h(t - d)) / (2 * d);
        const fdS = (s.sigma(t + d) - s.sigma(t - d)) / (2 * d);
        assert.ok(Math.abs(s.g2(t) - fdH) < 1e-6 * Math.abs(fdH), `t=${t}: g² ${s.g2(t)} vs FD ${fdH}`);
        assert.ok(Math.abs(s.dSigmaDt(t) - fdS) < 1e-6 * Math.abs(fdS), `t=${t}: dσ/dt ${s.dSigmaDt(t)} vs FD ${fdS}`);
        assert.ok(s.g2(t) > 0);
      }
    }
  });

  test('t(h(t)) = t and t(σ(t)) = t over [0, 1]; t(h) extends outside [σ_min², σ_max²]', () => {
    const s = new EdmSchedule({ sigmaMin: 0.05, sigmaMax: 80, rho: 7 });
    for (let k = 0; k <= 100; k++) {
      const t = k / 100;
      assert.ok(Math.abs(s.tOfH(s.h(t)) - t) < 1e-12, `t=${t}: ${s.tOfH(s.h(t))}`);
      assert.ok(Math.abs(s.tOfSigma(s.sigma(t)) - t) < 1e-12);
    }
    assert.ok(s.tOfSigma(0.01) < 0);
    assert.ok(s.tOfSigma(100) > 1);
  });

  test('invalid settings and times are rejected with the value named', () => {
    assert.throws(() => new EdmSchedule({ sigmaMin: 0 }), /sigmaMin must be a positive number, got 0/);
    assert.throws(() => new EdmSchedule({ sigmaMin: 1, sigmaMax: 0.5 }), /sigmaMax/);
    assert.throws(() => new EdmSchedule({ rho: -1 }), /rho/);
    assert.throws(() => new EdmSchedule().sigma(1.5), /t must be in \[0, 1\], got 1.5/);
    assert.throws(() => new EdmSchedule().tOfH(-1), /h must be a positive number/);
  });
});

describe('sampling grid and training noise', () => {
  test('grid t_k = 1 − k/N for k = 0 … N−1', () => {
    const g = samplingGrid(4);
    assert.deepEqual([...g], [1, 0.75, 0.5, 0.25]);
    assert.equal(samplingGrid(1000)[999], 1 - 999 / 1000);
    assert.throws(() => samplingGrid(0), /positive integer/);
  });

  test('ln σ ~ N(−1.2, 1.2²): sample mean and std within 4 standard errors', () => {
    const n = 40_000;
    const sig = sampleTrainingSigmas(new Rng(11), n);
    const l = sig.map(Math.log);
    const mean = l.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(l.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    // SE(mean) = 1.2/√n = 0.006; SE(sd) ≈ 1.2/√(2n) = 0.0042.
    assert.ok(Math.abs(mean + 1.2) < 4 * 0.006, `mean ln σ ${mean}`);
    assert.ok(Math.abs(sd - 1.2) < 4 * 0.0043, `sd ln σ ${sd}`);
    const other = sampleTrainingSigmas(new Rng(11), 3, { pMean: 0, pStd: 0 });
    assert.deepEqual([...other], [1, 1, 1]);
  });
});
