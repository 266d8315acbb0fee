/**
 * Adam, gradient clipping and EMA against hand computations (float64 formulas
 * written out here), compared in float32 to relMax 1e-6 unless stated.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as T from '../../src/tensor/index.js';
import { relMax } from './helpers.js';

before(async () => {
  await T.initTensorBackend();
});

function storeOf(values: Record<string, number[]>): T.ParamStore {
  const s = new T.ParamStore();
  for (const [name, v] of Object.entries(values)) s.add(name, [v.length], { kind: 'values', data: Float64Array.from(v) });
  return s;
}

/** Run `fn` with float32 gradient tensors made from host arrays (null stays null). */
function withGrads<R>(values: Record<string, number[] | null>, fn: (g: T.ParamGrads) => R): R {
  return T.scope(() => fn(new Map(Object.entries(values).map(([n, v]) => [n, v === null ? null : T.fromF32(v, [v.length])]))));
}

describe('Adam', () => {
  test('first two steps match the hand-computed PyTorch update', () => {
    const lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const p0 = [1, -2, 0.5];
    const g1 = [0.5, 0.1, -3];
    const g2 = [1, 1, 1];
    const store = storeOf({ p: p0 });
    const adam = new T.Adam(store, { lr });
    // step 1: m = (1−β1)g, v = (1−β2)g², m̂ = m/(1−β1), denominator √v/√(1−β2) + ε
    const m1 = g1.map((g) => (1 - b1) * g);
    const v1 = g1.map((g) => (1 - b2) * g * g);
    const p1 = p0.map((p, i) => p - (lr / (1 - b1)) * (m1[i] / (Math.sqrt(v1[i]) / Math.sqrt(1 - b2) + eps)));
    withGrads({ p: g1 }, (g) => adam.step(g));
    assert.ok(relMax(store.readSync('p'), p1) < 1e-6, `${store.readSync('p')} vs ${p1}`);
    assert.ok(relMax(p1, [0.9, -2.1, 0.6]) < 1e-7, 'first Adam step is lr·sign(g)');
    // step 2
    const m2 = m1.map((m, i) => b1 * m + (1 - b1) * g2[i]);
    const v2 = v1.map((v, i) => b2 * v + (1 - b2) * g2[i] * g2[i]);
    const p2 = p1.map((p, i) => p - (lr / (1 - b1 ** 2)) * (m2[i] / (Math.sqrt(v2[i]) / Math.sqrt(1 - b2 ** 2) + eps)));
    withGrads({ p: g2 }, (g) => adam.step(g));
    assert.ok(relMax(store.readSync('p'), p2) < 1e-6, `${store.readSync('p')} vs ${p2}`);
    adam.dispose();
    store.dispose();
  });

  test('weight decay adds λp to the gradient (L2, not decoupled)', () => {
    const lr = 0.01, wd = 0.5, b1 = 0.5, b2 = 0.75, eps = 1e-3;
    const p0 = [2, -1];
    const g = [0.1, 0.4];
    const ge = g.map((gi, i) => gi + wd * p0[i]);
    const expected = p0.map((p, i) => {
      const m = (1 - b1) * ge[i];
      const v = (1 - b2) * ge[i] ** 2;
      return p - (lr / (1 - b1)) * (m / (Math.sqrt(v) / Math.sqrt(1 - b2) + eps));
    });
    const store = storeOf({ p: p0 });
    const adam = new T.Adam(store, { lr, beta1: b1, beta2: b2, eps, weightDecay: wd });
    withGrads({ p: g }, (gr) => adam.step(gr));
    assert.ok(relMax(store.readSync('p'), expected) < 1e-6);
    adam.dispose();
    store.dispose();
  });

  test('converges on a badly scaled quadratic ½Σ aᵢ(pᵢ − cᵢ)², a = 1, 10, 100', () => {
    const a = [1, 10, 100];
    const c = [1, -2, 3];
    const store = storeOf({ p: [0, 0, 0] });
    const adam = new T.Adam(store, { lr: 0.01 });
    const A = T.keep(T.fromF32(a, [3]));
    const C = T.keep(T.fromF32(c, [3]));
    const loss = (): T.Tensor => T.mul(T.sum(T.mul(A, T.square(T.sub(store.get('p'), C)))), 0.5);
    const losses: number[] = [];
    for (let i = 0; i < 1500; i++) {
      T.scope(() => {
        const { value, grads } = T.valueAndParamGrads(loss, store);
        losses.push(T.readScalarSync(value));
        adam.step(grads);
      });
    }
    const p = store.readSync('p');
    // Initial loss ½(1 + 40 + 900) = 470.5; Adam's step is ≈ lr per coordinate, so
    // ~300 steps reach the optimum; with constant lr it then settles to well within 1e-2.
    assert.equal(losses[0], 470.5);
    assert.ok(p.every((v, i) => Math.abs(v - c[i]) < 1e-2), `p = ${[...p]}`);
    assert.ok(losses[losses.length - 1] < 1e-4 * losses[0]);
    T.dispose([A, C]);
    adam.dispose();
    store.dispose();
  });

  test('a parameter with a null gradient is skipped: no move, no state, no step count', async () => {
    const store = storeOf({ used: [1, 2], unused: [3] });
    const adam = new T.Adam(store, { lr: 0.1 });
    withGrads({ used: [1, -1], unused: null }, (g) => adam.step(g));
    assert.deepEqual([...store.readSync('unused')], [3]);
    assert.deepEqual(Object.keys((await adam.getState()).steps), ['used']);
    assert.ok(relMax(store.readSync('used'), [0.9, 2.1]) < 1e-6);
    adam.dispose();
    store.dispose();
  });

  test('state round-trips through host arrays: a restored optimiser continues identically', async () => {
    const a = storeOf({ w: [0.5, -0.5, 1], b: [0.1] });
    const b = a.clone();
    const optA = new T.Adam(a, { lr: 0.05 });
    const grads = [
      { w: [1, 2, 3], b: [0.5] },
      { w: [-1, 0.5, 2], b: null },
      { w: [0.2, -0.3, 0.1], b: [-1] },
    ];
    for (const g of grads) withGrads(g, (gr) => optA.step(gr));
    for (const n of a.names()) b.set(n, a.readSync(n));
    const optB = new T.Adam(b, { lr: 0.05 });
    optB.setState(await optA.getState());
    assert.deepEqual(await optB.getState(), await optA.getState());
    const last = { w: [0.3, 0.3, -0.3], b: [2] };
    withGrads(last, (gr) => optA.step(gr));
    withGrads(last, (gr) => optB.step(gr));
    for (const n of a.names()) assert.deepEqual([...b.readSync(n)], [...a.readSync(n)]);
    assert.deepEqual((await optA.getState()).steps, { w: 4, b: 3 });
    for (const o of [optA, optB]) o.dispose();
    for (const s of [a, b]) s.dispose();
  });

  test('zero moments made before the first update (ensureMoments) change no update and no saved state', async () => {
    const run = async (early: boolean) => {
      const store = storeOf({ a: [1, -2, 0.5], b: [0.3] });
      const opt = new T.Adam(store, { lr: 0.1 });
      if (early) opt.ensureMoments();
      // One tensor per parameter: its moments packed as [2, …shape] (m, then v).
      assert.deepEqual(opt.stateTensors().map((t) => T.shapeOf(t)), early ? [[2, 3], [2, 1]] : []);
      withGrads({ a: [0.5, 0.1, -3], b: null }, (g) => opt.step(g));
      withGrads({ a: [1, 1, 1], b: [2] }, (g) => opt.step(g));
      const out = { a: [...(await store.read('a'))], b: [...(await store.read('b'))], state: await opt.getState() };
      opt.dispose();
      store.dispose();
      return out;
    };
    const early = await run(true);
    assert.deepEqual(early, await run(false));
    assert.deepEqual(early.state.steps, { a: 2, b: 1 });
  });

  test('rejects gradients of the wrong shape or for unknown parameters', () => {
    const store = storeOf({ w: [1, 2] });
    const adam = new T.Adam(store, { lr: 0.1 });
    assert.throws(() => withGrads({ w: [1, 2, 3] }, (g) => adam.step(g)), /gradient of 'w' has shape \[3\], expected \[2\]/);
    assert.throws(() => withGrads({ v: [1] }, (g) => adam.step(g)), /unknown param 'v'/);
    assert.throws(() => new T.Adam(store, { lr: -1 }), /lr must be > 0/);
    store.dispose();
  });
});

describe('clipGradNorm', () => {
  test('scales by maxNorm/(N + 1e-6) when N > maxNorm and returns the pre-clip norm', () => {
    withGrads({ a: [3, 4], b: [12], c: null }, (g) => {
      const { norm, grads } = T.clipGradNorm(g, 6.5);
      assert.equal(T.readScalarSync(norm), 13); // √(9 + 16 + 144)
      const coef = 6.5 / (13 + 1e-6);
      assert.ok(relMax(T.readSync(grads.get('a') as T.Tensor), [3 * coef, 4 * coef]) < 1e-7);
      assert.ok(relMax(T.readSync(grads.get('b') as T.Tensor), [12 * coef]) < 1e-7);
      assert.equal(grads.get('c'), null);
    });
  });

  test('leaves gradients untouched below the threshold', () => {
    withGrads({ a: [3, 4] }, (g) => {
      const { norm, grads } = T.clipGradNorm(g, 20);
      assert.equal(T.readScalarSync(norm), 5);
      assert.deepEqual(T.readSync(grads.get('a') as T.Tensor), Float32Array.from([3, 4]));
    });
  });

  test('a non-finite gradient gives a non-finite norm and a non-finite square for that parameter', async () => {
    const g: T.ParamGrads = T.scope(() => new Map([
      ['ok', T.fromF32([1], [1])],
      ['bad', T.sqrt(T.fromF32([-1], [1]))],
      ['none', null],
    ]));
    const { norm, squares, names } = T.scope(() => {
      const c = T.clipGradNorm(g, 1);
      return { norm: c.norm, squares: c.squares, names: c.names };
    });
    assert.ok(Number.isNaN(await T.readScalar(norm)));
    const sq = await T.read(squares);
    assert.deepEqual(names.filter((_, i) => !Number.isFinite(sq[i])), ['bad']);
    assert.deepEqual(names, ['ok', 'bad']);
    T.dispose([norm, squares, ...g.values()]);
  });
});

describe('Ema', () => {
  test('warm-up decay d_n = min(decay, (1+n)/(10+n)) and θ̄ ← θ̄ − (1−d_n)(θ̄ − θ), by hand', async () => {
    const store = storeOf({ w: [1, 2] });
    const ema = new T.Ema(store, 0.999);
    assert.equal(ema.nextDecay(), 2 / 11);
    store.set('w', Float64Array.from([3, 2]));
    ema.update(); // d₁ = 2/11: θ̄ = θ̄₀ − (9/11)(θ̄₀ − θ₁) = [1 + 18/11, 2]
    const s1 = [1 + 18 / 11, 2];
    assert.ok(relMax((await ema.getState()).shadows.w, s1) < 1e-7);
    assert.equal(ema.nextDecay(), 3 / 12);
    store.set('w', Float64Array.from([0, 0]));
    ema.update(); // d₂ = 1/4: θ̄ = ¼ θ̄₁
    assert.ok(relMax((await ema.getState()).shadows.w, s1.map((v) => v / 4)) < 1e-7);
    assert.equal(ema.numUpdates, 2);
    // The warm-up ends where (1+n)/(10+n) reaches 0.999, i.e. n = 8990.
    ema.setState({ ...(await ema.getState()), numUpdates: 987 });
    assert.equal(ema.nextDecay(), 989 / 998);
    ema.setState({ ...(await ema.getState()), numUpdates: 9999 });
    assert.equal(ema.nextDecay(), 0.999);
    ema.dispose();
    store.dispose();
  });

  test('withShadows swaps the EMA weights in and restores the raw weights (also on throw)', async () => {
    const store = storeOf({ w: [1, 2] });
    const ema = new T.Ema(store, 0.5);
    store.set('w', Float64Array.from([5, 6]));
    ema.update(); // d₁ = min(0.5, 2/11) = 2/11
    const shadow = [...(await ema.getState()).shadows.w];
    const inside = ema.withShadows(() => [...store.readSync('w')]);
    assert.deepEqual(inside, shadow);
    assert.deepEqual([...store.readSync('w')], [5, 6]);
    assert.throws(() => ema.withShadows(() => {
      throw new Error('boom');
    }), /boom/);
    assert.deepEqual([...store.readSync('w')], [5, 6]);
    assert.deepEqual([...(await ema.getState()).shadows.w], shadow);
    ema.dispose();
    store.dispose();
  });

  test('state round-trips and is validated', async () => {
    const store = storeOf({ w: [1, 2] });
    const ema = new T.Ema(store);
    const state = { decay: 0.999, numUpdates: 7, shadows: { w: Float32Array.from([4, 5]) } };
    ema.setState(state);
    assert.deepEqual(await ema.getState(), state);
    assert.throws(() => ema.setState({ ...state, decay: 0.9 }), /decay/);
    assert.throws(() => ema.setState({ ...state, shadows: { w: Float32Array.from([1]) } }), /'w' has 1 values, param needs 2/);
    assert.throws(() => ema.setState({ ...state, shadows: {} }), /missing for w/);
    ema.dispose();
    store.dispose();
  });
});
