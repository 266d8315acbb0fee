/** Backend start-up guard rails (tensor-engine spec §4.3–4.5). */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { traceKernels } from '../../src/tensor/diagnostics.js';
import * as T from '../../src/tensor/index.js';
import { KERNELS } from '../../src/tensor/kernels.js';

test('initTensorBackend starts wasm (SIMD, one thread) and is idempotent', async () => {
  const [a, b] = await Promise.all([T.initTensorBackend(), T.initTensorBackend()]);
  assert.equal(a, b);
  assert.equal(await T.initTensorBackend(), a);
  assert.equal(a.name, 'wasm');
  assert.equal(a.threads, 1);
  assert.equal(a.simd, true, 'Node 20 supports wasm SIMD; the non-SIMD binary is ~2-3x slower');
  assert.ok(existsSync(path.join(a.wasmDir, 'tfjs-backend-wasm-simd.wasm')));
  assert.equal(T.backendInfo(), a);
});

test('every kernel run by every op, to second order, is one of the kernels checked at start-up', async () => {
  await T.initTensorBackend();
  const allowed = new Set<string>([...KERNELS.taped, ...KERNELS.forwardOnly]);
  const { kernels } = traceKernels(() =>
    T.scope(() => {
      const x = T.fromF32([0.1, -0.4, 0.9, 1.3, -2, 0.5], [2, 3]);
      const w = T.fromF32([0.3, -0.2, 0.5, 0.7, 0.1, -0.6], [3, 2]);
      const mask = T.fromF32([1, 0, 1, 0, 1, 1], [2, 3]);
      const everyOp = (a: T.Tensor): T.Tensor => {
        const h = T.matmul(a, w);
        const parts = [
          T.matmul(h, w, false, true),
          T.matmul(h, a, true, false),
          T.matmul(w, a, true, true),
          T.silu(a), T.sigmoid(a), T.tanh(a), T.geluTanh(a), T.softplus(a), T.sin(a), T.cos(a), T.exp(a),
          T.softmax(a, 0), T.broadcastTo(T.logSumExp(a, -1, true), [2, 3]),
          T.sqrt(T.add(T.square(a), 1)), T.log(T.add(T.square(a), 1)), T.div(a, T.add(T.square(a), 1)),
          T.powInt(a, -2), T.neg(a), T.sub(a, T.mean(a, 0)),
          T.where(mask, a, T.stopGradient(a)),
          T.slice(T.concat([a, a], 1), [0, 1], [2, 3]),
          T.reshape(T.transpose(a), [2, 3]),
          T.tile(T.slice(a, [0, 0], [1, 3]), [2, 1]),
          T.squeeze(T.expandDims(a, 0)),
        ];
        return parts.reduce((s, p) => T.add(s, T.sum(p)), T.scalar(0));
      };
      const g = (a: T.Tensor): T.Tensor => T.grad(everyOp, a);
      return T.grad((a) => T.sum(T.mul(g(a), g(a))), x);
    }),
  );
  const unexpected = kernels.filter((k) => !allowed.has(k));
  assert.deepEqual(unexpected, [], `kernels outside KERNELS: ${unexpected.join(', ')}`);
  // The trace really covers the ops layer's kernels (not vacuous).
  for (const k of ['BatchMatMul', 'Transpose', 'Sigmoid', 'Select', 'Concat', 'Slice', 'PadV2', 'Tile', 'Cast', 'Max']) {
    assert.ok(kernels.includes(k), `${k} not traced`);
  }
});

test('matmul never runs the slow transposed kernel path', async () => {
  await T.initTensorBackend();
  const { kernels } = traceKernels(() =>
    T.scope(() => {
      const a = T.fromF32([1, 2, 3, 4, 5, 6], [3, 2]);
      return T.readSync(T.matmul(a, a, true, false));
    }),
  );
  // A transposed product is a Transpose kernel followed by a plain BatchMatMul.
  assert.deepEqual(kernels.filter((k) => k === 'Transpose' || k === 'BatchMatMul').sort(), ['BatchMatMul', 'Transpose']);
});

test('wasm Identity and same-dtype Cast share the input buffer; a cast to another dtype still converts', async () => {
  await T.initTensorBackend();
  tf.tidy(() => {
    const x = tf.tensor1d([1.5, -2.25, 3], 'float32');
    const buffers = tf.memory().numDataBuffers;
    const y = tf.engine().runKernel<tf.Tensor>('Identity', { x });
    const z = tf.engine().runKernel<tf.Tensor>('Cast', { x }, { dtype: 'float32' });
    assert.equal(y.dataId, x.dataId);
    assert.equal(z.dataId, x.dataId);
    assert.equal(tf.memory().numDataBuffers, buffers, 'no new buffer');
    const i = tf.engine().runKernel<tf.Tensor>('Cast', { x }, { dtype: 'int32' });
    assert.notEqual(i.dataId, x.dataId);
    assert.deepEqual([...i.dataSync()], [1, -2, 3]);
    x.dispose();
    assert.deepEqual([...y.dataSync()], [1.5, -2.25, 3], 'the shared buffer outlives the disposed input');
    y.dispose();
    assert.deepEqual([...z.dataSync()], [1.5, -2.25, 3]);
  });
});

/** `x` (row-major, `shape`) permuted by `perm`, by index arithmetic. */
function permuted(x: ArrayLike<number>, shape: number[], perm: number[]): number[] {
  const outShape = perm.map((p) => shape[p]);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out: number[] = [];
  const idx = outShape.map(() => 0);
  for (let n = 0; n < x.length; n++) {
    out.push(x[idx.reduce((s, v, k) => s + v * strides[perm[k]], 0)]);
    for (let k = idx.length - 1; k >= 0 && ++idx[k] === outShape[k]; k--) idx[k] = 0;
  }
  return out;
}

test('wasm Transpose: the SIMD kernel (last two axes swapped) and the stock kernel give the exact permutation, in a new buffer', async () => {
  await T.initTensorBackend();
  const cases: Array<[number[], number[], 'float32' | 'int32']> = [
    [[256, 3], [1, 0], 'float32'], // SIMD, a column remainder (3 < 4)
    [[512, 7], [1, 0], 'float32'], // SIMD: one 4-column tile and a remainder of three
    [[301, 6], [1, 0], 'float32'], // SIMD: a row remainder of one
    [[1, 768, 1, 4], [3, 2, 1, 0], 'float32'], // SIMD after dropping the unit axes
    [[1024, 32], [1, 0], 'int32'],
    [[4, 256, 3], [0, 2, 1], 'float32'], // SIMD, batched
    [[5, 7, 9], [0, 2, 1], 'int32'], // SIMD, batched, both remainders
    [[2, 3, 4], [1, 0, 2], 'float32'], // stock: not the last two axes
    [[256, 2, 3], [2, 0, 1], 'float32'], // stock: a rotation
    [[256, 1], [1, 0], 'float32'], // only moves a unit axis (stock)
  ];
  for (const [shape, perm, dtype] of cases) {
    tf.tidy(() => {
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) => (dtype === 'int32' ? i - 7 : i * 0.5 - 3.25));
      const x = tf.tensor(values, shape, dtype);
      const y = tf.engine().runKernel<tf.Tensor>('Transpose', { x }, { perm });
      assert.deepEqual(y.shape, perm.map((p) => shape[p]), `${shape} ${perm}`);
      assert.equal(y.dtype, dtype);
      assert.deepEqual([...y.dataSync()], permuted(values, shape, perm), `${shape} ${perm}`);
      // Never shared: the wasm matmul caches its right operand by buffer id alone, whatever the shape.
      assert.notEqual(y.dataId, x.dataId);
    });
  }
});
