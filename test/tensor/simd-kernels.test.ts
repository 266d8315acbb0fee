/**
 * pita's SIMD wasm kernels (src/tensor/simd-kernels.ts, assembly/): BatchMatMul
 * against a float64 product on every edge of its register tiling, with batch
 * broadcasting and the stock fallbacks; Tanh against Math.tanh.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/core/rng.js';
import * as T from '../../src/tensor/index.js';

/** Float64 reference of A·B with tfjs's batch broadcasting (batch shapes given, already broadcast-compatible). */
function reference(a: Float32Array, b: Float32Array, batchA: number[], batchB: number[], m: number, k: number, n: number, transposeA: boolean): { out: Float64Array; scale: Float64Array } {
  const outBatch = tf.backend_util.assertAndGetBroadcastShape(batchA, batchB);
  const size = outBatch.reduce((p, d) => p * d, 1);
  const out = new Float64Array(size * m * n);
  const scale = new Float64Array(size * m * n);
  // Index of batch element t (of outBatch) in an operand with batch shape s (right-aligned, broadcast over 1s).
  const source = (t: number, s: number[]): number => {
    let idx = 0;
    let stride = 1;
    let rest = t;
    const offs = outBatch.length - s.length;
    const coords = outBatch.map(() => 0);
    for (let d = outBatch.length - 1; d >= 0; d--) {
      coords[d] = rest % outBatch[d];
      rest = Math.floor(rest / outBatch[d]);
    }
    for (let d = s.length - 1; d >= 0; d--) {
      idx += (s[d] === 1 ? 0 : coords[d + offs]) * stride;
      stride *= s[d];
    }
    return idx;
  };
  for (let t = 0; t < size; t++) {
    const ao = source(t, batchA) * m * k;
    const bo = source(t, batchB) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        let g = 0;
        for (let p = 0; p < k; p++) {
          const x = a[ao + (transposeA ? p * m + i : i * k + p)] * b[bo + p * n + j];
          s += x;
          g += Math.abs(x);
        }
        out[t * m * n + i * n + j] = s;
        scale[t * m * n + i * n + j] = g;
      }
    }
  }
  return { out, scale };
}

test('BatchMatMul equals the float64 product on every tile edge, batched and broadcast, with A or Aᵀ', async () => {
  await T.initTensorBackend();
  const rng = new Rng(11);
  // [batchA, batchB, m, k, n]: 4×8 tiles and their row (m % 4), column (n % 8, n % 4) and panel (k > 256) edges,
  // matrix–vector (n = 1), vector–matrix (m = 1), outer products (k = 1), and the batch forms.
  const cases: [number[], number[], number, number, number][] = [
    [[], [], 1, 1, 1],
    [[], [], 4, 8, 8],
    [[], [], 5, 3, 7],
    [[], [], 7, 300, 9],
    [[], [], 13, 600, 22],
    [[], [], 1, 700, 32],
    [[], [], 33, 70, 1],
    [[], [], 9, 1, 12],
    [[], [], 64, 32, 36],
    [[3], [3], 5, 6, 7],
    [[512], [512], 22, 32, 22],
    [[2, 3], [2, 3], 4, 5, 6],
    [[3], [], 5, 6, 7],
    [[], [3], 5, 6, 7],
    [[2, 3], [1, 1], 4, 5, 9],
    [[1], [4], 6, 5, 3],
    [[2, 1], [1, 3], 4, 5, 6],
    [[4, 1, 2], [3, 1], 3, 2, 5],
  ];
  for (const [batchA, batchB, m, k, n] of cases) for (const transposeA of [false, true]) {
    const a = Float32Array.from(rng.normals(batchA.reduce((p, d) => p * d, 1) * m * k));
    const b = Float32Array.from(rng.normals(batchB.reduce((p, d) => p * d, 1) * k * n));
    const shapeA = [...batchA, ...(transposeA ? [k, m] : [m, k])];
    const got = tf.tidy(() => tf.matMul(tf.tensor(a, shapeA), tf.tensor(b, [...batchB, k, n]), transposeA));
    const want = reference(a, b, batchA, batchB, m, k, n, transposeA);
    assert.deepEqual(got.shape, [...tf.backend_util.assertAndGetBroadcastShape(batchA, batchB), m, n]);
    const v = got.dataSync();
    got.dispose();
    for (let i = 0; i < v.length; i++) {
      // float32 accumulation: a few ulps of Σ|a·b| per term count
      const tol = 2 ** -22 * (k + 2) * want.scale[i] + 1e-30;
      if (!(Math.abs(v[i] - want.out[i]) <= tol)) {
        assert.fail(`[${batchA}]×[${m},${k}]${transposeA ? ' (Aᵀ)' : ''} · [${batchB}]×[${k},${n}] element ${i}: ${v[i]} vs ${want.out[i]} (tolerance ${tol})`);
      }
    }
  }
});

test('BatchMatMul: zero-size operands give zeros or empty outputs', async () => {
  await T.initTensorBackend();
  const zeroK = tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4]));
  assert.deepEqual(zeroK.shape, [3, 4]);
  assert.deepEqual([...zeroK.dataSync()], new Array(12).fill(0));
  const empty = tf.matMul(tf.zeros([0, 5]), tf.ones([5, 2]));
  assert.deepEqual(empty.shape, [0, 2]);
  const emptyBatch = tf.matMul(tf.zeros([0, 2, 5]), tf.ones([5, 2]));
  assert.deepEqual(emptyBatch.shape, [0, 2, 2]);
  tf.dispose([zeroK, empty, emptyBatch]);
});

test('Tanh is within 6 float32 ulps of Math.tanh over [-12, 12], tiny arguments and the specials', async () => {
  await T.initTensorBackend();
  const xs: number[] = [0, -0, Infinity, -Infinity, NaN, 3.99e-4, 4.01e-4, 7.9, 7.91, 9, -9];
  for (let v = -12; v <= 12; v += 3e-4) xs.push(v);
  for (let e = -40; e < 1.1; e += 0.05) xs.push(10 ** e, -(10 ** e));
  const x = Float32Array.from(xs);
  const y = tf.tidy(() => tf.tanh(tf.tensor1d(x)).dataSync());
  assert.ok(Object.is(y[0], 0) && Object.is(y[1], -0), 'tanh(±0) = ±0');
  assert.deepEqual([y[2], y[3]], [1, -1]);
  assert.ok(Number.isNaN(y[4]));
  for (let i = 5; i < x.length; i++) {
    const want = Math.tanh(x[i]);
    const ulp = 2 ** (Math.floor(Math.log2(Math.max(Math.abs(want), 2 ** -126))) - 23);
    if (!(Math.abs(y[i] - want) <= 6 * ulp)) assert.fail(`tanh(${x[i]}) = ${y[i]}, want ${want} (${Math.abs(y[i] - want) / ulp} ulp)`);
  }
});

test('Sum over adjacent axes equals the float64 sum, with keepDims, negative axes and the stock fallback', async () => {
  await T.initTensorBackend();
  const rng = new Rng(12);
  // [shape, axes]: leading, middle and trailing blocks; inner extents 1, 3, 4, 16, 35; all axes; non-adjacent (stock).
  const cases: [number[], number[]][] = [
    [[64, 13, 13, 32], [0, 1, 2]],
    [[64, 13, 13, 32], [2]],
    [[5, 7, 3], [1]],
    [[5, 7, 35], [0]],
    [[9, 301], [1]],
    [[9, 301], [-1]],
    [[4, 6, 5], [0, 1, 2]],
    [[3, 4, 5, 6], [1, 2]],
    [[2, 3, 4], [0, 2]],
    [[7], [0]],
  ];
  for (const [shape, axes] of cases) for (const keepDims of [false, true]) {
    const x = Float32Array.from(rng.normals(shape.reduce((p, d) => p * d, 1)));
    const got = tf.tidy(() => tf.sum(tf.tensor(x, shape), axes, keepDims));
    const norm = axes.map((a) => (a < 0 ? a + shape.length : a));
    const outShape = shape.map((d, i) => (norm.includes(i) ? 1 : d));
    assert.deepEqual(got.shape, keepDims ? outShape : shape.filter((_, i) => !norm.includes(i)));
    const want = new Float64Array(outShape.reduce((p, d) => p * d, 1));
    const scale = new Float64Array(want.length);
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
    const outStrides = outShape.map((_, i) => outShape.slice(i + 1).reduce((p, d) => p * d, 1));
    for (let e = 0; e < x.length; e++) {
      let o = 0;
      shape.forEach((_, i) => (o += norm.includes(i) ? 0 : (Math.floor(e / strides[i]) % shape[i]) * outStrides[i]));
      want[o] += x[e];
      scale[o] += Math.abs(x[e]);
    }
    const v = got.dataSync();
    got.dispose();
    const n = x.length / want.length;
    for (let i = 0; i < v.length; i++) {
      const tol = 2 ** -23 * (n + 2) * scale[i];
      if (!(Math.abs(v[i] - want[i]) <= tol)) assert.fail(`sum of [${shape}] over [${axes}] element ${i}: ${v[i]} vs ${want[i]}`);
    }
  }
});
