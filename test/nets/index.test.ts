/**
 * createNetwork (src/nets/index.ts): defaults and presets, validation of
 * user configuration (unknown keys and bad values are UserErrors that name
 * the key and the valid choices), and that a network's resolved `config`
 * rebuilds the same architecture.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { UserError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { DIT_PRESETS, EGNN_DEFAULTS, NETWORK_CONFIG_KEYS, createNetwork } from '../../src/nets/index.js';
import * as T from '../../src/tensor/index.js';

before(async () => {
  await T.initTensorBackend();
});

const LJ13 = { dim: 39, nParticles: 13, spatialDim: 3 };
const ALDP = { dim: 66, nParticles: 22, spatialDim: 3 };

function userError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof UserError && pattern.test(e.message));
}

describe('createNetwork', () => {
  test('defaults: EGNN is the spec §3.2 network; DiT defaults to the full preset; small preset on request', () => {
    const egnn = createNetwork('egnn', {}, LJ13, new Rng(1));
    assert.deepEqual(egnn.config, { ...EGNN_DEFAULTS });
    assert.equal(egnn.kind, 'egnn');
    assert.equal(egnn.dim, 39);
    assert.equal(egnn.conditionOnTemperature, false);
    const small = createNetwork('dit', { preset: 'small', heads: 4, conditionOnTemperature: true }, ALDP, new Rng(1));
    assert.deepEqual(small.config, { ...DIT_PRESETS.small, heads: 4, conditionOnTemperature: true });
    assert.ok(small.params.has('dit.beta.w1'));
    const mlp = createNetwork('mlp', { hidden: 16 }, LJ13, new Rng(1));
    assert.deepEqual(mlp.config, { hidden: 16, layers: 3, timeEmbedding: 0, conditionOnTemperature: false });
    for (const n of [egnn, small, mlp]) n.params.dispose();
  });

  test('the resolved config rebuilds the same architecture and, with the same seed, the same parameters', () => {
    for (const [kind, config, geometry] of [
      ['egnn', { hidden: 8, layers: 2, attention: false }, LJ13],
      ['dit', { preset: 'small', blocks: 1 }, ALDP],
      ['mlp', { layers: 1, timeEmbedding: 4 }, LJ13],
    ] as const) {
      const a = createNetwork(kind, config, geometry, new Rng(3));
      const b = createNetwork(kind, { ...a.config }, geometry, new Rng(3));
      assert.deepEqual(b.config, a.config);
      assert.deepEqual(b.params.names(), a.params.names());
      for (const name of a.params.names()) assert.deepEqual(b.params.readSync(name), a.params.readSync(name), `${kind} ${name}`);
      a.params.dispose();
      b.params.dispose();
    }
  });

  test('unknown keys are rejected, listing the valid keys', () => {
    userError(() => createNetwork('egnn', { hiden: 32 }, LJ13, new Rng(1)), new RegExp(`unknown key 'hiden'; valid keys: ${NETWORK_CONFIG_KEYS.egnn.join(', ')}`));
    userError(() => createNetwork('dit', { dropout: 0.1, n_blocks: 2 }, ALDP, new Rng(1)), /unknown keys 'dropout', 'n_blocks'; valid keys: preset, hidden/);
  });

  test('an energy-model training step (second-order loss + Adam) leaks no tensors', () => {
    for (const [kind, config, geometry] of [
      ['egnn', { hidden: 8, layers: 2, conditionOnTemperature: true }, LJ13],
      ['dit', { preset: 'small', blocks: 1 }, ALDP],
      ['mlp', { hidden: 16 }, LJ13],
    ] as const) {
      const rng = new Rng(4);
      const net = createNetwork(kind, config, geometry, rng);
      const opt = new T.Adam(net.params, { lr: 1e-3 });
      const B = 3;
      const step = (): number =>
        T.scope(() => {
          const x = T.fromF64(rng.normals(B * net.dim), [B, net.dim]);
          const c = T.fromF64(rng.normals(B), [B, 1]);
          const beta = net.conditionOnTemperature ? T.full([B, 1], 1) : null;
          const { value, grads } = T.valueAndParamGrads(() => {
            const gx = T.grad((xv) => T.sum(T.mul(net.apply(c, xv, beta), xv)), x);
            return T.mean(T.sum(T.square(gx), 1));
          }, net.params);
          opt.step(grads);
          return T.readScalarSync(value);
        });
      step();
      const before = T.memory().numTensors;
      assert.ok(Number.isFinite(step()));
      assert.equal(T.memory().numTensors, before, kind);
      opt.dispose();
      net.params.dispose();
    }
  });

  test('bad values, kinds and geometries are user errors naming the value', () => {
    userError(() => createNetwork('gnn', {}, LJ13, new Rng(1)), /'kind' must be one of mlp, egnn, dit, got "gnn"/);
    userError(() => createNetwork('egnn', { layers: 2.5 }, LJ13, new Rng(1)), /'layers' must be an integer ≥ 1, got 2.5/);
    userError(() => createNetwork('egnn', { attention: 'yes' }, LJ13, new Rng(1)), /'attention' must be true or false, got "yes"/);
    userError(() => createNetwork('egnn', { coordsRange: -1 }, LJ13, new Rng(1)), /'coordsRange' must be a finite number > 0, got -1/);
    userError(() => createNetwork('dit', { preset: 'huge' }, ALDP, new Rng(1)), /'preset' must be one of full, small, got "huge"/);
    userError(() => createNetwork('dit', { hidden: 30, heads: 4 }, ALDP, new Rng(1)), /times an even head size/);
    userError(() => createNetwork('mlp', {}, { dim: 40, nParticles: 13, spatialDim: 3 }, new Rng(1)), /dim 40 ≠ nParticles 13 × spatialDim 3/);
    userError(() => createNetwork('mlp', [] as unknown as Record<string, unknown>, LJ13, new Rng(1)), /configuration must be an object/);
  });
});
