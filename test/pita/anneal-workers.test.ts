/**
 * The annealing field on worker threads (src/pita/data-parallel.ts,
 * Trainer.annealingField): the networks compute every row on its own, so
 * splitting an evaluation's rows changes no bit, and a rung annealed with 1,
 * 2 or 3 workers gives bit-identical particles, weights, logs and final
 * samples; a failing worker is named in one line and changes nothing.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import { EdmSchedule } from '../../src/diffusion/schedule.js';
import { createNetwork } from '../../src/nets/index.js';
import type { Network } from '../../src/nets/types.js';
import { moduleNextTo } from '../../src/parallel/pool.js';
import { ReplayBuffer } from '../../src/pita/buffer.js';
import { parseRunConfig, type RunConfig } from '../../src/pita/config.js';
import { NetworkWorkers, networkRecipe } from '../../src/pita/data-parallel.js';
import { neuralField } from '../../src/pita/neural-field.js';
import { annealRung, networkFactory, trainerConfig } from '../../src/pita/run.js';
import { Trainer, type TrainerState } from '../../src/pita/trainer.js';
import { createTarget } from '../../src/targets/index.js';
import * as T from '../../src/tensor/index.js';

before(async () => {
  await T.initTensorBackend('cpu');
});

/** Parameters drawn at random (scale 0.3), so that no zero-initialised layer hides a row's dependence on the others. */
function randomise(net: Network, rng: Rng): Network {
  for (const n of net.params.names()) net.params.set(n, Float32Array.from({ length: net.params.shape(n).reduce((a, b) => a * b, 1) }, () => 0.3 * rng.normal()));
  return net;
}

const rowsOf = (i: number) => new Rng(7).derive(i);

describe('annealing field on worker threads', () => {
  test('a row’s field values do not depend on the rows evaluated with it (EGNN, MLP, DiT; bit for bit)', async () => {
    const geometry = { dim: 12, nParticles: 4, spatialDim: 3 };
    const rng = new Rng(5);
    const kinds = [['egnn', { hidden: 8, layers: 2 }], ['mlp', { hidden: 16, layers: 2 }], ['dit', { hidden: 8, blocks: 1, heads: 2 }]] as const;
    for (const [kind, options] of kinds) {
      const [score, energy] = [1, 2].map(() => randomise(createNetwork(kind, options, geometry, rng), rng));
      const field = neuralField({ scoreNet: score.apply, energyNet: energy.apply, schedule: new EdmSchedule(), beta: null, divergence: 'hutchinson', probes: 2 });
      const m = 10;
      const D = geometry.dim;
      const x = rng.normals(m * D);
      for (const t of [0.9, 0.05]) {
        const whole = await field.evaluate(x, m, t, rowsOf);
        for (const [a, b] of [[0, 3], [3, 4], [4, 10]]) {
          const part = await field.evaluate(x.slice(a * D, b * D), b - a, t, (i) => rowsOf(a + i));
          for (const key of ['energy', 'gradEnergy', 'dEnergyDt', 'score', 'divScore'] as const) {
            const w = whole[key].length / m;
            assert.deepEqual(Array.from(part[key]), Array.from(whole[key].subarray(a * w, b * w)), `${kind} t=${t} rows ${a}..${b} ${key}`);
          }
        }
      }
    }
  });

  /** One DW-4 rung T=3 → 2 with a tiny EGNN: 23 particles in chunks of 10 (rows split 5+5 … 2+2), every random stream in use. */
  function rungConfig(weighting: 'continuous' | 'discrete'): RunConfig {
    return parseRunConfig(
      {
        target: 'dw4',
        seed: 2,
        ladder: { temperatures: [3, 2] },
        model: { network: 'egnn', options: { hidden: 8, layers: 2 } },
        training: { stepsPerTemperature: 2, batchSize: 8 },
        annealing: {
          particles: 23,
          steps: 6,
          chunkSize: 10,
          weighting,
          divergence: 'hutchinson',
          probes: 2,
          rejuvenation: { steps: 1, stepSize: 0.05 },
          resampling: { mode: 'every-step', end: 4, tail: 'weight' },
          relaxation: { kernel: 'mala', steps: 2, stepSize: 0.01 },
        },
      },
      'rung',
    );
  }

  /** A trainer state after 2 steps on a Gaussian buffer (so the EMA weights annealing uses differ from the raw ones). */
  async function trainedState(cfg: RunConfig): Promise<TrainerState> {
    const target = createTarget(cfg.target);
    const D = target.dim;
    const x = new Rng(9).normals(64 * D);
    const buffer = new ReplayBuffer(D, 64);
    buffer.add(x, Float64Array.from({ length: 64 }, (_, i) => -0.5 * x.subarray(i * D, (i + 1) * D).reduce((a, v) => a + v * v, 0)), x.map((v) => -v));
    const tr = new Trainer(networkFactory(cfg, target), trainerConfig(cfg, target), { workers: 1 });
    await tr.train([{ buffer, beta: null }], 2);
    const state = await tr.getState();
    tr.dispose();
    return state;
  }

  for (const weighting of ['continuous', 'discrete'] as const) {
    test(`a rung annealed with 1, 2 or 3 workers: bit-identical particles, weights, step logs and final samples (${weighting} weights, Hutchinson, rejuvenation)`, async () => {
      const cfg = rungConfig(weighting);
      const state = await trainedState(cfg);
      const runs = [];
      for (const workers of [1, 2, 3]) {
        const target = createTarget(cfg.target);
        const tr = Trainer.fromState(networkFactory(cfg, target), state, { workers });
        assert.equal(tr.workers, workers);
        try {
          const logged: unknown[] = [];
          const r = await annealRung(tr, target, cfg, 0, undefined, (s) => logged.push(s));
          runs.push({ x: Array.from(r.res.x), logWeights: Array.from(r.res.logWeights), log: r.res.log, logged, resamplings: r.res.resamplings, minEss: r.minEss, final: Array.from(r.fin.x), reweightEss: r.fin.reweightEss });
          // Annealing leaves the trainer as it was (raw weights back in place).
          assert.deepEqual(await tr.getState(), state);
        } finally {
          await tr.closeWorkers();
          tr.dispose();
        }
      }
      assert.ok(runs[0].log.some((l) => l.moveAcceptance !== undefined) && runs[0].logWeights.some((v) => v !== 0), 'rejuvenation and the tail weights are exercised');
      for (const r of runs.slice(1)) assert.deepEqual(r, runs[0]);
    });
  }

  test('a worker failing mid-annealing stops the rung with one line naming it; the trainer is untouched and starts new workers', async () => {
    const cfg = rungConfig('continuous');
    const state = await trainedState(cfg);
    const target = createTarget(cfg.target);
    const tr = Trainer.fromState(networkFactory(cfg, target), state, { workers: 2, jobModule: moduleNextTo(import.meta.url, 'fixture-faulty-workers') });
    try {
      await assert.rejects(annealRung(tr, target, cfg, 0, undefined, () => undefined), { name: 'WorkerError', message: 'worker 1 failed: injected field fault' });
      assert.deepEqual(await tr.getState(), state);
      // New workers (their fault counters start again, and a gradient slice fails only on its second call).
      const buffer = new ReplayBuffer(target.dim, 16);
      const x = new Rng(1).normals(16 * target.dim);
      buffer.add(x, new Float64Array(16), x.map((v) => -v));
      await tr.trainStep([{ buffer, beta: null }]);
      assert.equal(tr.step, 3);
    } finally {
      await tr.closeWorkers();
      tr.dispose();
    }
  });

  test('a field is valid until the next gradient pass: then its calls fail instead of using other parameters', async () => {
    const geometry = { dim: 12, nParticles: 4, spatialDim: 3 };
    const rng = new Rng(3);
    const [score, energy] = [1, 2].map(() => createNetwork('mlp', { hidden: 8, layers: 1 }, geometry, rng));
    const params = Float32Array.from([...score.params.tensorsInOrder(), ...energy.params.tensorsInOrder()].flatMap((t) => [...T.readSync(t)]));
    const workers = new NetworkWorkers(2, { score: networkRecipe(score, geometry), energy: networkRecipe(energy, geometry) });
    try {
      const settings = { schedule: { sigmaMin: 0.01, sigmaMax: 80, rho: 7 }, beta: null, divergence: 'exact' as const, probes: 1 };
      const field = await workers.annealField(params, settings);
      const x = rng.normals(4 * 12);
      const here = await neuralField({ scoreNet: score.apply, energyNet: energy.apply, schedule: new EdmSchedule(), beta: null, divergence: 'exact', probes: 1 }).evaluate(x, 4, 0.5, rowsOf);
      assert.deepEqual(await field.evaluate(x, 4, 0.5, rowsOf), here);
      const { packLossBatch, prepareLossBatch } = await import('../../src/diffusion/losses.js');
      const lb = prepareLossBatch({ rows: 4, dim: 12, x0: x, logp: new Float64Array(4), force: x.map((v) => -v), sigma: Float64Array.from([0.1, 1, 2, 3]), eps: rng.normals(48), beta: null }, { schedule: new EdmSchedule() });
      await workers.gradients(params, { rows: 4, dim: 12, conditioned: false, data: packLossBatch(lb) }, 4, { score: 1, energyScore: 1, energyMatching: 1, targetScore: 0.01 });
      await assert.rejects(field.energy(x, 4, 0.5), /worker \d failed: fieldSlice: this worker no longer holds the parameters of that field/);
    } finally {
      await workers.close();
    }
  });
});
