import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/core/rng.js';
import { maxCentroid } from '../../src/core/particles.js';
import { readNpyFloat64 } from '../../src/io/npy.js';
import { logProb } from '../../src/targets/target.js';
import { LennardJonesTarget, LJ_DEFAULTS } from '../../src/targets/lj.js';
import { forceFdError } from './finite-difference.js';

const DATA = fileURLToPath(new URL('../../../shared/data/lj13/', import.meta.url));
const haveData = existsSync(`${DATA}reference_values.json`);
const skipData = haveData ? false : 'reference data ../shared/data/lj13 not present';

const lj = (nParticles: number, over: Partial<typeof LJ_DEFAULTS> = {}) =>
  new LennardJonesTarget({ ...LJ_DEFAULTS, ...over, nParticles });

/**
 * Centre atom at the origin plus the 12 vertices (0, ±1, ±φ), (±1, ±φ, 0),
 * (±φ, 0, ±1) scaled to unit length, in the order of reference_values.json.
 */
function icosahedron(): Float64Array {
  const phi = (1 + Math.sqrt(5)) / 2;
  const s = 1 / Math.sqrt(1 + phi * phi);
  const x = [0, 0, 0];
  const signs = [[1, 1], [1, -1], [-1, 1], [-1, -1]];
  for (const [u, v] of signs) x.push(0, u * s, v * phi * s);
  for (const [u, v] of signs) x.push(u * s, v * phi * s, 0);
  for (const [u, v] of signs) x.push(u * phi * s, 0, v * s);
  return Float64Array.from(x);
}

test('lj13 icosahedron: U = −79.163018 (E_LJ −85.163018, E_osc 6), log p at T = 1 and 4', () => {
  const x = icosahedron();
  const u = lj(13).energy(x)[0];
  const eLj = lj(13, { oscillatorScale: 0 }).energy(x)[0];
  // Spec targets-and-metrics.md §1.2 and reference_values.json (−79.16301809438538).
  assert.ok(Math.abs(u - -79.163018) < 1e-6, `U = ${u}`);
  assert.ok(Math.abs(u - -79.16301809438538) < 1e-10, `U = ${u}`);
  assert.ok(Math.abs(eLj - -85.163018) < 1e-6, `E_LJ = ${eLj}`);
  assert.ok(Math.abs(u - eLj - 6) < 1e-12, `E_osc = ${u - eLj}`);
  const t = lj(13);
  assert.ok(Math.abs(logProb(t, t.energy(x), 1)[0] - 79.163018) < 1e-6);
  assert.ok(Math.abs(logProb(t, t.energy(x), 4)[0] - 19.790755) < 1e-6);
});

test('lj13 icosahedron forces: centre atom force-free, vertex forces radial, largest component 12.845424341103644', () => {
  // reference_values.json gives max_abs_force = 12.845424341103644, the largest Cartesian component; a vertex
  // (0, ±1, ±φ)/√(1+φ²) has its largest component φ/√(1+φ²) times the radial magnitude.
  const x = icosahedron();
  const phi = (1 + Math.sqrt(5)) / 2;
  const radialMagnitude = 12.845424341103644 / (phi / Math.sqrt(1 + phi * phi));
  const { forces } = lj(13).energyAndForces(x);
  for (let k = 0; k < 3; k++) assert.ok(Math.abs(forces[k]) < 1e-12);
  for (let a = 1; a < 13; a++) {
    const f = forces.subarray(3 * a, 3 * a + 3);
    const r = x.subarray(3 * a, 3 * a + 3); // unit radial vector
    const radial = f[0] * r[0] + f[1] * r[1] + f[2] * r[2];
    assert.ok(Math.abs(radial + radialMagnitude) < 1e-9, `atom ${a}: radial force ${radial}, expected −${radialMagnitude} (inward)`);
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(f[k] - radial * r[k]) < 1e-9);
  }
});

test('energyFactor 0.5 halves the LJ part only (each pair counted once)', () => {
  const x = icosahedron();
  const u = lj(13, { energyFactor: 0.5 }).energy(x)[0];
  assert.ok(Math.abs(u - (-85.16301809438538 / 2 + 6)) < 1e-10, `U = ${u}`);
});

test('one pair at d = r_m (softened) has energy 2·f·ε·(s¹² − 2s⁶); epsilon, rm and oscillatorScale scale as defined', () => {
  // Two particles at distance rm along x: d² = rm² + 1e-6, s² = rm²/d².
  for (const p of [{}, { epsilon: 0.7, rm: 1.3, energyFactor: 0.5, oscillatorScale: 2.5 }]) {
    const t = lj(2, p);
    const { epsilon, rm, energyFactor, oscillatorScale } = t.params;
    const x = Float64Array.from([-rm / 2, 0, 0, rm / 2, 0, 0]);
    const s2 = (rm * rm) / (rm * rm + 1e-6);
    const expected = 2 * energyFactor * epsilon * (s2 ** 6 - 2 * s2 ** 3) + 0.5 * oscillatorScale * 2 * (rm / 2) ** 2;
    assert.ok(Math.abs(t.energy(x)[0] - expected) < 1e-12, `${JSON.stringify(p)}: ${t.energy(x)[0]} vs ${expected}`);
  }
});

test('forces match central finite differences (rel. ∞-norm error ≤ 1e-6) for lj13, lj55 and non-default options', () => {
  const rng = new Rng(11);
  const cases = [lj(13), lj(55), lj(13, { energyFactor: 0.5, epsilon: 0.7, rm: 1.2, oscillatorScale: 2 })];
  for (const t of cases) {
    const x = t.initialConfigurations(rng, 3);
    for (let i = 0; i < x.length; i++) x[i] += 0.05 * rng.normal();
    for (let c = 0; c < 3; c++) {
      const err = forceFdError(t, x.slice(c * t.dim, (c + 1) * t.dim));
      assert.ok(err <= 1e-6, `${t.name} ${JSON.stringify(t.params)} config ${c}: FD error ${err}`);
    }
  }
});

test('energy is invariant under translation and rotation; forces rotate with the configuration', () => {
  const rng = new Rng(12);
  const t = lj(13);
  const x = t.initialConfigurations(rng, 1);
  const { energy, forces } = t.energyAndForces(x);
  // Rotation by angle θ about z, then a translation.
  const c = Math.cos(0.7);
  const s = Math.sin(0.7);
  const y = new Float64Array(x.length);
  for (let a = 0; a < 13; a++) {
    const [px, py, pz] = x.subarray(3 * a, 3 * a + 3);
    y.set([c * px - s * py + 3.1, s * px + c * py - 2.2, pz + 0.4], 3 * a);
  }
  const r = t.energyAndForces(y);
  assert.ok(Math.abs(r.energy[0] - energy[0]) < 1e-10 * Math.max(1, Math.abs(energy[0])));
  for (let a = 0; a < 13; a++) {
    const [fx, fy, fz] = forces.subarray(3 * a, 3 * a + 3);
    assert.ok(Math.abs(r.forces[3 * a] - (c * fx - s * fy)) < 1e-9);
    assert.ok(Math.abs(r.forces[3 * a + 1] - (s * fx + c * fy)) < 1e-9);
    assert.ok(Math.abs(r.forces[3 * a + 2] - fz) < 1e-9);
  }
});

test('initialConfigurations: mean-free, no pair closer than 0.8·r_m, inside the cube, seed-deterministic', () => {
  for (const [t, n] of [[lj(13), 200], [lj(55, { rm: 1.5 }), 20]] as const) {
    const x = t.initialConfigurations(new Rng(5), n);
    assert.deepEqual(x, t.initialConfigurations(new Rng(5), n));
    assert.ok(maxCentroid(x, n, t.nParticles, 3) < 1e-12);
    const rm = t.params.rm;
    const side = rm * Math.cbrt(t.nParticles / 0.5);
    let minD = Infinity;
    let maxSpan = 0;
    for (let c = 0; c < n; c++) {
      const o = c * t.dim;
      for (let i = 0; i < t.nParticles; i++) {
        for (let j = i + 1; j < t.nParticles; j++) {
          let r2 = 0;
          for (let k = 0; k < 3; k++) {
            const d = x[o + 3 * i + k] - x[o + 3 * j + k];
            r2 += d * d;
            maxSpan = Math.max(maxSpan, Math.abs(d));
          }
          minD = Math.min(minD, Math.sqrt(r2));
        }
      }
    }
    assert.ok(minD >= 0.8 * rm - 1e-12, `${t.name}: min distance ${minD}`);
    assert.ok(maxSpan <= side, `${t.name}: coordinate span ${maxSpan} exceeds cube side ${side}`);
    assert.ok(t.energy(x).every(Number.isFinite));
  }
});

test('constructor rejects bad parameters', () => {
  assert.throws(() => lj(1), /nParticles must be an integer ≥ 2, got 1/);
  assert.throws(() => lj(13, { rm: 0 }), /rm must be a positive number, got 0/);
  assert.throws(() => lj(13, { oscillatorScale: -1 }), /oscillatorScale must be a non-negative number/);
  assert.throws(() => lj(13).energy(new Float64Array(40)), /batch of length 40 is not \[n, 39\]/);
});

test('lj13 reference frames: rows 0–4 of train_T1.0.npy match the stored energies and forces', { skip: skipData }, () => {
  const ref = JSON.parse(readFileSync(`${DATA}reference_values.json`, 'utf8'));
  const first5 = ref['train_T1.0_first5'];
  const { data } = readNpyFloat64(`${DATA}train_T1.0.npy`, { cols: 39 });
  const x = data.slice(0, 5 * 39);
  assert.deepEqual(Array.from(x), first5.positions.flat(2));
  const { energy, forces } = lj(13).energyAndForces(x);
  const refForces: number[] = first5.forces.flat(2);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(energy[i] - first5.energy[i]) < 1e-9, `row ${i}: ${energy[i]} vs ${first5.energy[i]}`);
  for (let i = 0; i < forces.length; i++) assert.ok(Math.abs(forces[i] - refForces[i]) < 1e-8);
  const ico = ref.icosahedron;
  assert.deepEqual(Array.from(icosahedron()), ico.positions_flat);
  const fIco = lj(13).energyAndForces(icosahedron()).forces;
  ico.forces.flat().forEach((f: number, i: number) => assert.ok(Math.abs(fIco[i] - f) < 1e-10));
});

test('lj13 split statistics: mean, min, max and first energies of every stored split over all rows', { skip: skipData }, () => {
  const stats = JSON.parse(readFileSync(`${DATA}reference_values.json`, 'utf8')).split_energy_statistics;
  const t = lj(13);
  for (const [file, s] of Object.entries<Record<string, number | number[]>>(stats)) {
    const { data, shape } = readNpyFloat64(`${DATA}${file}`, { cols: 39 });
    const e = t.energy(data);
    assert.equal(e.length, s.n);
    const mean = e.reduce((a, b) => a + b, 0) / e.length;
    assert.ok(Math.abs(mean - (s.mean as number)) < 1e-9, `${file} ${shape}: mean ${mean} vs ${s.mean}`);
    assert.ok(Math.abs(Math.min(...e) - (s.min as number)) < 1e-9);
    assert.ok(Math.abs(Math.max(...e) - (s.max as number)) < 1e-9);
    (s.first_5_energies as number[]).forEach((v, i) => assert.ok(Math.abs(e[i] - v) < 1e-9));
  }
});
