/**
 * The training loop (algorithm spec §4, §8) on a tiny real MLP: initial
 * copy F_E ← F_S, the first Adam and EMA updates against their formulas,
 * bit-exact resume through a checkpoint file, flat tensor memory over 100
 * steps, micro-batch equivalence, the JSON-lines log and config validation.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UserError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { createMlp } from '../../src/nets/mlp.js';
import { ReplayBuffer } from '../../src/pita/buffer.js';
import { loadTrainerCheckpoint, saveTrainerCheckpoint } from '../../src/pita/checkpoint.js';
import { type NetworkFactory, type StepLog, Trainer, type TrainerConfig, jsonLinesLog } from '../../src/pita/trainer.js';
import * as T from '../../src/tensor/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pita-trainer-'));
before(async () => {
  await T.initTensorBackend();
});
after(() => rmSync(dir, { recursive: true, force: true }));

const LAYOUT = { nParticles: 4, spatialDim: 3 };
const D = 12;
const factory = (conditioned: boolean, hidden = 16): NetworkFactory => (rng) => createMlp({ dim: D, hidden, layers: 2, conditionOnTemperature: conditioned }, rng);

/** A buffer of a standard Gaussian "target": ℓ = −‖x‖²/2, f = −x. */
function gaussianBuffer(seed: number, n: number, scale = 1): ReplayBuffer {
  const rng = new Rng(seed);
  const x = rng.normals(n * D).map((v) => scale * v);
  const logp = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) logp[i] -= 0.5 * x[i * D + d] ** 2;
  const b = new ReplayBuffer(D, 1000);
  b.add(x, logp, x.map((v) => -v));
  return b;
}

const BASE: Partial<TrainerConfig> = { seed: 5, batchSize: 16, layout: LAYOUT, meanFree: true, rotate: true };

function withoutSeconds(logs: StepLog[]): Omit<StepLog, 'seconds'>[] {
  return logs.map(({ seconds: _s, ...rest }) => rest);
}

describe('Trainer', () => {
  test('F_E starts as a copy of F_S; the first step is one Adam step (±lr) and one EMA update with d₁ = 2/11', async () => {
    const tr = new Trainer(factory(false), { ...BASE, lr: 1e-3 });
    const names = tr.scoreNet.params.names();
    for (const n of names) assert.deepEqual(tr.energyNet.params.readSync(n), tr.scoreNet.params.readSync(n));
    const before0 = Object.fromEntries(names.map((n) => [n, tr.scoreNet.params.readSync(n)]));
    const log = await tr.trainStep([{ buffer: gaussianBuffer(1, 200), beta: null }]);
    assert.equal(log.step, 1);
    assert.ok(log.gradNorm > 0 && Number.isFinite(log.loss));
    assert.ok(Math.abs(log.loss - (log.lossEnergyScore + log.lossScore + log.lossEnergyMatching + 0.01 * log.lossTargetScore)) < 1e-9 * log.loss);
    // First Adam step: |Δ| = lr·|g|/(|g| + ε) ≤ lr (plus ≤ 1 float32 ulp of p); |Δ| ≈ lr unless |g| ≲ ε = 1e-8
    // after clipping. At initialisation L_EM dominates (the 1/σ_min factor amplifies F_E), so the clipped
    // gradients of F_E are large (|Δ| ≈ lr) and those of F_S small.
    let atLr = 0, total = 0;
    const state = (await tr.getState());
    for (const which of ['score', 'energy'] as const) {
      const net = which === 'score' ? tr.scoreNet : tr.energyNet;
      for (const n of names) {
        const p0 = before0[n];
        const p1 = net.params.readSync(n);
        for (let i = 0; i < p0.length; i++) {
          const step = Math.abs(p1[i] - p0[i]);
          assert.ok(step <= 1e-3 + 1e-7 * Math.abs(p0[i]), `${which} ${n}[${i}] moved ${step}`);
          if (which === 'energy') {
            if (Math.abs(step - 1e-3) < 1e-5) atLr++;
            total++;
          }
          // EMA with d₁ = min(0.999, 2/11): θ̄ = θ₀ − (1 − d₁)(θ₀ − θ₁).
          const expected = p0[i] + (1 - 2 / 11) * (p1[i] - p0[i]);
          const shadow = state[which].ema.shadows[n][i];
          assert.ok(Math.abs(shadow - expected) < 1e-6, `EMA ${which} ${n}[${i}] ${shadow} vs ${expected}`);
        }
      }
    }
    assert.ok(atLr > 0.95 * total, `${atLr} of ${total} energy-network parameters moved by lr`);
    tr.dispose();
  });

  test('resume is exact: N steps = k steps, checkpoint file, load into fresh objects, N − k steps (bit for bit)', async () => {
    const N = 6, k = 3;
    const config = { ...BASE, batchSize: 12, microBatchSize: 5 };
    const sources = () => [
      { buffer: gaussianBuffer(2, 100), beta: 1 },
      { buffer: gaussianBuffer(3, 100, 0.5), beta: 2 },
    ];
    const straight = new Trainer(factory(true), config);
    const s1 = sources();
    const logsA: StepLog[] = [];
    await straight.train(s1, N, (l) => logsA.push(l));
    const finalA = (await straight.getState());
    const picked = new Set(logsA.map((l) => l.source));
    assert.equal(picked.size, 2, 'both sources were used');

    const first = new Trainer(factory(true), config);
    const s2 = sources();
    const logsB: StepLog[] = [];
    await first.train(s2, k, (l) => logsB.push(l));
    const path = join(dir, 'resume.safetensors');
    await saveTrainerCheckpoint(path, first, s2.map((s) => s.buffer));
    first.dispose();
    const { trainer: resumed, buffers } = loadTrainerCheckpoint(path, factory(true));
    assert.equal(resumed.step, k);
    assert.equal(buffers.length, 2);
    await resumed.train(buffers.map((b, i) => ({ buffer: b, beta: i + 1 })), N - k, (l) => logsB.push(l));
    assert.deepEqual(withoutSeconds(logsB), withoutSeconds(logsA));
    assert.deepEqual((await resumed.getState()), finalA);
    // The EMA weights are in use inside withEma and restored after.
    const name = resumed.scoreNet.params.names()[0];
    const raw = resumed.scoreNet.params.readSync(name);
    resumed.withEma(() => assert.deepEqual(resumed.scoreNet.params.readSync(name), finalA.score.ema.shadows[name]));
    assert.deepEqual(resumed.scoreNet.params.readSync(name), raw);
    straight.dispose();
    resumed.dispose();
  });

  test('tensor count is flat over 100 steps (equal after step 1 and step 100) and dispose frees everything', async () => {
    const start = T.memory().numTensors;
    const tr = new Trainer(factory(false), { ...BASE, microBatchSize: 7 });
    const src = [{ buffer: gaussianBuffer(4, 300), beta: null }];
    await tr.trainStep(src);
    const afterOne = T.memory().numTensors;
    await tr.train(src, 99);
    assert.equal(tr.step, 100);
    assert.equal(T.memory().numTensors, afterOne);
    tr.dispose();
    assert.equal(T.memory().numTensors, start);
  });

  test('micro-batching (16 rows as 5+5+5+1) gives the full-batch step to float32 accuracy', async () => {
    const run = async (microBatchSize: number) => {
      const tr = new Trainer(factory(false), { ...BASE, microBatchSize });
      const logs: StepLog[] = [];
      await tr.train([{ buffer: gaussianBuffer(6, 100), beta: null }], 2, (l) => logs.push(l));
      const s = (await tr.getState());
      tr.dispose();
      return { logs, params: Object.values(s.energy.params).flatMap((a) => [...a]) };
    };
    const full = await run(16);
    const micro = await run(5);
    for (let i = 0; i < 2; i++) {
      for (const key of ['loss', 'lossScore', 'lossEnergyScore', 'lossEnergyMatching', 'gradNorm'] as const) {
        assert.ok(Math.abs(full.logs[i][key] - micro.logs[i][key]) < 1e-5 * Math.abs(full.logs[i][key]), `step ${i + 1} ${key}`);
      }
    }
    const diff = full.params.reduce((m, v, i) => Math.max(m, Math.abs(v - micro.params[i])), 0);
    assert.ok(diff < 1e-5, `max parameter difference ${diff} (lr 1e-3)`);
  });

  test('jsonLinesLog writes one JSON object per step', async () => {
    const path = join(dir, 'log.jsonl');
    const tr = new Trainer(factory(false), BASE);
    await tr.train([{ buffer: gaussianBuffer(7, 50), beta: null }], 3, jsonLinesLog(path));
    tr.dispose();
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StepLog);
    assert.deepEqual(lines.map((l) => l.step), [1, 2, 3]);
    for (const l of lines) {
      for (const key of ['loss', 'lossScore', 'lossEnergyScore', 'lossEnergyMatching', 'lossTargetScore', 'gradNorm', 'lr', 'seconds']) {
        assert.equal(typeof (l as unknown as Record<string, unknown>)[key], 'number', key);
      }
    }
  });

  /** The logs (without wall times) of `steps` steps of a fresh unconditioned trainer with BASE ⊕ cfg on a Gaussian buffer. */
  const stepLogs = async (cfg: Partial<TrainerConfig>, steps: number) => {
    const tr = new Trainer(factory(false), { ...BASE, ...cfg });
    const logs: StepLog[] = [];
    for (let i = 0; i < steps; i++) logs.push(await tr.trainStep([{ buffer: gaussianBuffer(3, 200), beta: null }]));
    tr.dispose();
    return withoutSeconds(logs);
  };

  test('pinSigmaMax ≤ σ_min is the reference (bit-identical steps); above it only the energy matching term changes', async () => {
    const run = (cfg: Partial<TrainerConfig>) => stepLogs(cfg, 3);
    const reference = await run({});
    assert.deepEqual(await run({ pinSigmaMax: 0.01 }), reference);
    const pinned = await run({ pinSigmaMax: 0.2 });
    // Same σ and ε draws (the pin levels are drawn after them), so L_S is the same at step 1; L_EM is not.
    assert.equal(pinned[0].lossScore, reference[0].lossScore);
    assert.notEqual(pinned[0].lossEnergyMatching, reference[0].lossEnergyMatching);
    assert.throws(() => new Trainer(factory(false), { ...BASE, pinSigmaMax: -1 }), /'pinSigmaMax' must be a finite number ≥ 0/);
  });

  test("energyScoreWeighting 'edm' is the default; 'score' changes only the energy-score term", async () => {
    const run = (cfg: Partial<TrainerConfig>) => stepLogs(cfg, 2);
    const reference = await run({});
    assert.deepEqual(await run({ energyScoreWeighting: 'edm' }), reference);
    const weighted = await run({ energyScoreWeighting: 'score' });
    assert.equal(weighted[0].lossScore, reference[0].lossScore);
    assert.equal(weighted[0].lossEnergyMatching, reference[0].lossEnergyMatching);
    assert.ok(weighted[0].lossEnergyScore > reference[0].lossEnergyScore, `${weighted[0].lossEnergyScore} vs ${reference[0].lossEnergyScore}`);
    assert.throws(() => new Trainer(factory(false), { ...BASE, energyScoreWeighting: 'x' as 'edm' }), /'energyScoreWeighting' must be 'edm' or 'score'/);
  });

  test("clipScope 'network' clips each network on its own: same as 'global' when nothing is clipped, different when it is", async () => {
    const run = (cfg: Partial<TrainerConfig>) => stepLogs(cfg, 3);
    assert.deepEqual(await run({ clipScope: 'global' }), await run({}));
    // Unclipped, both scopes make the same updates (the clip factor is exactly 1), so every loss is
    // bit-identical; the reported norm is √(‖g_S‖² + ‖g_E‖²) against √Σ‖g_p‖², equal to float32 rounding.
    const unclipped = await run({ clipScope: 'network', clipNorm: 1e9 });
    const unclippedGlobal = await run({ clipNorm: 1e9 });
    assert.deepEqual(unclipped.map((l) => ({ ...l, gradNorm: 0 })), unclippedGlobal.map((l) => ({ ...l, gradNorm: 0 })));
    unclipped.forEach((l, i) => assert.ok(Math.abs(l.gradNorm - unclippedGlobal[i].gradNorm) <= 1e-6 * unclippedGlobal[i].gradNorm, `step ${i + 1}: ${l.gradNorm} vs ${unclippedGlobal[i].gradNorm}`));
    const global = await run({ clipNorm: 1e-3 });
    const network = await run({ clipScope: 'network', clipNorm: 1e-3 });
    // Step 1 sees the same parameters and batch, so the same losses and (pre-clip) norm; the updates differ.
    assert.equal(network[0].loss, global[0].loss);
    assert.ok(Math.abs(network[0].gradNorm - global[0].gradNorm) <= 1e-5 * global[0].gradNorm);
    assert.notEqual(network[2].loss, global[2].loss);
    assert.throws(() => new Trainer(factory(false), { ...BASE, clipScope: 'x' as 'global' }), /'clipScope' must be 'global' or 'network'/);
  });

  test('config and checkpoint errors name the problem', async () => {
    assert.throws(() => new Trainer(factory(false), { batchSze: 3 } as Partial<TrainerConfig>), /unknown key\(s\) batchSze/);
    assert.throws(() => new Trainer(factory(false), { rotate: true }), /'layout' must be set when meanFree or rotate is on/);
    assert.throws(() => new Trainer(factory(false), { layout: { nParticles: 6, spatialDim: 2 }, rotate: true }), /'rotate' must be false unless layout.spatialDim is 3/);
    assert.throws(() => new Trainer(factory(false), { layout: { nParticles: 5, spatialDim: 3 } }), /layout 5×3 does not match the network dimension 12/);
    assert.throws(() => new Trainer(factory(false), { weights: { energyScore: 1, score: 1, energyMatching: 1 } as never }), /weights.targetScore/);
    const tr = new Trainer(factory(true), BASE);
    await assert.rejects(() => tr.trainStep([{ buffer: gaussianBuffer(8, 10), beta: null }]), /temperature-conditioned but source 0 has beta null/);
    const path = join(dir, 'arch.safetensors');
    await saveTrainerCheckpoint(path, tr);
    tr.dispose();
    assert.throws(() => loadTrainerCheckpoint(path, factory(true, 8)), (e: unknown) => e instanceof UserError && /checkpoint score network is mlp/.test(e.message));
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, Buffer.from([1, 2, 3]));
    assert.throws(() => loadTrainerCheckpoint(junk, factory(true)), /not a valid safetensors file/);
    T.saveSafetensors(junk, {});
    assert.throws(() => loadTrainerCheckpoint(junk, factory(true)), /metadata key 'pita.trainer' is missing/);
  });
});
