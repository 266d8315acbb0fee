/**
 * Canary for tfjs#3252 (tensor-engine spec §4.1): gradients that reuse the
 * saved forward OUTPUT (tfjs's shipped sigmoid/tanh/exp gradients, reproduced
 * by diagnostics.savedOutputOps) lose every second-order term that flows
 * through the saved output. These tests assert that the defect is still there
 * (so an upstream change is noticed) and that the ops layer's input-saving
 * versions are right.
 *
 * Analytic second derivatives at x: silu'' = σ(1−σ)(2 + x(1−2σ)),
 * tanh'' = −2 tanh(1 − tanh²), exp'' = exp. The ops layer must match to
 * relMax 1e-5 (float32); the defective versions are off by ≥ 10 % here
 * (naive SiLU loses x·σ''(x); tanh and exp lose everything and give 0).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { savedOutputOps } from '../../src/tensor/diagnostics.js';
import * as T from '../../src/tensor/index.js';
import { relMax } from './helpers.js';
import { PARAM_NAMES, engineLoss, oracle, paramStore, specProblem } from './mlp-oracle.js';

before(async () => {
  await T.initTensorBackend();
});

const X = [-3, -1.5, -0.5, 0.7, 1.9, 3.2].map(Math.fround);
const sig = (v: number): number => 1 / (1 + Math.exp(-v));

/** First and second derivatives of Σ f(x) at X, via (nested) grad. */
function derivatives(f: (x: T.Tensor) => T.Tensor): { d1: Float32Array; d2: Float32Array } {
  return T.scope(() => {
    const x = T.fromF32(X, [X.length]);
    const first = (a: T.Tensor): T.Tensor => T.grad((b) => T.sum(f(b)), a);
    return { d1: T.readSync(first(x)), d2: T.readSync(T.grad((a) => T.sum(first(a)), x)) };
  });
}

const naiveSilu = (x: T.Tensor): T.Tensor => T.mul(x, savedOutputOps.sigmoid(x));

const ops: { name: string; ops: (x: T.Tensor) => T.Tensor; naive: (x: T.Tensor) => T.Tensor; d1: (v: number) => number; d2: (v: number) => number }[] = [
  {
    name: 'silu',
    ops: T.silu,
    naive: naiveSilu,
    d1: (v) => sig(v) * (1 + v * (1 - sig(v))),
    d2: (v) => sig(v) * (1 - sig(v)) * (2 + v * (1 - 2 * sig(v))),
  },
  {
    name: 'tanh',
    ops: T.tanh,
    naive: savedOutputOps.tanh,
    d1: (v) => 1 - Math.tanh(v) ** 2,
    d2: (v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2),
  },
  { name: 'exp', ops: T.exp, naive: savedOutputOps.exp, d1: Math.exp, d2: Math.exp },
];

describe('saved-output gradients are wrong beyond first order; the ops layer is right', () => {
  for (const op of ops) {
    test(op.name, () => {
      const d1Ref = X.map(op.d1);
      const d2Ref = X.map(op.d2);
      const good = derivatives(op.ops);
      const bad = derivatives(op.naive);
      assert.ok(relMax(good.d1, d1Ref) < 1e-5, 'ops layer first derivative');
      assert.ok(relMax(good.d2, d2Ref) < 1e-5, 'ops layer second derivative');
      assert.ok(relMax(bad.d1, d1Ref) < 1e-5, 'saved-output first derivative is still right');
      const err = relMax(bad.d2, d2Ref);
      assert.ok(err > 0.1, `saved-output second derivative should be wrong, relMax only ${err.toExponential(2)}`);
    });
  }
});

describe('spec §6.1 tiny MLP with naive x·sigmoid(x) SiLU (canary)', () => {
  test('relMax vs the float64 oracle ≈ 0.058 (spec), while ops.silu gives < 1e-5', () => {
    const sizes = { B: 3, D: 3, H: 4 };
    const { params, data } = specProblem(sizes);
    const ref = oracle(params, data, sizes);
    const store = paramStore(params, sizes);
    const errors = [naiveSilu, T.silu].map((act) =>
      T.scope(() => {
        const x = T.fromF64(data.x, [sizes.B, sizes.D]);
        const t = T.fromF64(data.t, [sizes.B, 1]);
        const target = T.fromF64(data.target, [sizes.B, sizes.D]);
        const { grads } = T.valueAndParamGrads(() => engineLoss(store, x, t, target, act), store);
        const names = PARAM_NAMES.filter((n) => n !== 'b3');
        return relMax(
          names.flatMap((n) => [...T.readSync(grads.get(n) as T.Tensor)]),
          names.flatMap((n) => [...ref.grads[n]]),
        );
      }),
    );
    store.dispose();
    const [naive, fixed] = errors;
    assert.ok(naive > 0.03 && naive < 0.1, `naive SiLU relMax ${naive.toExponential(3)} (spec: 0.058)`);
    assert.ok(fixed < 1e-5, `ops.silu relMax ${fixed.toExponential(3)}`);
  });
});
