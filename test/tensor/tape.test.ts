/**
 * pita's reverse pass (src/tensor/tape.ts, tfjs's written out so that
 * gradient contributions can add inside the kernels that made them) against
 * tfjs's own `engine.gradients`: on the CPU, where contributions add with
 * tfjs's Add as before, both give the same numbers bit for bit, to second
 * order, and leave no tensors behind.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/core/rng.js';
import { gradients } from '../../src/tensor/tape.js';
import * as T from '../../src/tensor/index.js';
import { raw, wrap } from '../../src/tensor/tensor.js';

before(async () => {
  await T.initTensorBackend();
});

type Pass = (f: () => tf.Tensor, xs: tf.Tensor[]) => tf.Tensor[];
const tfjsPass: Pass = (f, xs) => tf.engine().gradients(f, xs, undefined, true).grads;
const pitaPass: Pass = (f, xs) => gradients(f, xs, undefined, (a, b) => tf.add(a, b)).grads as tf.Tensor[];

test('the reverse pass gives tfjs engine.gradients bit for bit, first and second order, and frees what it made', () => {
  const rng = new Rng(11);
  const make = (shape: number[]) => tf.tensor(Float32Array.from(rng.normals(shape.reduce((p, q) => p * q, 1))), shape);
  const [x, w, v] = [make([6, 4]), make([4, 3]), make([6, 3])];
  // x and w are each used several times, so their gradients are sums of contributions.
  const f = (xr: tf.Tensor, wr: tf.Tensor) => {
    const [xi, wi] = [wrap(xr), wrap(wr)];
    const h = T.tanh(T.matmul(xi, wi));
    return raw(T.sum(T.add(T.mul(h, wrap(v)), T.mul(T.matmul(T.square(xi), wi), h))));
  };
  const run = (pass: Pass) =>
    tf.tidy(() => {
      const first = pass(() => f(x, w), [x, w]);
      // ∇ of Σ (∂f/∂x)², through the first pass.
      const second = pass(() => raw(T.sum(T.square(wrap(pass(() => f(x, w), [x, w])[0])))), [x, w]);
      return [...first, ...second].map((g) => g.dataSync() as Float32Array);
    });
  const before = tf.memory().numTensors;
  const ours = run(pitaPass);
  assert.equal(tf.memory().numTensors, before, 'tensors left behind');
  const theirs = run(tfjsPass);
  assert.equal(ours.length, 4);
  ours.forEach((g, i) => {
    assert.ok(g.some((u) => u !== 0), `gradient ${i}: all zero (vacuous)`);
    assert.ok(
      g.every((u, j) => Object.is(u, theirs[i][j])),
      `gradient ${i} differs from tfjs's`,
    );
  });
  assert.throws(() => gradients(() => raw(T.sum(wrap(x))), [x], tf.tensor([1], [1], 'int32'), tf.add), /dy must have 'float32' dtype/);
});
