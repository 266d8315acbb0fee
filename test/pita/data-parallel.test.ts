/**
 * Data-parallel training (src/pita/data-parallel.ts, Trainer's `workers`):
 * 1 and 2 workers give the same gradients to float32 rounding; the same
 * worker count gives the same bits, across instances and through a resume;
 * a worker that throws stops the step with one line naming it and leaves
 * the trainer's state as it was before the step.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { NonFiniteError, UserError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { lossesAndGrads, packLossBatch, prepareLossBatch } from '../../src/diffusion/losses.js';
import { EdmSchedule } from '../../src/diffusion/schedule.js';
import { createNetwork } from '../../src/nets/index.js';
import { moduleNextTo, WorkerError } from '../../src/parallel/pool.js';
import { ReplayBuffer } from '../../src/pita/buffer.js';
import { splitRange } from '../../src/parallel/pool.js';
import { NetworkWorkers, networkRecipe, sumInOrder, workerFailure } from '../../src/pita/data-parallel.js';
import { type NetworkFactory, type StepLog, Trainer, type TrainerState } from '../../src/pita/trainer.js';
import * as T from '../../src/tensor/index.js';

before(async () => {
  await T.initTensorBackend();
});

const LAYOUT = { nParticles: 4, spatialDim: 3 };
const D = 12;
const GEOMETRY = { dim: D, ...LAYOUT };
const mlp: NetworkFactory = (rng) => createNetwork('mlp', { hidden: 16, layers: 2 }, GEOMETRY, rng);
const egnn: NetworkFactory = (rng) => createNetwork('egnn', { hidden: 8, layers: 2 }, GEOMETRY, rng);
const BASE = { seed: 5, batchSize: 16, layout: LAYOUT, meanFree: true, rotate: true };

/** A buffer of a standard Gaussian "target": ℓ = −‖x‖²/2, f = −x. */
function gaussianBuffer(seed: number, n: number): ReplayBuffer {
  const x = new Rng(seed).normals(n * D);
  const logp = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) logp[i] -= 0.5 * x[i * D + d] ** 2;
  const b = new ReplayBuffer(D, 1000);
  b.add(x, logp, x.map((v) => -v));
  return b;
}

const withoutSeconds = (l: StepLog): Omit<StepLog, 'seconds'> => {
  const { seconds: _s, ...rest } = l;
  return rest;
};

describe('data-parallel training', () => {
  test('rows split into contiguous slices; slices sum in order, null only where null everywhere', () => {
    assert.deepEqual(splitRange(15, 2), [[0, 7], [7, 15]]);
    assert.deepEqual(splitRange(4, 4), [[0, 1], [1, 2], [2, 3], [3, 4]]);
    const s = sumInOrder([
      { terms: Float32Array.of(1, 2, 3, 4), grads: Float32Array.of(1, 0, 2), isNull: [false, true, false] },
      { terms: Float32Array.of(1, 1, 1, 1), grads: Float32Array.of(0.5, 0, 1), isNull: [false, true, true] },
    ]);
    assert.deepEqual([...s.terms], [2, 3, 4, 5]);
    assert.deepEqual([...s.grads], [1.5, 0, 3]);
    assert.deepEqual(s.isNull, [false, true, false]);
  });

  test('2 workers give the one-thread gradients of a batch to float32 rounding (EGNN, 15 rows as 7 + 8, micro-batches of 4)', async () => {
    const rng = new Rng(3);
    const B = 15;
    const score = egnn(new Rng(1));
    const energy = egnn(new Rng(2));
    const x0 = rng.normals(B * D);
    const lb = prepareLossBatch(
      { rows: B, dim: D, x0, logp: Float64Array.from({ length: B }, () => -rng.uniform() * 5), force: rng.normals(B * D), sigma: Float64Array.from({ length: B }, () => Math.exp(rng.normal() * 1.2 - 1.2)), eps: rng.normals(B * D), beta: null },
      { schedule: new EdmSchedule() },
    );
    const packed = packLossBatch(lb);
    const one = T.scope(() => {
      const r = lossesAndGrads(score, energy, { rows: B, dim: D, conditioned: false, data: T.fromF32(packed, [B, packed.length / B]) }, undefined, 4);
      return { terms: T.readSync(r.terms), grads: [...r.scoreGrads.values(), ...r.energyGrads.values()].map((g) => (g === null ? null : T.readSync(g))) };
    });
    const params = Float32Array.from([...score.params.tensorsInOrder(), ...energy.params.tensorsInOrder()].flatMap((t) => [...T.readSync(t)]));
    const workers = new NetworkWorkers(2, { score: networkRecipe(score, GEOMETRY), energy: networkRecipe(energy, GEOMETRY) });
    let two;
    try {
      two = await workers.gradients(params, { rows: B, dim: D, conditioned: false, data: packed }, 4, { score: 1, energyScore: 1, energyMatching: 1, targetScore: 0.01 });
    } finally {
      await workers.close();
    }
    // Stated tolerance: 1e-5 relative to each term, and to the largest |g| of each parameter tensor.
    one.terms.forEach((t, i) => assert.ok(Math.abs(t - two.terms[i]) <= 1e-5 * Math.abs(t), `term ${i}: ${t} vs ${two.terms[i]}`));
    let offset = 0;
    one.grads.forEach((g, p) => {
      assert.equal(two.isNull[p], g === null, `parameter ${p} null`);
      if (g === null) return;
      const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      g.forEach((v, i) => assert.ok(Math.abs(v - two.grads[offset + i]) <= 1e-5 * scale, `parameter ${p}[${i}]: ${v} vs ${two.grads[offset + i]} (scale ${scale})`));
      offset += g.length;
    });
    assert.equal(offset, two.grads.length);
  });

  test('the first step with 1 and 2 workers agrees to float32 rounding (losses and gradient norm, relative 1e-5), β-conditioned or not', async () => {
    for (const conditioned of [false, true]) {
      const factory: NetworkFactory = (rng) => createNetwork('mlp', { hidden: 16, layers: 2, conditionOnTemperature: conditioned }, GEOMETRY, rng);
      const sources = [{ buffer: gaussianBuffer(1, 200), beta: conditioned ? 0.5 : null }];
      const logs = [];
      for (const workers of [1, 2]) {
        const tr = new Trainer(factory, BASE, { workers });
        assert.equal(tr.workers, workers);
        logs.push(await tr.trainStep(sources));
        await tr.closeWorkers();
        tr.dispose();
      }
      for (const key of ['loss', 'lossScore', 'lossEnergyScore', 'lossEnergyMatching', 'lossTargetScore', 'gradNorm'] as const) {
        assert.ok(Math.abs(logs[0][key] - logs[1][key]) <= 1e-5 * Math.abs(logs[0][key]), `conditioned ${conditioned} ${key}: ${logs[0][key]} vs ${logs[1][key]}`);
      }
    }
  });

  test('same seed and worker count: bit-identical steps, also through a failed step and a resume; a failing worker is named in one line and changes no state', async () => {
    const sources = [{ buffer: gaussianBuffer(2, 200), beta: null }];
    // Uninterrupted: 4 steps with 2 workers, the state after each.
    const a = new Trainer(mlp, BASE, { workers: 2 });
    const states: TrainerState[] = [];
    const logs: StepLog[] = [];
    for (let i = 0; i < 4; i++) {
      logs.push(await a.trainStep(sources));
      states.push(await a.getState());
    }
    await a.closeWorkers();
    a.dispose();
    // Another trainer whose worker 1 throws on its second slice: step 1 is A's, step 2 fails and changes nothing.
    const f = new Trainer(mlp, BASE, { workers: 2, jobModule: moduleNextTo(import.meta.url, 'fixture-faulty-workers') });
    assert.deepEqual(withoutSeconds(await f.trainStep(sources)), withoutSeconds(logs[0]));
    await assert.rejects(f.trainStep(sources), { name: 'WorkerError', message: 'worker 1 failed: injected fault' });
    const kept = await f.getState();
    assert.equal(f.step, 1);
    assert.deepEqual(kept, states[0]);
    f.dispose();
    // Resumed from that state (new objects, new workers): steps 2–4 are A's, bit for bit.
    const g = Trainer.fromState(mlp, kept, { workers: 2 });
    for (let i = 1; i < 4; i++) assert.deepEqual(withoutSeconds(await g.trainStep(sources)), withoutSeconds(logs[i]));
    assert.deepEqual(await g.getState(), states[3]);
    await g.closeWorkers();
    g.dispose();
  });

  test("a worker's user error, non-finite value or exhausted heap is reported as such, still naming the worker", () => {
    const as = (name: string) => workerFailure(new WorkerError(1, 'why', name)) as Error;
    assert.ok(as('UserError') instanceof UserError);
    assert.ok(as('NonFiniteError') instanceof NonFiniteError);
    assert.equal(as('WasmHeapError').name, 'WasmHeapError');
    assert.ok(as('RangeError') instanceof WorkerError);
    for (const name of ['UserError', 'NonFiniteError', 'WasmHeapError', 'RangeError']) assert.equal(as(name).message, 'worker 1 failed: why');
  });

  test('the worker count is validated and capped at the batch size', () => {
    assert.throws(() => new Trainer(mlp, BASE, { workers: 0 }), (e: unknown) => e instanceof UserError && /workers must be an integer ≥ 1, got 0/.test(e.message));
    const tr = new Trainer(mlp, { ...BASE, batchSize: 3 }, { workers: 8 });
    assert.equal(tr.workers, 3);
    tr.dispose();
  });
});
