/** Tensor lifetime, the wasm heap guard and micro-batch accumulation (spec §4.7). */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as T from '../../src/tensor/index.js';
import { relMax } from './helpers.js';
import { PARAM_NAMES, engineEnergy, engineLoss, paramStore, specProblem } from './mlp-oracle.js';

before(async () => {
  await T.initTensorBackend();
});

describe('scopes', () => {
  test('free everything except the result, which may sit in arrays, objects, Maps and Sets', () => {
    const before0 = T.memory().numTensors;
    const r = T.scope(() => {
      const a = T.fromF32([1, 2], [2]);
      const b = T.exp(a);
      return { list: [b], map: new Map([['m', T.neg(a)]]), set: new Set([T.square(a)]), n: 3 };
    });
    assert.equal(T.memory().numTensors, before0 + 3);
    assert.deepEqual([...T.readSync(r.map.get('m') as T.Tensor)], [-1, -2]);
    T.dispose([r.list[0], r.map.get('m') as T.Tensor, ...r.set]);
    assert.equal(T.memory().numTensors, before0);
  });

  test('keep exempts a tensor from scopes until disposed', () => {
    const before0 = T.memory().numTensors;
    let kept: T.Tensor | null = null;
    T.scope(() => {
      kept = T.keep(T.fromF32([5], [1]));
      T.fromF32([6], [1]);
    });
    assert.equal(T.memory().numTensors, before0 + 1);
    assert.deepEqual([...T.readSync(kept as unknown as T.Tensor)], [5]);
    T.dispose(kept);
    assert.equal(T.memory().numTensors, before0);
  });

  test('reject an async function', () => {
    assert.throws(() => T.scope(async () => 1), /cannot span an await/);
  });
});

describe('tensor count is flat across training steps', () => {
  test('100 steps of grad + clip + Adam + EMA on the tiny MLP: count after every step = count after step 1', () => {
    const sizes = { B: 3, D: 3, H: 4 };
    const { params, data } = specProblem(sizes);
    const store = paramStore(params, sizes);
    const adam = new T.Adam(store, { lr: 1e-3 });
    const ema = new T.Ema(store, 0.999);
    const x = T.keep(T.fromF64(data.x, [3, 3]));
    const t = T.keep(T.fromF64(data.t, [3, 1]));
    const target = T.keep(T.fromF64(data.target, [3, 3]));
    const counts: number[] = [];
    const bytes: number[] = [];
    for (let step = 0; step < 100; step++) {
      T.scope(() => {
        const { grads } = T.valueAndParamGrads(() => engineLoss(store, x, t, target, T.silu), store);
        adam.step(T.clipGradNorm(grads, 0.5).grads);
      });
      ema.update();
      counts.push(T.memory().numTensors);
      bytes.push(T.memory().numBytes);
    }
    // Alive: 6 params, 5 packed moments [m, v] (b3 never gets a gradient), 6 EMA shadows, x, t, target.
    assert.equal(counts[0], T.memory().numTensors);
    assert.ok(counts.every((c) => c === counts[0]), `counts vary: ${[...new Set(counts)].join(', ')}`);
    assert.ok(bytes.every((b) => b === bytes[0]));
    const before0 = counts[0];
    T.dispose([x, t, target]);
    adam.dispose();
    ema.dispose();
    store.dispose();
    assert.equal(T.memory().numTensors, before0 - 3 - 5 - 6 - 6);
  });
});

describe('wasm heap guard', () => {
  test('an allocation above the limit throws a WasmHeapError naming the limit, and nothing leaks', () => {
    const { numTensors, numBytes } = T.memory();
    T.setTensorMemoryLimit(numBytes + 4096);
    try {
      T.scope(() => void T.fromF32(new Float32Array(512), [512])); // 2048 bytes: fits
      assert.throws(
        () => T.scope(() => T.exp(T.fromF32(new Float32Array(1000), [1000]))), // 4000 + 4000 bytes
        (e: unknown) =>
          e instanceof T.WasmHeapError && /4000 bytes refused/.test(e.message) && e.message.includes(`limit is ${numBytes + 4096} bytes`),
      );
    } finally {
      T.setTensorMemoryLimit(T.DEFAULT_TENSOR_MEMORY_LIMIT_BYTES);
    }
    assert.equal(T.memory().numTensors, numTensors);
    assert.deepEqual([...T.scope(() => T.readSync(T.exp(T.fromF32([0], [1]))))], [1]);
  });

  test('a heap error inside a second-order gradient frees the abandoned tape', () => {
    const x = T.keep(T.fromF32(new Float32Array(1000).fill(0.5), [1000]));
    const { numTensors, numBytes } = T.memory();
    T.setTensorMemoryLimit(numBytes + 30000); // room for a few [1000] tensors, not for the whole tape
    try {
      assert.throws(
        () => T.scope(() => T.grad((a) => T.sum(T.grad((b) => T.sum(T.silu(T.mul(T.exp(b), T.tanh(b)))), a)), x)),
        T.WasmHeapError,
      );
    } finally {
      T.setTensorMemoryLimit(T.DEFAULT_TENSOR_MEMORY_LIMIT_BYTES);
    }
    assert.equal(T.memory().numTensors, numTensors);
    T.dispose(x);
  });

  test('the limit must lie within the wasm32 heap', () => {
    assert.throws(() => T.setTensorMemoryLimit(T.WASM32_HEAP_MAX_BYTES + 1), RangeError);
    assert.throws(() => T.setTensorMemoryLimit(0), RangeError);
    assert.equal(T.tensorMemoryLimit(), T.DEFAULT_TENSOR_MEMORY_LIMIT_BYTES);
  });
});

describe('accumulateParamGrads', () => {
  test('chunks of 3 rows of a batch of 7 reproduce the full-batch loss and second-order gradients', () => {
    const sizes = { B: 7, D: 4, H: 5 };
    const { params, data } = specProblem(sizes);
    const store = paramStore(params, sizes);
    const x = T.keep(T.fromF64(data.x, [7, 4]));
    const t = T.keep(T.fromF64(data.t, [7, 1]));
    const target = T.keep(T.fromF64(data.target, [7, 4]));
    const before0 = T.memory().numTensors;
    const { full, acc } = T.scope(() => {
      const f = T.valueAndParamGrads(() => engineLoss(store, x, t, target, T.silu), store);
      // Chunk share of mean_b ‖−∇E − target‖²: the chunk's sum divided by the FULL batch size 7.
      const a = T.accumulateParamGrads(store, 7, 3, (s, e) => {
        const rows = (v: T.Tensor): T.Tensor => T.slice(v, [s, 0], [e - s, -1]);
        const xs = rows(x);
        const dEdx = T.grad((xi) => T.sum(engineEnergy(store, xi, rows(t), T.silu)), xs);
        return T.div(T.sum(T.square(T.sub(T.neg(dEdx), rows(target)))), 7);
      });
      return {
        full: { loss: T.readScalarSync(f.value), grads: new Map([...f.grads].map(([n, g]) => [n, g && T.readSync(g)])) },
        acc: { loss: T.readScalarSync(a.loss), grads: new Map([...a.grads].map(([n, g]) => [n, g && T.readSync(g)])) },
      };
    });
    assert.equal(T.memory().numTensors, before0);
    assert.ok(Math.abs(acc.loss - full.loss) < 1e-5 * full.loss);
    assert.equal(acc.grads.get('b3'), null);
    for (const name of PARAM_NAMES.filter((n) => n !== 'b3')) {
      const err = relMax(acc.grads.get(name) as Float32Array, full.grads.get(name) as Float32Array);
      assert.ok(err < 1e-5, `${name}: ${err}`);
    }
    T.dispose([x, t, target]);
    store.dispose();
  });
});
