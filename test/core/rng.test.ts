import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';

test('same seed gives the same stream, different seeds differ', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xa = Array.from({ length: 10 }, () => a.uniform());
  const xb = Array.from({ length: 10 }, () => b.uniform());
  const xc = Array.from({ length: 10 }, () => c.uniform());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, xc);
});

test('state round-trips exactly, including the cached normal', () => {
  const a = new Rng(7);
  a.normal(); // leaves a spare cached
  const s = a.getState();
  const next = [a.normal(), a.normal(), a.uniform()];
  const b = Rng.fromState(JSON.parse(JSON.stringify(s)));
  assert.deepEqual([b.normal(), b.normal(), b.uniform()], next);
});

test('uniform and normal moments match their distributions (5-sigma Monte-Carlo tolerance)', () => {
  const r = new Rng(1);
  const n = 200_000;
  let su = 0, suu = 0, sn = 0, snn = 0, sn4 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    su += u; suu += u * u;
    const z = r.normal();
    sn += z; snn += z * z; sn4 += z ** 4;
  }
  // mean of U(0,1): 1/2, sd of the mean sqrt(1/12/n)
  assert.ok(Math.abs(su / n - 0.5) < 5 * Math.sqrt(1 / 12 / n));
  assert.ok(Math.abs(suu / n - 1 / 3) < 5 * Math.sqrt((1 / 5 - 1 / 9) / n));
  assert.ok(Math.abs(sn / n) < 5 / Math.sqrt(n));
  assert.ok(Math.abs(snn / n - 1) < 5 * Math.sqrt(2 / n));
  assert.ok(Math.abs(sn4 / n - 3) < 5 * Math.sqrt(96 / n));
});

test('forks are deterministic and distinct by label', () => {
  const f1 = new Rng(5).fork('a');
  const f2 = new Rng(5).fork('a');
  const f3 = new Rng(5).fork('b');
  assert.equal(f1.uniform(), f2.uniform());
  assert.notEqual(new Rng(5).fork('a').uniform(), f3.uniform());
});

test('permutation is a permutation', () => {
  const p = new Rng(3).permutation(100);
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
});

test('derived streams: a pure function of the state and the keys, distinct per key, uncorrelated across neighbouring keys', () => {
  const r = new Rng(7);
  const before = r.getState();
  const a = r.derive(3, 41).uniform();
  assert.deepEqual(r.getState(), before, 'derive draws nothing from the parent');
  r.derive(0);
  assert.equal(r.derive(3, 41).uniform(), a, 'the same keys give the same stream, whatever was derived before');
  assert.notEqual(r.derive(3, 42).uniform(), a);
  assert.notEqual(r.derive(41, 3).uniform(), a);
  assert.notEqual(r.derive(3).uniform(), r.derive(3, 0).uniform(), 'the number of keys matters');
  r.uniform();
  assert.notEqual(r.derive(3, 41).uniform(), a, 'a different parent state gives a different stream');
  // First draws of 100 000 neighbouring keys: mean 1/2 (sd 0.0009) and lag-1 correlation 0 (sd 0.0032), at 5 sd.
  const n = 100000;
  const u = Float64Array.from({ length: n }, (_, i) => r.derive(1, i).uniform());
  const mean = u.reduce((s, v) => s + v, 0) / n;
  let c = 0;
  for (let i = 1; i < n; i++) c += (u[i] - 0.5) * (u[i - 1] - 0.5);
  const corr = c / (n - 1) / (1 / 12);
  assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / n), `mean ${mean}`);
  assert.ok(Math.abs(corr) < 5 / Math.sqrt(n), `lag-1 correlation ${corr}`);
  assert.throws(() => r.derive(-1), /integers in \[0, 2\^32\)/);
});

test('fillNormals and normals give the draws of as many normal() calls bit for bit, spare and state included', () => {
  for (const [n, spareFirst] of [[0, false], [1, false], [7, false], [8, false], [7, true], [8, true], [1, true], [1001, true]] as const) {
    const a = new Rng(31);
    const b = new Rng(31);
    // An odd number of draws first leaves a spare normal in the state.
    if (spareFirst) {
      a.normal();
      b.normal();
    }
    const one = Array.from({ length: n }, () => a.normal());
    const out = new Float64Array(n + 4).fill(-1);
    b.fillNormals(out, 2, 2 + n);
    assert.deepEqual([...out.subarray(2, 2 + n)], one, `n = ${n}, spare first: ${spareFirst}`);
    assert.deepEqual([out[0], out[1], out[n + 2], out[n + 3]], [-1, -1, -1, -1]);
    assert.deepEqual(b.getState(), a.getState());
    assert.equal(b.normal(), a.normal());
    assert.equal(b.nextU32(), a.nextU32());
  }
  const c = new Rng(5);
  const d = new Rng(5);
  assert.deepEqual([...c.normals(9)], Array.from({ length: 9 }, () => d.normal()));
});
