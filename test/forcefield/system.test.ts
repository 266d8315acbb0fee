import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NonFiniteError, UserError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { HarmonicAngleForce } from '../../src/forcefield/angle.js';
import { HarmonicBondForce } from '../../src/forcefield/bond.js';
import { CMMotionRemover } from '../../src/forcefield/cm-motion-remover.js';
import { ONE_4PI_EPS0 } from '../../src/forcefield/constants.js';
import { GBSAOBCForce, OBC1 } from '../../src/forcefield/gbsa-obc.js';
import { NonbondedForce } from '../../src/forcefield/nonbonded.js';
import { System } from '../../src/forcefield/system.js';
import { PeriodicTorsionForce } from '../../src/forcefield/torsion.js';
import { parseSystemXml } from '../../src/forcefield/xml.js';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

interface Fixture {
  cases: { name: string; xml: string; frames: { positions: number[][] }[] }[];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/openmm-small-systems.json', import.meta.url), 'utf8')) as Fixture;
const full = fixture.cases[0]; // bonds, angles, torsions, reaction-field nonbonded, GB-OBC, CMMotionRemover
const fullSystem = parseSystemXml(full.xml);
const fullBatch = Float64Array.from(full.frames.flatMap((f) => f.positions.flat()));

test('System: batch shape and finiteness are validated with the shapes named', () => {
  assert.equal(fullSystem.dim, 21);
  assert.throws(() => fullSystem.energy(new Float64Array(20)), (e: unknown) => e instanceof UserError && /length 20 .*\[n, 21\]/.test(e.message));
  assert.throws(() => fullSystem.energy(new Float64Array(21), 2), /with n = 2 is not \[n, 21\]/);
  assert.throws(() => fullSystem.energy([0, 0] as unknown as Float64Array), /must be a Float64Array/);
  const bad = fullBatch.slice(0, 42);
  bad[21 + 5] = NaN;
  assert.throws(
    () => fullSystem.energyAndForces(bad),
    (e: unknown) => e instanceof NonFiniteError && e.rows.length === 1 && e.rows[0] === 1,
  );
  assert.equal(fullSystem.energy(fullBatch, 0).length, 0);
});

test('System: the total is the sum of the per-force terms, and energy() agrees with energyAndForces()', () => {
  const n = full.frames.length;
  const total = fullSystem.energyAndForces(fullBatch);
  const energyOnly = fullSystem.energy(fullBatch);
  const terms = fullSystem.energyAndForcesByForce(fullBatch);
  const byForce = fullSystem.energyByForce(fullBatch);
  assert.deepEqual(byForce.map((t) => t.name), terms.map((t) => t.name));
  for (let c = 0; c < n; c++) {
    close(energyOnly[c], total.energy[c], 1e-13, 'energy() vs energyAndForces()');
    close(terms.reduce((s, t) => s + t.energy[c], 0), total.energy[c], 1e-13, 'sum of terms');
    close(byForce.reduce((s, t) => s + t.energy[c], 0), total.energy[c], 1e-13, 'sum of energyByForce');
  }
  for (let k = 0; k < n * 21; k++) close(terms.reduce((s, t) => s + t.forces[k], 0), total.forces[k], 1e-12, `force ${k}`);
});

test('System: energy is invariant under rigid motions; net force and net torque vanish', () => {
  const rng = new Rng(7);
  for (const frame of full.frames.slice(0, 4)) {
    const x = Float64Array.from(frame.positions.flat());
    // Random rotation from a normalised quaternion, plus a translation.
    const [a, b, c, d] = (() => {
      const q = rng.normals(4);
      const s = Math.hypot(...q);
      return Array.from(q, (v) => v / s);
    })();
    const R = [
      [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
      [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
      [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
    ];
    const y = new Float64Array(21);
    for (let i = 0; i < 7; i++) {
      for (let r = 0; r < 3; r++) y[3 * i + r] = R[r][0] * x[3 * i] + R[r][1] * x[3 * i + 1] + R[r][2] * x[3 * i + 2] + [0.3, -1.1, 2.5][r];
    }
    const ex = fullSystem.energyAndForces(x);
    const ey = fullSystem.energy(y)[0];
    close(ey, ex.energy[0], 1e-11, 'rotated and translated energy');
    const fmax = Math.max(...Array.from(ex.forces, Math.abs));
    const net = [0, 0, 0];
    const torque = [0, 0, 0];
    for (let i = 0; i < 7; i++) {
      const [px, py, pz] = [x[3 * i], x[3 * i + 1], x[3 * i + 2]];
      const [fx, fy, fz] = [ex.forces[3 * i], ex.forces[3 * i + 1], ex.forces[3 * i + 2]];
      net[0] += fx;
      net[1] += fy;
      net[2] += fz;
      torque[0] += py * fz - pz * fy;
      torque[1] += pz * fx - px * fz;
      torque[2] += px * fy - py * fx;
    }
    for (const v of [...net, ...torque]) assert.ok(Math.abs(v) <= 1e-11 * fmax, `net force/torque ${v} vs max |F| ${fmax}`);
  }
});

test('bond, angle and torsion energies take their textbook values; torsion sign is IUPAC', () => {
  const bond = new HarmonicBondForce([{ p1: 0, p2: 1, length: 0.1, k: 2e5 }]);
  close(bond.evaluate(Float64Array.from([0, 0, 0, 0.03, 0.04, 0.12]), 0, null, 0), 0.5 * 2e5 * 0.03 ** 2, 1e-12, 'bond');
  const angle = new HarmonicAngleForce([{ p1: 0, p2: 1, p3: 2, angle: 2, k: 300 }]);
  close(angle.evaluate(Float64Array.from([0.2, 0, 0, 0, 0, 0, 0, 0.1, 0]), 0, null, 0), 0.5 * 300 * (Math.PI / 2 - 2) ** 2, 1e-12, 'angle');
  // x0 on +x, axis x1→x2 along +z, x3 rotated by +60° about +z: IUPAC φ = +60°. The phase π/2
  // makes E = k(1 + sin φ) odd in φ, so the mirror image (φ = −60°) gives a different energy.
  const torsion = new PeriodicTorsionForce([{ p1: 0, p2: 1, p3: 2, p4: 3, periodicity: 1, phase: Math.PI / 2, k: 5 }]);
  const phi = Math.PI / 3;
  const at = (sign: number) => Float64Array.from([0.15, 0, 0, 0, 0, 0, 0, 0, 0.15, 0.1 * Math.cos(phi), sign * 0.1 * Math.sin(phi), 0.15]);
  close(torsion.evaluate(at(1), 0, null, 0), 5 * (1 + Math.sin(phi)), 1e-12, 'torsion φ = +60°');
  close(torsion.evaluate(at(-1), 0, null, 0), 5 * (1 - Math.sin(phi)), 1e-12, 'torsion φ = −60°');
});

test('nonbonded pair energies: LJ + shifted Coulomb inside the cutoff, nothing beyond, exceptions unshifted', () => {
  const particles = [
    { charge: 0.5, sigma: 0.3, epsilon: 0.4 },
    { charge: -0.4, sigma: 0.2, epsilon: 0.9 },
  ];
  const sigma = 0.25;
  const eps = Math.sqrt(0.36);
  const lj = (r: number, s: number, e: number) => 4 * e * ((s / r) ** 12 - (s / r) ** 6);
  const pair = (r: number) => Float64Array.from([0, 0, 0, r, 0, 0]);
  const cut = new NonbondedForce(particles, [], { method: 'CutoffNonPeriodic', cutoff: 1, reactionFieldDielectric: 1 });
  close(cut.evaluate(pair(0.4), 0, null, 0), lj(0.4, sigma, eps) + ONE_4PI_EPS0 * -0.2 * (1 / 0.4 - 1), 1e-13, 'cutoff, ε_rf = 1');
  assert.equal(cut.evaluate(pair(1.0001), 0, null, 0), 0);
  const rf = new NonbondedForce(particles, [], { method: 'CutoffNonPeriodic', cutoff: 1, reactionFieldDielectric: 78.5 });
  const krf = 77.5 / 158;
  const crf = (3 * 78.5) / 158;
  close(rf.evaluate(pair(0.4), 0, null, 0), lj(0.4, sigma, eps) + ONE_4PI_EPS0 * -0.2 * (1 / 0.4 + krf * 0.16 - crf), 1e-13, 'reaction field');
  const none = new NonbondedForce(particles, [], { method: 'NoCutoff' });
  close(none.evaluate(pair(3), 0, null, 0), lj(3, sigma, eps) + (ONE_4PI_EPS0 * -0.2) / 3, 1e-13, 'no cutoff');
  // LJ minimum of a neutral pair: E = −ε and zero force at r = 2^(1/6) σ.
  const neutral = new NonbondedForce(particles.map((p) => ({ ...p, charge: 0 })), [], { method: 'NoCutoff' });
  const f = new Float64Array(6);
  close(neutral.evaluate(pair(2 ** (1 / 6) * sigma), 0, f, 0), -eps, 1e-13, 'LJ minimum');
  assert.ok(Math.abs(f[0]) < 1e-10 && Math.abs(f[3]) < 1e-10);
  // An exception replaces the pair and ignores the cutoff; a zero exception excludes it.
  const exc = new NonbondedForce(particles, [{ p1: 1, p2: 0, chargeProd: -0.1, sigma: 0.27, epsilon: 0.2 }], { method: 'CutoffNonPeriodic', cutoff: 1, reactionFieldDielectric: 1 });
  close(exc.evaluate(pair(1.5), 0, null, 0), lj(1.5, 0.27, 0.2) + (ONE_4PI_EPS0 * -0.1) / 1.5, 1e-13, 'exception beyond the cutoff');
  const excluded = new NonbondedForce(particles, [{ p1: 0, p2: 1, chargeProd: 0, sigma: 1, epsilon: 0 }], { method: 'NoCutoff' });
  assert.equal(excluded.evaluate(pair(0.3), 0, null, 0), 0);
});

test('GB-OBC of a lone ion: B = o, E = −½K q²/o + A(ρ + 0.14)²(ρ/o)⁶', () => {
  const q = -0.8;
  const o = 0.141;
  const gb = new GBSAOBCForce([{ charge: q, offsetRadius: o, scaledRadius: 0.12 }], {
    ...OBC1,
    soluteDielectric: 1,
    solventDielectric: 78.5,
    coulombConstant: 138.935485,
    surfaceAreaFactor: 28.3919551,
    probeRadius: 0.14,
    dielectricOffset: 0.009,
    cutoff: 2,
    engulfmentCorrection: false,
  });
  const x = Float64Array.from([0.3, -0.2, 0.1]);
  assert.deepEqual(Array.from(gb.bornRadii(x)), [o]);
  const K = 138.935485 * (1 - 1 / 78.5);
  close(gb.evaluate(x, 0, null, 0), (-0.5 * K * q * q) / o + 28.3919551 * (o + 0.009 + 0.14) ** 2 * ((o + 0.009) / o) ** 6, 1e-13, 'lone ion');
  assert.throws(() => gb.bornRadii(new Float64Array(2)), /needs 3 coordinates/);
});

test('CMMotionRemover has no energy and no force', () => {
  const cm = new CMMotionRemover();
  const f = new Float64Array(6);
  assert.equal(cm.evaluate(), 0);
  const sys = new System([1, 1], [cm]);
  assert.deepEqual(Array.from(sys.energyAndForces(Float64Array.from([0, 0, 0, 1, 2, 3])).forces), Array.from(f));
});

test('constructors reject invalid parameters with the offending value named', () => {
  assert.throws(() => new System([1, -2], []), /mass of particle 1 .* got -2/);
  assert.throws(() => new System([1, 1], [new HarmonicBondForce([{ p1: 0, p2: 2, length: 0.1, k: 1 }])]), /refers to particle 2, but the system has 2/);
  assert.throws(() => new HarmonicBondForce([{ p1: 0, p2: 0, length: 0.1, k: 1 }]), /particles must be distinct/);
  assert.throws(() => new HarmonicBondForce([{ p1: 0, p2: 1.5, length: 0.1, k: 1 }]), /non-negative integer, got 1.5/);
  assert.throws(() => new PeriodicTorsionForce([{ p1: 0, p2: 1, p3: 2, p4: 3, periodicity: 0, phase: 0, k: 1 }]), /periodicity must be a positive integer, got 0/);
  const p = [{ charge: 0, sigma: 0.3, epsilon: 0.1 }, { charge: 0, sigma: 0.3, epsilon: 0.1 }];
  assert.throws(() => new NonbondedForce(p, [], { method: 'CutoffNonPeriodic' }), /needs a cutoff/);
  assert.throws(() => new NonbondedForce(p, [], { method: 'PME' as never }), /unsupported nonbonded method 'PME'/);
  const dup = { p1: 0, p2: 1, chargeProd: 0, sigma: 1, epsilon: 0 };
  assert.throws(() => new NonbondedForce(p, [dup, { ...dup, p1: 1, p2: 0 }], { method: 'NoCutoff' }), /duplicate exception/);
  assert.throws(() => new NonbondedForce(p, [{ ...dup, p2: 3 }], { method: 'NoCutoff' }), /out of range/);
  assert.throws(
    () => new GBSAOBCForce([{ charge: 0, offsetRadius: 0, scaledRadius: 0.1 }], { ...OBC1, soluteDielectric: 1, solventDielectric: 78.5, coulombConstant: 138.9, surfaceAreaFactor: 0, probeRadius: 0.14, dielectricOffset: 0.009, cutoff: null, engulfmentCorrection: false }),
    /offset radius must be > 0, got 0/,
  );
});

test('throughput on the 7-particle system with every force (reported; loose bound)', (t) => {
  const reps = 2000;
  const batch = new Float64Array(reps * 21);
  for (let r = 0; r < reps; r++) batch.set(fullBatch.subarray(0, 21), r * 21);
  fullSystem.energyAndForces(batch); // warm-up
  const t0 = performance.now();
  fullSystem.energyAndForces(batch);
  const rate = reps / ((performance.now() - t0) / 1000);
  t.diagnostic(`${rate.toFixed(0)} energy+force evaluations/s`);
  assert.ok(rate > 1000, `only ${rate} evaluations/s`);
});
