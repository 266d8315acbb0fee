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
