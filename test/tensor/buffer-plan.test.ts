import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BufferPlan, type LogicalBuffer, planBuffers } from '../../src/tensor/buffer-plan.js';
import { Rng } from '../../src/core/rng.js';

/** Every physical buffer holds each of its logical buffers whole, and never two at once. */
function assertValid(logical: readonly LogicalBuffer[], plan: BufferPlan): void {
  assert.equal(plan.assign.length, logical.length);
  logical.forEach((l, i) => {
    const p = plan.physical[plan.assign[i]];
    assert.ok(p.size >= l.size, `logical ${i} (${l.size} B) in a ${p.size} B buffer`);
    assert.equal(p.usage, l.usage);
    logical.forEach((m, j) => {
      if (j <= i || plan.assign[j] !== plan.assign[i]) return;
      assert.ok(l.last < m.first || m.last < l.first, `logical ${i} [${l.first}, ${l.last}] and ${j} [${m.first}, ${m.last}] overlap in one buffer`);
    });
  });
}

/** The most bytes live at one command: no plan can use less. */
function peakLive(logical: readonly LogicalBuffer[]): number {
  let peak = 0;
  const end = Math.max(...logical.map((l) => l.last));
  for (let t = 0; t <= end; t++) peak = Math.max(peak, logical.filter((l) => l.first <= t && t <= l.last).reduce((n, l) => n + l.size, 0));
  return peak;
}

const total = (plan: BufferPlan): number => plan.physical.reduce((n, p) => n + p.size, 0);

test('planBuffers: buffers of disjoint lives share whatever their sizes; overlapping ones and other usages do not', () => {
  const S = 128;
  const logical: LogicalBuffer[] = [
    { size: 400, usage: S, first: 0, last: 2 },
    { size: 100, usage: S, first: 3, last: 5 }, // after the first: shares it
    { size: 300, usage: S, first: 2, last: 4 }, // overlaps both
    { size: 50, usage: 4, first: 6, last: 7 }, // another usage
    { size: 200, usage: S, first: 5, last: 5 }, // the last command of the second: cannot share it; fits in the third
    { size: 400, usage: S, first: 6, last: 9 }, // after everything: shares the 400
  ];
  const plan = planBuffers(logical);
  assertValid(logical, plan);
  assert.equal(plan.assign[1], plan.assign[0]);
  assert.equal(plan.assign[5], plan.assign[0]);
  assert.equal(plan.assign[4], plan.assign[2]);
  assert.notEqual(plan.assign[2], plan.assign[0]);
  assert.deepEqual(plan.physical, [{ size: 400, usage: S }, { size: 300, usage: S }, { size: 50, usage: 4 }]);
  assert.equal(total(plan), 750);
});

test('planBuffers: a random trace of 300 tensors is valid, deterministic and within 25 % of its peak of live bytes', () => {
  const rng = new Rng(7);
  const sizes = [256, 1024, 4096, 12288, 65536];
  // A step-like trace: tensors made in order, most short-lived, some kept to the end (saved for a backward pass).
  const logical: LogicalBuffer[] = Array.from({ length: 300 }, (_, i) => {
    const life = rng.uniform() < 0.3 ? 300 - i : 1 + Math.floor(rng.uniform() * 12);
    return { size: sizes[Math.floor(rng.uniform() * sizes.length)], usage: 140, first: i, last: Math.min(299, i + life) };
  });
  const plan = planBuffers(logical);
  assertValid(logical, plan);
  assert.deepEqual(planBuffers(logical), plan);
  const peak = peakLive(logical);
  const sum = logical.reduce((n, l) => n + l.size, 0);
  assert.ok(total(plan) >= peak);
  assert.ok(total(plan) <= 1.25 * peak, `plan ${total(plan)} B against a peak of ${peak} B live`);
  assert.ok(total(plan) < sum / 3, `plan ${total(plan)} B against ${sum} B unshared`);
});

test('planBuffers: rejects a logical buffer whose first use comes after its last', () => {
  assert.throws(() => planBuffers([{ size: 4, usage: 1, first: 3, last: 2 }]), /first use 3 after last use 2/);
});
