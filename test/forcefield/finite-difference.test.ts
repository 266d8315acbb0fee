// Central finite-difference checks of every force term: F_k ≈ −(E(x + h e_k) − E(x − h e_k))/(2h),
// h = 1e-6 nm. Error budget: truncation h²/6·|E'''| plus round-off ~1e-16·|E|/h. Here |E| ≤ 1e4 kJ/mol
// and |E'''| ≤ 1e11 kJ/mol/nm³, so the FD error stays below ~2e-5 kJ/mol/nm; we require it to be
// ≤ 2e-7·max(1, max|F|) (observed ≤ 3e-9), while a wrong analytic term gives O(1e-3) or more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { HarmonicAngleForce } from '../../src/forcefield/angle.js';
import { HarmonicBondForce } from '../../src/forcefield/bond.js';
import type { Force } from '../../src/forcefield/force.js';
import { GBSAOBCForce, OBC1, OBC2, type GBSAOBCParticle, type ObcVariant } from '../../src/forcefield/gbsa-obc.js';
import { NonbondedForce, type NonbondedOptions } from '../../src/forcefield/nonbonded.js';
import { PeriodicTorsionForce } from '../../src/forcefield/torsion.js';
import { loadPeptide } from '../../src/forcefield/peptides.js';
import { finiteDifferenceError } from './helpers.js';

const H = 1e-6;
/** Relative tolerance on the largest force component; see the error budget above. */
const REL_TOL = 2e-7;

function check(force: Force, x: Float64Array, label: string, relTol = REL_TOL): number {
  const { maxError, maxForce } = finiteDifferenceError(force, x, H);
  assert.ok(maxForce > 0, `${label}: the configuration must exert a force, or the check is empty`);
  const rel = maxError / Math.max(1, maxForce);
  assert.ok(rel <= relTol, `${label}: finite-difference error ${maxError} vs max |F| ${maxForce} (relative ${rel})`);
  return rel;
}

/** Random configuration: base positions (nm) plus N(0, sigma²) noise per coordinate. */
function jitter(rng: Rng, base: number[][], sigma: number): Float64Array {
  const x = Float64Array.from(base.flat());
  const noise = rng.normals(x.length);
  for (let i = 0; i < x.length; i++) x[i] += sigma * noise[i];
  return x;
}

const CHAIN = [
  [0, 0, 0],
  [0.15, 0.01, 0],
  [0.2, 0.15, 0.02],
  [0.35, 0.17, 0.1],
  [0.4, 0.3, 0.05],
  [0.6, 0.25, 0.2],
];

test('HarmonicBondForce: forces are −∇E', () => {
  const rng = new Rng(101);
  const f = new HarmonicBondForce([
    { p1: 0, p2: 1, length: 0.1522, k: 265265.6 },
    { p1: 1, p2: 2, length: 0.109, k: 284512 },
    { p1: 3, p2: 1, length: 0.1335, k: 410032 },
  ]);
  for (let c = 0; c < 5; c++) check(f, jitter(rng, CHAIN.slice(0, 4), 0.02), `bond config ${c}`);
});

test('HarmonicAngleForce: forces are −∇E, also at nearly straight and nearly folded angles', () => {
  const rng = new Rng(102);
  const f = new HarmonicAngleForce([
    { p1: 0, p2: 1, p3: 2, angle: 1.911, k: 418.4 },
    { p1: 1, p2: 2, p3: 3, angle: 2.1, k: 669.44 },
  ]);
  for (let c = 0; c < 5; c++) check(f, jitter(rng, CHAIN.slice(0, 4), 0.02), `angle config ${c}`);
  for (const theta of [Math.PI - 1e-3, 1e-3, Math.PI / 2]) {
    const x = Float64Array.from([0.12, 0, 0, 0, 0, 0, 0.15 * Math.cos(theta), 0.15 * Math.sin(theta), 0, 1, 1, 1]);
    check(new HarmonicAngleForce([{ p1: 0, p2: 1, p3: 2, angle: 2, k: 500 }]), x, `angle θ = ${theta}`);
  }
});

test('PeriodicTorsionForce: forces are −∇E, also near cis and trans', () => {
  const rng = new Rng(103);
  const terms = [
    { periodicity: 1, phase: 0.7, k: 3.1 },
    { periodicity: 2, phase: Math.PI, k: 10.5 },
    { periodicity: 3, phase: -1.2, k: 0.8 },
  ];
  const f = new PeriodicTorsionForce([
    ...terms.map((t) => ({ p1: 0, p2: 1, p3: 2, p4: 3, ...t })),
    { p1: 1, p2: 2, p3: 3, p4: 4, periodicity: 2, phase: 0.3, k: 4.6 },
    { p1: 0, p2: 2, p3: 1, p4: 3, periodicity: 2, phase: Math.PI, k: 4.6 }, // improper
  ]);
  for (let c = 0; c < 5; c++) check(f, jitter(rng, CHAIN.slice(0, 5), 0.03), `torsion config ${c}`);
  const single = new PeriodicTorsionForce(terms.map((t) => ({ p1: 0, p2: 1, p3: 2, p4: 3, ...t })));
  for (const phi of [1e-5, Math.PI - 1e-5, -Math.PI / 2]) {
    const x = Float64Array.from([0.15, 0, 0, 0, 0, 0, 0, 0, 0.15, 0.15 * Math.cos(phi), 0.15 * Math.sin(phi), 0.15]);
    check(single, x, `torsion φ = ${phi}`);
  }
});

const NB_PARTICLES = [
  { charge: 0.42, sigma: 0.32, epsilon: 0.45 },
  { charge: -0.61, sigma: 0.29, epsilon: 0.6 },
  { charge: 0.18, sigma: 0.25, epsilon: 0.07 },
  { charge: -0.35, sigma: 0.34, epsilon: 0.36 },
  { charge: 0.55, sigma: 0.3, epsilon: 0.88 },
  { charge: -0.19, sigma: 0.27, epsilon: 0.15 },
];
const NB_EXCEPTIONS = [
  { p1: 0, p2: 1, chargeProd: 0, sigma: 1, epsilon: 0 },
  { p1: 0, p2: 2, chargeProd: 0, sigma: 1, epsilon: 0 },
  { p1: 0, p2: 3, chargeProd: (0.42 * -0.35) / 1.2, sigma: 0.33, epsilon: 0.2 },
];
/** Spread-out configuration: nearest pairs ~0.15 nm, farthest ~1.1 nm (beyond a 0.7 nm cutoff). */
const SPREAD = [
  [0, 0, 0],
  [0.15, 0.02, 0],
  [0.25, 0.2, 0.05],
  [0.45, 0.1, 0.2],
  [0.3, 0.55, 0.4],
  [0.85, 0.5, 0.55],
];

function pairsNearCutoff(x: Float64Array, rc: number): boolean {
  const n = x.length / 3;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const r = Math.hypot(x[3 * i] - x[3 * j], x[3 * i + 1] - x[3 * j + 1], x[3 * i + 2] - x[3 * j + 2]);
      if (Math.abs(r - rc) < 1e-3) return true;
    }
  }
  return false;
}

for (const options of [
  { method: 'NoCutoff' },
  { method: 'CutoffNonPeriodic', cutoff: 0.7, reactionFieldDielectric: 1 },
  { method: 'CutoffNonPeriodic', cutoff: 0.7, reactionFieldDielectric: 78.5 },
] as NonbondedOptions[]) {
  test(`NonbondedForce ${options.method} ε_rf=${options.reactionFieldDielectric ?? '-'}: forces are −∇E`, () => {
    const rng = new Rng(104);
    const f = new NonbondedForce(NB_PARTICLES, NB_EXCEPTIONS, options);
    for (let c = 0; c < 5; c++) {
      const x = jitter(rng, SPREAD, 0.02);
      // LJ is truncated without a shift: E jumps at r_c, where no derivative exists.
      if (pairsNearCutoff(x, 0.7)) continue;
      check(f, x, `nonbonded config ${c}`);
    }
  });
}

const GB_PARTICLES: GBSAOBCParticle[] = [
  [0.42, 0.17, 0.72],
  [-0.61, 0.155, 0.79],
  [0.18, 0.12, 0.85],
  [-0.35, 0.15, 0.85],
  [0.55, 0.17, 0.72],
  [-0.19, 0.3, 1.0],
].map(([charge, radius, scale]) => ({ charge, offsetRadius: radius - 0.009, scaledRadius: scale * (radius - 0.009) }));

function gb(variant: ObcVariant, cutoff: number | null, engulfmentCorrection: boolean): GBSAOBCForce {
  return new GBSAOBCForce(GB_PARTICLES, {
    ...variant,
    soluteDielectric: 1,
    solventDielectric: 78.5,
    coulombConstant: 138.935485,
    surfaceAreaFactor: 28.3919551,
    probeRadius: 0.14,
    dielectricOffset: 0.009,
    cutoff,
    engulfmentCorrection,
  });
}

for (const [label, variant] of [
  ['OBC1', OBC1],
  ['OBC2', OBC2],
] as const) {
  for (const cutoff of [null, 0.7]) {
    test(`GBSAOBCForce ${label} cutoff=${cutoff}: forces are −∇E, through the Born radii`, () => {
      const rng = new Rng(105);
      for (const engulf of [false, true]) {
        const f = gb(variant, cutoff, engulf);
        for (let c = 0; c < 4; c++) {
          const x = jitter(rng, SPREAD, 0.02);
          if (cutoff !== null && pairsNearCutoff(x, cutoff)) continue;
          check(f, x, `${label} engulfment=${engulf} config ${c}`);
        }
        // Particle 2 (o = 0.111) inside particle 5's scaled sphere (S = 0.291): r ≈ 0.09 < S − o.
        const inside = SPREAD.map((p) => [...p]);
        inside[2] = [SPREAD[5][0] + 0.05, SPREAD[5][1] - 0.06, SPREAD[5][2] + 0.04];
        const x = jitter(rng, inside, 0.005);
        check(f, x, `${label} engulfment=${engulf} engulfed configuration`);
      }
    });
  }
}

test('ALDP and AL3: every force term is −∇E at the built structure and at perturbed ones', (t) => {
  const rng = new Rng(106);
  for (const name of ['aldp', 'al3']) {
    const { system, topology } = loadPeptide(name);
    const base = Array.from({ length: topology.nAtoms }, (_, i) => Array.from(topology.positions.subarray(3 * i, 3 * i + 3)));
    // σ = 0.02 nm noise reaches the steep short-range regime (forces ~1e4 kJ/mol/nm), as in the perturbed OpenMM frames.
    const configs = [Float64Array.from(base.flat()), jitter(rng, base, 0.005), jitter(rng, base, 0.02)];
    configs.forEach((x, c) => {
      for (const force of system.forces) {
        if (force.name === 'CMMotionRemover') continue;
        const rel = check(force, x, `${name} config ${c} ${force.name}`);
        t.diagnostic(`${name} config ${c} ${force.name}: FD error / max|F| = ${rel.toExponential(1)}`);
      }
    });
  }
});
