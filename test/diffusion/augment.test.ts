/**
 * Augmentation (algorithm spec §6): centroid removal, uniform SO(3)
 * rotations (orthogonality, Haar moments) and consistent rotation of
 * positions and forces, checked with the real LJ-13 target.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import { maxCentroid } from '../../src/core/particles.js';
import { randomRotation, removeCentroids, rotateBatch, rotateRow } from '../../src/diffusion/augment.js';
import { createTarget } from '../../src/targets/index.js';

describe('random rotations', () => {
  test('are proper orthogonal matrices (RᵀR = I, det R = 1)', () => {
    const rng = new Rng(1);
    for (let k = 0; k < 200; k++) {
      const r = randomRotation(rng);
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          let s = 0;
          for (let m = 0; m < 3; m++) s += r[m * 3 + i] * r[m * 3 + j];
          assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-12);
        }
      }
      const det =
        r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
      assert.ok(Math.abs(det - 1) < 1e-12);
    }
  });

  test('are Haar-uniform: E[tr R] = 0, E[(tr R)²] = 1, and R·e_z is uniform on the sphere', () => {
    // Under the Haar measure tr R = 1 + 2cos θ with density (1 − cos θ)/π, so E[tr R] = 0 and the
    // character moments are E[χ²] = 1, E[χ⁴] = 3 (Var(χ²) = 2). For R·e_z uniform on S²:
    // E[z] = 0 (Var 1/3), E[z²] = 1/3 (Var 4/45). n = 20 000; tolerance 4 standard errors.
    const n = 20_000;
    const rng = new Rng(2);
    let tr = 0, tr2 = 0, z = 0, z2 = 0;
    for (let k = 0; k < n; k++) {
      const r = randomRotation(rng);
      const t = r[0] + r[4] + r[8];
      tr += t;
      tr2 += t * t;
      z += r[8];
      z2 += r[8] * r[8];
    }
    const se = (v: number) => 4 * Math.sqrt(v / n);
    assert.ok(Math.abs(tr / n) < se(1), `E[tr R] ${tr / n}`);
    assert.ok(Math.abs(tr2 / n - 1) < se(2), `E[tr² R] ${tr2 / n}`);
    assert.ok(Math.abs(z / n) < se(1 / 3), `E[z] ${z / n}`);
    assert.ok(Math.abs(z2 / n - 1 / 3) < se(4 / 45), `E[z²] ${z2 / n}`);
  });
});

describe('batch augmentation', () => {
  test('removeCentroids zeroes every row centroid and keeps relative positions', () => {
    const rng = new Rng(3);
    const layout = { nParticles: 5, spatialDim: 3 };
    const x = rng.normals(4 * 15).map((v) => v + 7);
    const before = x.slice();
    removeCentroids(x, 4, layout);
    assert.ok(maxCentroid(x, 4, 5, 3) < 1e-14);
    assert.ok(Math.abs(x[3] - x[0] - (before[3] - before[0])) < 1e-12);
    assert.throws(() => removeCentroids(new Float64Array(10), 1, layout), /length 10 is not \[1, 15\]/);
  });

  test('LJ-13: E(Rx) = E(x) and F(Rx) = R·F(x) for rotated configurations and forces (relative 1e-10)', () => {
    const target = createTarget('lj13');
    const rng = new Rng(4);
    const n = 6;
    const x = target.initialConfigurations(rng, n);
    removeCentroids(x, n, { nParticles: 13, spatialDim: 3 });
    const { energy: e0, forces: f0 } = target.energyAndForces(x, n);
    const xr = x.slice();
    const fr = f0.slice();
    rotateBatch(rng, xr, fr, n, { nParticles: 13, spatialDim: 3 });
    const { energy: e1, forces: f1 } = target.energyAndForces(xr, n);
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(e1[i] - e0[i]) < 1e-10 * Math.abs(e0[i]), `row ${i}: E(Rx) ${e1[i]} vs E(x) ${e0[i]}`);
      let norm0 = 0, norm1 = 0, fmax = 0, diff = 0;
      for (let k = 0; k < 39; k++) {
        norm0 += x[i * 39 + k] ** 2;
        norm1 += xr[i * 39 + k] ** 2;
        fmax = Math.max(fmax, Math.abs(f1[i * 39 + k]));
        diff = Math.max(diff, Math.abs(f1[i * 39 + k] - fr[i * 39 + k]));
      }
      assert.ok(Math.abs(norm1 - norm0) < 1e-12 * norm0, 'rotation preserves row norms');
      assert.ok(diff < 1e-10 * fmax, `row ${i}: |F(Rx) − R·F(x)| = ${diff} (max |F| ${fmax})`);
      assert.ok(xr.slice(i * 39, i * 39 + 39).some((v, k) => Math.abs(v - x[i * 39 + k]) > 1e-3), 'the row moved');
    }
  });

  test('rotateRow applies R to every particle; rotateBatch validates its inputs', () => {
    const x = Float64Array.of(1, 0, 0, 0, 2, 0);
    const rz90 = Float64Array.of(0, -1, 0, 1, 0, 0, 0, 0, 1);
    rotateRow(x, 0, 2, rz90);
    assert.deepEqual([...x], [0, 1, 0, -2, 0, 0]);
    const rng = new Rng(5);
    assert.throws(() => rotateBatch(rng, new Float64Array(4), new Float64Array(4), 1, { nParticles: 2, spatialDim: 2 }), /need spatialDim 3, got 2/);
    assert.throws(() => rotateBatch(rng, new Float64Array(6), new Float64Array(3), 1, { nParticles: 2, spatialDim: 3 }), /forces.*length 3 is not \[1, 6\]/);
  });
});
