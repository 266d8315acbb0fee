/** The parameter store: deterministic seeded initialisation, access, validation, gradient map. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import * as T from '../../src/tensor/index.js';

before(async () => {
  await T.initTensorBackend();
});

function build(seed: number): T.ParamStore {
  const rng = new Rng(seed);
  const s = new T.ParamStore();
  s.add('layer1.weight', [3, 2], { kind: 'normal', std: 0.5 }, rng);
  s.add('layer1.bias', [2], { kind: 'zeros' });
  s.add('layer2.weight', [2, 1], { kind: 'uniform', low: -1, high: 1 }, rng);
  s.add('layer2.bias', [1], { kind: 'constant', value: 0.25 });
  return s;
}

test('initialisation draws from the Rng in add order, row-major, rounded to float32', () => {
  const s = build(7);
  const rng = new Rng(7);
  const w1 = rng.normals(6).map((v) => Math.fround(0.5 * v));
  const w2 = rng.uniforms(2, -1, 1).map(Math.fround);
  assert.deepEqual([...s.readSync('layer1.weight')], [...w1]);
  assert.deepEqual([...s.readSync('layer1.bias')], [0, 0]);
  assert.deepEqual([...s.readSync('layer2.weight')], [...w2]);
  assert.deepEqual([...s.readSync('layer2.bias')], [0.25]);
  const again = build(7);
  for (const n of s.names()) assert.deepEqual(again.readSync(n), s.readSync(n));
  assert.notDeepEqual(build(8).readSync('layer1.weight'), s.readSync('layer1.weight'));
  for (const st of [s, again]) st.dispose();
});

test('names iterate in insertion order; shapes and counts are reported', () => {
  const s = build(1);
  assert.deepEqual(s.names(), ['layer1.weight', 'layer1.bias', 'layer2.weight', 'layer2.bias']);
  assert.equal(s.count, 4);
  assert.equal(s.numValues(), 6 + 2 + 2 + 1);
  assert.deepEqual(s.shape('layer2.weight'), [2, 1]);
  assert.deepEqual(T.shapeOf(s.get('layer1.weight')), [3, 2]);
  s.dispose();
  assert.equal(s.count, 0);
});

test('set/read round-trip (float64 input rounded to float32) and clone is independent', () => {
  const s = build(1);
  s.set('layer1.bias', Float64Array.from([0.1, -0.2]));
  assert.deepEqual([...s.readSync('layer1.bias')], [Math.fround(0.1), Math.fround(-0.2)]);
  const c = s.clone();
  c.set('layer1.bias', Float32Array.from([5, 6]));
  assert.deepEqual([...s.readSync('layer1.bias')], [Math.fround(0.1), Math.fround(-0.2)]);
  assert.deepEqual(c.names(), s.names());
  for (const st of [s, c]) st.dispose();
});

test('invalid use fails with a message naming the parameter and the shapes', () => {
  const s = build(1);
  assert.throws(() => s.add('layer1.bias', [2], { kind: 'zeros' }), /'layer1.bias' already exists/);
  assert.throws(() => s.add('x', [2], { kind: 'normal', std: 1 }), /normal initialisation needs an Rng/);
  assert.throws(() => s.add('y', [0, 2], { kind: 'zeros' }), /shape must be positive integers/);
  assert.throws(() => s.add('z', [2], { kind: 'values', data: new Float64Array(3) }), /3 initial values given, shape needs 2/);
  assert.throws(() => s.get('nope'), /unknown param 'nope'/);
  assert.throws(() => s.set('layer1.bias', new Float64Array(3)), /\[2\] needs 2 values, got 3/);
  assert.throws(() => s.set('layer1.bias', Float64Array.from([1, NaN])), /not finite/);
  T.scope(() => {
    assert.throws(() => s.assign('layer1.bias', T.zeros([3])), /new value has shape \[3\], expected \[2\]/);
  });
  s.dispose();
});

test('valueAndParamGrads returns every parameter in order, null where the loss does not depend on it', () => {
  const s = build(3);
  const { loss, grads } = T.scope(() => {
    const x = T.fromF32([1, 2, 3], [1, 3]);
    const r = T.valueAndParamGrads(
      () => T.sum(T.square(T.add(T.matmul(x, s.get('layer1.weight')), s.get('layer1.bias')))),
      s,
    );
    return { loss: T.readScalarSync(r.value), grads: new Map([...r.grads].map(([n, g]) => [n, g && T.readSync(g)])) };
  });
  assert.deepEqual([...grads.keys()], s.names());
  assert.equal(grads.get('layer2.weight'), null);
  assert.equal(grads.get('layer2.bias'), null);
  // ∂/∂b Σ(xW + b)² = 2(xW + b) with b = 0
  const w = s.readSync('layer1.weight');
  const y = [0, 1].map((j) => 1 * w[j] + 2 * w[2 + j] + 3 * w[4 + j]);
  assert.ok(Math.abs(loss - (y[0] ** 2 + y[1] ** 2)) < 1e-5);
  const gb = grads.get('layer1.bias') as Float32Array;
  assert.ok(Math.abs(gb[0] - 2 * y[0]) < 1e-5 && Math.abs(gb[1] - 2 * y[1]) < 1e-5);
  s.dispose();
});
