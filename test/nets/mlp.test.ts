/**
 * MLP (src/nets/mlp.ts): shapes, seeded determinism, agreement with the
 * float64 host reference, first- and second-order gradients.
 *
 * Tolerances (float32 engine vs float64 host; measured values in brackets):
 * forward relMax ≤ 1e-5 [≤ 2.7e-7]; first order ≤ 2e-5 [≤ 1.1e-7]; second order per
 * parameter tensor ≤ 1e-4 [≤ 5e-7] (see helpers.ts for the FD oracle).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import { type MlpConfig, createMlp } from '../../src/nets/index.js';
import * as T from '../../src/tensor/index.js';
import { engineForward, firstOrderErrors, makeBatch, maxAbs, randomiseParams, relMax, secondOrderErrors } from './helpers.js';
import { type HostRow, hostParams, mlpRow } from './hostref.js';

before(async () => {
  await T.initTensorBackend();
});

const TINY: MlpConfig = { dim: 4, hidden: 8, layers: 2, conditionOnTemperature: true };

function hostRow(cfg: MlpConfig): HostRow {
  const h = { dim: cfg.dim, hidden: cfg.hidden, layers: cfg.layers, timeEmbedding: cfg.timeEmbedding ?? 0 };
  return (p, c, x, beta) => mlpRow(p, h, c, x, beta);
}

describe('MLP', () => {
  test('output shape [B, D]; parameter names and shapes', () => {
    const net = createMlp({ dim: 39, hidden: 32, layers: 3, conditionOnTemperature: true }, new Rng(1));
    assert.deepEqual(net.params.names(), [
      'mlp.layer0.w', 'mlp.layer0.b', 'mlp.layer1.w', 'mlp.layer1.b', 'mlp.layer2.w', 'mlp.layer2.b', 'mlp.out.w', 'mlp.out.b',
    ]);
    assert.deepEqual(net.params.shape('mlp.layer0.w'), [41, 32]);
    assert.deepEqual(net.params.shape('mlp.out.w'), [32, 39]);
    const shape = T.scope(() => T.shapeOf(net.apply(T.zeros([5, 1]), T.zeros([5, 39]), T.zeros([5, 1]))));
    assert.deepEqual(shape, [5, 39]);
    // PyTorch default init: |W| ≤ 1/√fanIn.
    assert.ok(maxAbs(net.params.readSync('mlp.layer0.w')) <= 1 / Math.sqrt(41));
    assert.ok(maxAbs(net.params.readSync('mlp.layer0.w')) > 0.9 / Math.sqrt(41));
    net.params.dispose();
  });

  test('same seed → identical parameters and outputs; another seed → different parameters', () => {
    const a = createMlp(TINY, new Rng(7));
    const b = createMlp(TINY, new Rng(7));
    const c = createMlp(TINY, new Rng(8));
    for (const name of a.params.names()) assert.deepEqual(a.params.readSync(name), b.params.readSync(name), name);
    assert.notDeepEqual(a.params.readSync('mlp.layer0.w'), c.params.readSync('mlp.layer0.w'));
    const batch = makeBatch(new Rng(1), 3, 4, true);
    assert.deepEqual(engineForward(a, batch), engineForward(b, batch));
  });

  for (const variant of [
    { name: 'raw c_noise, conditioned', cfg: TINY },
    { name: 'sinusoidal c_noise embedding, unconditioned', cfg: { ...TINY, timeEmbedding: 6, conditionOnTemperature: false } },
  ]) {
    test(`${variant.name}: forward and first-order gradients match the float64 reference`, () => {
      const rng = new Rng(2);
      const net = createMlp(variant.cfg, rng);
      randomiseParams(net, rng, 0.5);
      const b = makeBatch(new Rng(3), 3, net.dim, net.conditionOnTemperature);
      const host = hostParams(net.params);
      const row = hostRow(variant.cfg);
      const ref = new Float64Array(b.B * b.dim);
      for (let r = 0; r < b.B; r++) {
        ref.set(row(host, b.c[r], b.x.subarray(r * b.dim, (r + 1) * b.dim), b.beta === null ? null : b.beta[r]), r * b.dim);
      }
      const err = relMax(engineForward(net, b), ref);
      assert.ok(err <= 1e-5, `forward relMax ${err}`);
      const e = firstOrderErrors(net, row, b);
      assert.ok(e.x <= 2e-5, `∇ₓU relMax ${e.x}`);
      assert.ok(e.c <= 2e-5, `∂U/∂c relMax ${e.c}`);
      if (e.beta !== null) assert.ok(e.beta <= 2e-5, `∂U/∂β relMax ${e.beta}`);
    });

    test(`${variant.name}: second-order parameter gradients, per layer`, () => {
      const rng = new Rng(4);
      const net = createMlp(variant.cfg, rng);
      randomiseParams(net, rng, 0.5);
      const errors = secondOrderErrors(net, hostRow(variant.cfg), makeBatch(new Rng(5), 2, net.dim, net.conditionOnTemperature), new Rng(6));
      const bad = [...errors].filter(([, e]) => !(e <= 1e-4));
      assert.deepEqual(bad, [], `parameters with wrong second-order gradients: ${JSON.stringify(bad)}`);
    });
  }

  test('rejects bad configurations', () => {
    assert.throws(() => createMlp({ ...TINY, layers: 0 }, new Rng(1)), /'layers' must be an integer ≥ 1, got 0/);
    assert.throws(() => createMlp({ ...TINY, timeEmbedding: 3 }, new Rng(1)), /'timeEmbedding' must be an even integer ≥ 2, got 3/);
  });
});
