/** Replay buffer (algorithm spec §1.4): ring semantics, uniform sampling with replacement, state round trip. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import { ReplayBuffer } from '../../src/pita/buffer.js';

/** Entry i: x = (i, i + 0.5), ℓ = −i, f = (10i, −10i). */
function entries(from: number, n: number) {
  const x = new Float64Array(2 * n);
  const f = new Float64Array(2 * n);
  const l = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const i = from + k;
    x.set([i, i + 0.5], 2 * k);
    f.set([10 * i, -10 * i], 2 * k);
    l[k] = -i;
  }
  return { x, l, f };
}

function storedIds(b: ReplayBuffer): number[] {
  return [...b.getState().logp].map((v) => -v).sort((a, c) => a - c);
}

describe('ReplayBuffer', () => {
  test('keeps the newest maxLength entries (oldest overwritten first)', () => {
    const b = new ReplayBuffer(2, 5);
    const e1 = entries(0, 3);
    b.add(e1.x, e1.l, e1.f);
    assert.equal(b.size, 3);
    const e2 = entries(3, 4);
    b.add(e2.x, e2.l, e2.f);
    assert.equal(b.size, 5);
    assert.deepEqual(storedIds(b), [2, 3, 4, 5, 6]);
    const e3 = entries(100, 12);
    b.add(e3.x, e3.l, e3.f);
    assert.deepEqual(storedIds(b), [107, 108, 109, 110, 111]);
  });

  test('samples are consistent (x, ℓ, f of one entry) and drawn uniformly with replacement: χ² test', () => {
    const K = 20;
    const b = new ReplayBuffer(2);
    const e = entries(0, K);
    b.add(e.x, e.l, e.f);
    const n = 20_000;
    const s = b.sample(new Rng(9), n);
    const counts = new Float64Array(K);
    for (let r = 0; r < n; r++) {
      const i = -s.logp[r];
      assert.equal(s.indices[r], i);
      assert.deepEqual([s.x[2 * r], s.x[2 * r + 1], s.force[2 * r], s.force[2 * r + 1]], [i, i + 0.5, 10 * i, -10 * i]);
      counts[i]++;
    }
    const expected = n / K;
    const chi2 = counts.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
    // χ² with 19 degrees of freedom: the 0.1 % upper quantile is 43.82; a non-uniform draw fails.
    assert.ok(chi2 < 43.82, `χ² = ${chi2}, counts ${counts}`);
    // With replacement: some entries repeat within a batch larger than the buffer.
    assert.ok(new Set(b.sample(new Rng(1), 30).indices).size < 30);
  });

  test('the same Rng state gives the same batch', () => {
    const b = new ReplayBuffer(2);
    const e = entries(0, 50);
    b.add(e.x, e.l, e.f);
    assert.deepEqual(b.sample(new Rng(3), 7), b.sample(new Rng(3), 7));
  });

  test('getState/fromState round-trips, including the ring position', () => {
    const b = new ReplayBuffer(2, 4);
    const e = entries(0, 6);
    b.add(e.x, e.l, e.f);
    const c = ReplayBuffer.fromState(b.getState());
    const more = entries(50, 1);
    b.add(more.x, more.l, more.f);
    c.add(more.x, more.l, more.f);
    assert.deepEqual(c.getState(), b.getState());
    assert.throws(() => ReplayBuffer.fromState({ ...b.getState(), next: 7 }), /next slot 7 is inconsistent/);
  });

  test('rejects non-finite values, wrong shapes and sampling from an empty buffer', () => {
    const b = new ReplayBuffer(2);
    const e = entries(0, 3);
    assert.throws(() => b.add(e.x.subarray(0, 5), e.l, e.f), /x and force must be \[3, 2\]; got lengths 5 and 6/);
    const bad = e.f.slice();
    bad[3] = Infinity;
    assert.throws(() => b.add(e.x, e.l, bad), /force: 1 of 3 rows contain NaN or Inf \(rows 1\)/);
    assert.throws(() => b.sample(new Rng(1), 4), /empty/);
    assert.throws(() => new ReplayBuffer(0), /dim must be a positive integer, got 0/);
  });
});
