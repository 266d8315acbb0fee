/**
 * DiT (src/nets/dit.ts) and RoPE (src/nets/rope.ts): agreement with the
 * float64 host reference (which applies RoPE by the torchtune pair formula),
 * first- and second-order gradients, the adaLN-zero properties (F ≡ 0 and
 * blocks = identity at initialisation) and the RoPE relative-position property.
 * Permutation equivariance is not tested: RoPE ties features to atom indices.
 *
 * Tolerances (float32 engine vs float64 host; measured values in brackets):
 * - forward relMax ≤ 1e-5 [≤ 1.5e-6]; RoPE vs host ≤ 1e-6 [7e-8];
 * - first order (∇ₓU, ∂U/∂c_noise, ∂U/∂β vs central FD of the host U,
 *   h = 1e-4): relMax ≤ 2e-5 [≤ 1.3e-6];
 * - second order (∂L/∂θ per parameter tensor along 3 random directions vs
 *   central FD of the host loss, helpers.ts): ≤ 1e-4 [≤ 3e-6; 2 blocks: 5.8e-6];
 * - RoPE scores: |s(p, p′) − s(p+1, p′+1)| ≤ 1e-5·max|s| [8e-8] (float32).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import { DIT_PRESETS, type DitConfig, applyRope, applyRopeToHeads, createDit, ropeConstants } from '../../src/nets/index.js';
import * as T from '../../src/tensor/index.js';
import { engineForward, firstOrderErrors, makeBatch, maxAbs, randomiseParams, relMax, secondOrderErrors } from './helpers.js';
import { type HostRow, ditRow, hostParams, ropeHead } from './hostref.js';
import { ropeToHeadsCases } from './rope-heads.js';

before(async () => {
  await T.initTensorBackend();
});

const TINY: DitConfig = {
  nParticles: 5,
  spatialDim: 3,
  hidden: 16,
  blocks: 1,
  heads: 2,
  condDim: 8,
  mlpRatio: 4,
  conditionOnTemperature: true,
};

function hostRow(cfg: DitConfig): HostRow {
  const h = { n: cfg.nParticles, d: cfg.spatialDim, hidden: cfg.hidden, blocks: cfg.blocks, heads: cfg.heads, condDim: cfg.condDim, mlpRatio: cfg.mlpRatio };
  return (p, c, x, beta) => ditRow(p, h, c, x, beta);
}

function randomNet(cfg: DitConfig, seed: number) {
  const rng = new Rng(seed);
  const net = createDit(cfg, rng);
  randomiseParams(net, rng, 0.3);
  return net;
}

describe('DiT forward and gradients', () => {
  for (const variant of [
    { name: 'conditioned, 1 block', cfg: TINY },
    { name: 'unconditioned, 2 blocks', cfg: { ...TINY, blocks: 2, conditionOnTemperature: false } },
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
  }

  test('second-order parameter gradients of L = mean(‖∇ₓU‖² + ‖F‖²), per layer (conditioned, 1 block)', () => {
    const net = randomNet(TINY, 5);
    const b = makeBatch(new Rng(6), 2, net.dim, true);
    const errors = secondOrderErrors(net, hostRow(TINY), b, new Rng(7));
    assert.deepEqual([...errors.keys()], net.params.names());
    const bad = [...errors].filter(([, e]) => !(e <= 1e-4));
    assert.deepEqual(bad, [], `parameters with wrong second-order gradients: ${JSON.stringify(bad)}`);
  });
});

describe('DiT adaLN-zero', () => {
  test('F ≡ 0 exactly at initialisation (small preset, ALDP size)', () => {
    const net = createDit({ ...DIT_PRESETS.small, nParticles: 22, spatialDim: 3, conditionOnTemperature: true }, new Rng(1));
    const F = engineForward(net, makeBatch(new Rng(2), 3, net.dim, true));
    assert.ok(F.every((v) => v === 0), `max |F| = ${maxAbs(F)}`);
    net.params.dispose();
  });

  test('with zero adaLN modulation every block is the identity', () => {
    const cfg = { ...TINY, blocks: 2 };
    const deep = randomNet(cfg, 8);
    for (const name of deep.params.names()) {
      if (/^dit\.block\d+\.adaln\./.test(name)) deep.params.set(name, new Float32Array(deep.params.readSync(name).length));
    }
    const shallow = createDit({ ...cfg, blocks: 0 }, new Rng(9));
    for (const name of shallow.params.names()) shallow.params.set(name, deep.params.readSync(name));
    const b = makeBatch(new Rng(10), 2, deep.dim, true);
    const Fdeep = engineForward(deep, b);
    assert.ok(maxAbs(Fdeep) > 1e-2);
    assert.deepEqual(Fdeep, engineForward(shallow, b));
    // …and a non-zero modulation does change the output.
    deep.params.set('dit.block1.adaln.b', new Rng(11).normals(6 * cfg.hidden));
    assert.ok(maxAbs(engineForward(deep, b).map((v, i) => v - Fdeep[i])) > 1e-3);
  });
});

describe('RoPE', () => {
  test('matches the torchtune pair formula per head', () => {
    const [n, dh, heads] = [6, 8, 3];
    const x = new Rng(1).normals(2 * n * dh * heads);
    const got = T.scope(() => T.readF64Sync(applyRope(T.fromF64(x, [2, n, dh * heads]), ropeConstants(n, dh, heads))));
    const ref = new Float64Array(x.length);
    for (let b = 0; b < 2; b++) {
      for (let p = 0; p < n; p++) {
        for (let h = 0; h < heads; h++) {
          const off = (b * n + p) * dh * heads + h * dh;
          ref.set(ropeHead(Float32Array.from(x.subarray(off, off + dh)), p), off);
        }
      }
    }
    const err = relMax(got, ref);
    assert.ok(err <= 1e-6, `relMax ${err}`);
    // Scaled tables (the DiT's queries, scale 1/√dh) give the scaled rotation.
    const s = 1 / Math.sqrt(dh);
    const scaled = T.scope(() => T.readF64Sync(applyRope(T.fromF64(x, [2, n, dh * heads]), ropeConstants(n, dh, heads, undefined, s))));
    const errScaled = relMax(scaled, ref.map((v) => s * v));
    assert.ok(errScaled <= 1e-6, `scaled: relMax ${errScaled}`);
    assert.throws(() => ropeConstants(n, dh, heads, 10000, 0), /ropeConstants: scale must be finite and > 0, got 0/);
  });

  test("applyRopeToHeads gives applyRope's heads moved by a transpose, bit for bit, through the second order", async () => {
    const { fused, composed } = await ropeToHeadsCases(2, 5, 8, 3);
    assert.equal(fused.length, 3);
    fused.forEach((f, i) => {
      assert.ok(f.some((v) => v !== 0), `output ${i}: all zero (vacuous)`);
      assert.ok(f.every((v, j) => Object.is(v, composed[i][j])), `output ${i} (rotation, gradient, second order) differs`);
    });
    assert.throws(() => applyRopeToHeads(T.zeros([2, 5, 20]), ropeConstants(5, 8, 3)), /applyRopeToHeads: x has shape \[2,5,20\], expected \[B,5,24\]/);
  });

  test('⟨RoPE(q, p), RoPE(k, p′)⟩ depends only on p − p′', () => {
    const [n, dh] = [7, 16];
    const rng = new Rng(2);
    const q = rng.normals(dh);
    const k = rng.normals(dh);
    const tileRows = (v: Float64Array): Float64Array => {
      const out = new Float64Array(n * dh);
      for (let p = 0; p < n; p++) out.set(v, p * dh);
      return out;
    };
    const [rq, rk] = T.scope(() => {
      const rope = ropeConstants(n, dh, 1);
      return [tileRows(q), tileRows(k)].map((v) => T.readF64Sync(applyRope(T.fromF64(v, [1, n, dh]), rope)));
    });
    const s = (p: number, pp: number): number => {
      let acc = 0;
      for (let z = 0; z < dh; z++) acc += rq[p * dh + z] * rk[pp * dh + z];
      return acc;
    };
    let scale = 0;
    for (let p = 0; p < n; p++) for (let pp = 0; pp < n; pp++) scale = Math.max(scale, Math.abs(s(p, pp)));
    for (let p = 0; p + 1 < n; p++) {
      for (let pp = 0; pp + 1 < n; pp++) {
        assert.ok(Math.abs(s(p, pp) - s(p + 1, pp + 1)) <= 1e-5 * scale, `s(${p},${pp}) ≠ s(${p + 1},${pp + 1})`);
      }
    }
    // The score does depend on the offset (otherwise the property above is vacuous).
    assert.ok(Math.abs(s(0, 0) - s(0, 1)) > 1e-2 * scale);
    assert.ok(Math.abs(s(0, 1) - s(1, 0)) > 1e-2 * scale);
  });
});

describe('DiT construction', () => {
  test('full preset: ≈0.52 M parameters per block, ≈3.2 M in all (spec §3.3)', () => {
    const net = createDit({ ...DIT_PRESETS.full, nParticles: 22, spatialDim: 3, conditionOnTemperature: false }, new Rng(1));
    // per block: 2 norms 2·192, qkv 192·576, out 192·192, MLP 192·768+768 + 768·192+192, adaLN 64·1152+1152
    const perBlock = 384 + 110592 + 36864 + 147456 + 768 + 147456 + 192 + 73728 + 1152;
    assert.equal(perBlock, 518592);
    // embed 3·192+192, time 256·64+64 + 64·64+64, final 192 + 64·384+384 + 192·3+3
    assert.equal(net.params.numValues(), 6 * perBlock + 768 + 20608 + 25731);
    net.params.dispose();
  });

  test('rejects a head size that is odd or does not divide hidden', () => {
    assert.throws(() => createDit({ ...TINY, hidden: 15, heads: 3 }, new Rng(1)), /must be 'heads' \(3\) times an even head size/);
    assert.throws(() => createDit({ ...TINY, hidden: 16, heads: 3 }, new Rng(1)), /times an even head size/);
  });
});
