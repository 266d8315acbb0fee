/**
 * EGNN (src/nets/egnn.ts): agreement with the float64 host reference,
 * first- and second-order gradients, E(3) equivariance and permutation
 * equivariance (also when temperature-conditioned), CoM-free output and
 * invariance of the energy-model inner product U = ⟨F(x), x⟩.
 *
 * Tolerances (float32 engine vs float64 host; measured values in brackets):
 * - forward relMax ≤ 1e-5 [≤ 3e-7];
 * - first order (∇ₓU, ∂U/∂c_noise, ∂U/∂β vs central FD of the host U,
 *   h = 1e-4, FD error ~1e-9): relMax ≤ 2e-5 [≤ 2.5e-6];
 * - second order (∂L/∂θ per parameter tensor along 3 random directions vs
 *   central FD of the host loss, see helpers.ts): ≤ 1e-4 [≤ 3.3e-6]; checked
 *   by mutation: using tfjs's saved-output sigmoid (tfjs#3252) for the
 *   attention gate leaves forward and first order intact but gives 0.04–5;
 * - symmetries: max |difference| ≤ 1e-4 · max(1, max|F|) [≤ 5.2e-6], float32
 *   rounding of O(1) coordinates.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import { EGNN_DEFAULTS, type EgnnConfig, createEgnn } from '../../src/nets/index.js';
import * as T from '../../src/tensor/index.js';
import { engineForward, firstOrderErrors, makeBatch, maxAbs, randomiseParams, relMax, secondOrderErrors } from './helpers.js';
import { type HostRow, egnnRow, hostParams } from './hostref.js';

before(async () => {
  await T.initTensorBackend();
});

const TINY: EgnnConfig = {
  nParticles: 4,
  spatialDim: 3,
  hidden: 8,
  layers: 2,
  attention: true,
  tanh: true,
  coordsRange: 15,
  conditionOnTemperature: true,
};

function hostRow(cfg: EgnnConfig): HostRow {
  return (p, c, x, beta) =>
    egnnRow(
      p,
      { n: cfg.nParticles, d: cfg.spatialDim, hidden: cfg.hidden, layers: cfg.layers, attention: cfg.attention, tanh: cfg.tanh, coordsRange: cfg.coordsRange, radialBasis: cfg.radialBasis, rbfMax: cfg.rbfMax },
      c,
      x,
      beta,
    );
}

/** A network with random O(0.4) parameters (the default φ_x gain of 0.001 would make F nearly 0). */
function randomNet(cfg: EgnnConfig, seed: number) {
  const rng = new Rng(seed);
  const net = createEgnn(cfg, rng);
  randomiseParams(net, rng, 0.4);
  return net;
}

describe('EGNN forward and gradients', () => {
  for (const variant of [
    { name: 'attention + tanh, conditioned', cfg: TINY },
    { name: 'no attention, no tanh, unconditioned', cfg: { ...TINY, attention: false, tanh: false, conditionOnTemperature: false } },
    { name: 'one layer', cfg: { ...TINY, layers: 1 } },
    { name: 'radial basis (5 functions)', cfg: { ...TINY, radialBasis: 5, rbfMax: 2.5 } },
  ]) {
    test(`${variant.name}: forward matches the float64 reference`, () => {
      const net = randomNet(variant.cfg, 1);
      const b = makeBatch(new Rng(2), 3, net.dim, net.conditionOnTemperature);
      const host = hostParams(net.params);
      const row = hostRow(variant.cfg);
      const ref = new Float64Array(b.B * b.dim);
      for (let r = 0; r < b.B; r++) {
        ref.set(row(host, b.c[r], b.x.subarray(r * b.dim, (r + 1) * b.dim), b.beta === null ? null : b.beta[r]), r * b.dim);
      }
      assert.ok(maxAbs(ref) > 1e-2, `reference output is too small to test (${maxAbs(ref)})`);
      const err = relMax(engineForward(net, b), ref);
      assert.ok(err <= 1e-5, `forward relMax ${err}`);
    });

    test(`${variant.name}: ∇ₓU, ∂U/∂c_noise, ∂U/∂β match central FD`, () => {
      const net = randomNet(variant.cfg, 3);
      const b = makeBatch(new Rng(4), 2, net.dim, net.conditionOnTemperature);
      const e = firstOrderErrors(net, hostRow(variant.cfg), b);
      assert.ok(e.x <= 2e-5, `∇ₓU relMax ${e.x}`);
      assert.ok(e.c <= 2e-5, `∂U/∂c relMax ${e.c}`);
      if (e.beta !== null) assert.ok(e.beta <= 2e-5, `∂U/∂β relMax ${e.beta}`);
    });

    test(`${variant.name}: second-order parameter gradients of L = mean(‖∇ₓU‖² + ‖F‖²), per layer`, () => {
      const net = randomNet(variant.cfg, 5);
      const b = makeBatch(new Rng(6), 2, net.dim, net.conditionOnTemperature);
      const errors = secondOrderErrors(net, hostRow(variant.cfg), b, new Rng(7));
      assert.deepEqual([...errors.keys()], net.params.names());
      const bad = [...errors].filter(([, e]) => !(e <= 1e-4));
      assert.deepEqual(bad, [], `parameters with wrong second-order gradients: ${JSON.stringify(bad)}`);
    });
  }
});

// ---------------------------------------------------------------- symmetries

/** A random rotation (unit quaternion → SO(3) matrix, row-major). */
function randomRotation(rng: Rng): number[] {
  const q = rng.normals(4);
  const n = Math.hypot(...q);
  const [w, x, y, z] = Array.from(q, (v) => v / n);
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
  ];
}

/** Apply x ↦ Qx + t to every particle of every row (atom-major rows, d = 3). */
function transform(x: Float64Array, Q: number[], t: number[]): Float64Array {
  const out = new Float64Array(x.length);
  for (let a = 0; a < x.length; a += 3) {
    for (let i = 0; i < 3; i++) out[a + i] = Q[3 * i] * x[a] + Q[3 * i + 1] * x[a + 1] + Q[3 * i + 2] * x[a + 2] + t[i];
  }
  return out;
}

/** Particle permutation of every row: out particle k = in particle perm[k]. */
function permute(x: Float64Array, perm: Int32Array, dim: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length; r += dim) {
    for (let k = 0; k < perm.length; k++) for (let i = 0; i < 3; i++) out[r + 3 * k + i] = x[r + 3 * perm[k] + i];
  }
  return out;
}

function rowEnergies(F: Float64Array, x: Float64Array, dim: number): Float64Array {
  const U = new Float64Array(F.length / dim);
  for (let i = 0; i < F.length; i++) U[Math.floor(i / dim)] += F[i] * x[i];
  return U;
}

describe('EGNN symmetries', () => {
  const base: EgnnConfig = { ...EGNN_DEFAULTS, nParticles: 6, spatialDim: 3, hidden: 16, conditionOnTemperature: false };
  for (const [conditioned, radialBasis] of [[false, 0], [true, 0], [false, 8]] as const) {
    const cfg: EgnnConfig = { ...base, radialBasis };
    const label = (conditioned ? 'conditioned' : 'unconditioned') + (radialBasis > 0 ? `, radial basis ${radialBasis}` : '');
    const net = (): ReturnType<typeof randomNet> => randomNet({ ...cfg, conditionOnTemperature: conditioned }, 11);

    test(`${label}: F(Qx + t) = Q F(x), F(Px) = P F(x); output is CoM-free`, () => {
      const n = net();
      const rng = new Rng(12);
      const b = makeBatch(rng, 4, n.dim, conditioned);
      const F = engineForward(n, b);
      const tol = 1e-4 * Math.max(1, maxAbs(F));
      assert.ok(maxAbs(F) > 0.05, `output too small to test symmetries (${maxAbs(F)})`);

      const Q = randomRotation(rng);
      const t = Array.from(rng.normals(3));
      const Frot = engineForward(n, { ...b, x: transform(b.x, Q, t).map(Math.fround) });
      const expectedRot = transform(F, Q, [0, 0, 0]);
      assert.ok(maxAbs(Frot.map((v, i) => v - expectedRot[i])) <= tol, 'rotation + translation equivariance');

      const perm = rng.permutation(cfg.nParticles);
      const Fperm = engineForward(n, { ...b, x: permute(b.x, perm, n.dim) });
      const expectedPerm = permute(F, perm, n.dim);
      assert.ok(maxAbs(Fperm.map((v, i) => v - expectedPerm[i])) <= tol, 'permutation equivariance');

      for (let r = 0; r < b.B; r++) {
        for (let i = 0; i < 3; i++) {
          let s = 0;
          for (let a = 0; a < cfg.nParticles; a++) s += F[r * n.dim + 3 * a + i];
          assert.ok(Math.abs(s) <= tol, `row ${r} centroid component ${i} is ${s}`);
        }
      }
    });

    test(`${label}: U = ⟨F(x), x⟩ is invariant under rotation, translation and permutation`, () => {
      const n = net();
      const rng = new Rng(13);
      const b = makeBatch(rng, 4, n.dim, conditioned);
      const U = rowEnergies(engineForward(n, b), b.x, n.dim);
      const tol = 1e-4 * Math.max(1, maxAbs(U));
      const xt = transform(b.x, randomRotation(rng), Array.from(rng.normals(3))).map(Math.fround);
      const Ut = rowEnergies(engineForward(n, { ...b, x: xt }), xt, n.dim);
      const xp = permute(b.x, rng.permutation(cfg.nParticles), n.dim);
      const Up = rowEnergies(engineForward(n, { ...b, x: xp }), xp, n.dim);
      assert.ok(maxAbs(Ut.map((v, i) => v - U[i])) <= tol, `rotation/translation: ${[...Ut]} vs ${[...U]}`);
      assert.ok(maxAbs(Up.map((v, i) => v - U[i])) <= tol, `permutation: ${[...Up]} vs ${[...U]}`);
    });
  }

  test('conditioned: changing β changes F', () => {
    const n = randomNet({ ...base, conditionOnTemperature: true }, 14);
    const b = makeBatch(new Rng(15), 2, n.dim, true);
    const F1 = engineForward(n, b);
    const F2 = engineForward(n, { ...b, beta: (b.beta as Float64Array).map((v) => Math.fround(v + 0.3)) });
    assert.ok(maxAbs(F1.map((v, i) => v - F2[i])) > 1e-3, 'β has no effect');
  });
});

describe('EGNN construction', () => {
  test('spec §3.2 architecture: 19 331 parameters for LJ-13 with conditioning; φ_x weights tiny; deterministic', () => {
    const a = createEgnn({ ...EGNN_DEFAULTS, nParticles: 13, spatialDim: 3, conditionOnTemperature: true }, new Rng(1));
    const b = createEgnn({ ...EGNN_DEFAULTS, nParticles: 13, spatialDim: 3, conditionOnTemperature: true }, new Rng(1));
    // embed 2·32+32; per layer edge 66·32+32 + 32·32+32, att 32+1, coord 32·32+32 + 32, node 64·32+32 + 32·32+32 (not in the last layer).
    const perLayer = 2144 + 1056 + 33 + 1056 + 32;
    assert.equal(a.params.numValues(), 96 + 3 * perLayer + 2 * (2080 + 1056));
    // xavier-uniform gain 0.001: |w| ≤ 0.001·√(6/33).
    assert.ok(maxAbs(a.params.readSync('egnn.layer0.coord.w2')) <= 0.001 * Math.sqrt(6 / 33));
    for (const name of a.params.names()) assert.deepEqual(a.params.readSync(name), b.params.readSync(name), name);
    a.params.dispose();
    b.params.dispose();
  });

  test('radial basis: K more edge-input rows per layer, the config records it; K = 0 is the reference network', () => {
    const geometry = { ...EGNN_DEFAULTS, nParticles: 13, spatialDim: 3 };
    const ref = createEgnn(geometry, new Rng(1));
    const off = createEgnn({ ...geometry, radialBasis: 0 }, new Rng(1));
    const on = createEgnn({ ...geometry, radialBasis: 16, rbfMax: 2 }, new Rng(1));
    assert.deepEqual(off.config, ref.config);
    assert.ok(!('radialBasis' in ref.config));
    assert.deepEqual(on.config, { ...ref.config, radialBasis: 16, rbfMax: 2 });
    for (const name of ref.params.names()) assert.deepEqual(off.params.readSync(name), ref.params.readSync(name), name);
    for (let l = 0; l < 3; l++) assert.deepEqual(on.params.shape(`egnn.layer${l}.edge.w1`), [2 * 32 + 2 + 16, 32]);
    assert.equal(on.params.numValues() - ref.params.numValues(), 3 * 16 * 32);
    const F = T.scope(() => T.readF64Sync(on.apply(T.full([2, 1], -0.5), T.fromF64(new Rng(2).normals(78), [2, 39]), null)));
    assert.equal(F.length, 78);
    assert.ok(F.every(Number.isFinite));
    for (const n of [ref, off, on]) n.params.dispose();
  });

  test('rejects bad inputs with shapes in the message', () => {
    const net = createEgnn(TINY, new Rng(1));
    T.scope(() => {
      const c = T.zeros([2, 1]);
      assert.throws(() => net.apply(c, T.zeros([2, 11]), T.zeros([2, 1])), /xIn has shape \[2,11\], expected \[B,12\]/);
      assert.throws(() => net.apply(c, T.zeros([2, 12]), null), /beta \[2,1\] is required/);
      assert.throws(() => net.apply(T.zeros([3, 1]), T.zeros([2, 12]), T.zeros([2, 1])), /cNoise has shape \[3,1\], expected \[2,1\]/);
    });
  });
});

