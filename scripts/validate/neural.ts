import { Rng } from '../../src/core/rng.js';
import { energy } from '../../src/diffusion/models.js';
import { sampleReverseSde, scoreModelScoreFunction } from '../../src/diffusion/sampler.js';
import { createMlp } from '../../src/nets/mlp.js';
import { ReplayBuffer } from '../../src/pita/buffer.js';
import { Trainer, type TrainerConfig } from '../../src/pita/trainer.js';
import { GMM40_MEANS, GMM40_STD } from '../../src/targets/gmm40.js';
import { createTarget } from '../../src/targets/index.js';
import * as T from '../../src/tensor/index.js';
import { type Check, throttledLog } from './check.js';

/** Length scale of the model coordinates: x̃ = x/50, as PITA (and DEM/iDEM) normalise GMM-40. */
const SCALE = 50;

/** Settings of the run (see neuralGmm40). */
const SETTINGS = {
  trainSamples: 10_000,
  steps: 20_000,
  network: { hidden: 128, layers: 3 },
  trainer: { seed: 1, batchSize: 256, lr: 5e-3 } satisfies Partial<TrainerConfig>,
  samples: 4000,
  sdeSteps: 1000,
  heldOut: 2000,
  /** Std of the noise added to held-out exact samples, in target units (one component std). */
  heldOutNoise: GMM40_STD,
};

/** Spearman rank correlation (no ties in continuous data). */
function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const rank = (v: ArrayLike<number>) => {
    const idx = Array.from({ length: v.length }, (_, i) => i).sort((i, j) => v[i] - v[j]);
    const r = new Float64Array(v.length);
    idx.forEach((k, i) => (r[k] = i));
    return r;
  };
  const ra = rank(a);
  const rb = rank(b);
  const m = (a.length - 1) / 2;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (ra[i] - m) * (rb[i] - m);
    saa += (ra[i] - m) ** 2;
    sbb += (rb[i] - m) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * neural-gmm40: the diffusion side of PITA learns GMM-40 at T = 1.
 *
 * Data: exact samples, normalised x̃ = x/50 (PITA's GMM normalisation), with
 * ℓ = −E(x) and f̃ = ∇_x̃ ℓ = 50·∇ₓℓ. Training: the real MLP for F_S and F_E,
 * the four losses with the default weights, Adam with global clip 0.5 and
 * EMA 0.999, the spec's noise distribution and σ_min = 0.01; lr and batch
 * size are in SETTINGS (the spec's lr 1e-3 learns the 40 narrow modes — std
 * 0.026 in model units — too slowly for a CPU validation).
 * Checks, with the EMA weights:
 *   - every mode has at least one of the reverse-SDE samples (score model,
 *     1000 Euler steps) within 2 std of its mean;
 *   - Spearman(−U_θ(x̃, σ_min), log p(x)) ≥ 0.9 on held-out exact samples
 *     plus N(0, std²) noise.
 * Measured (2-core VM shared with other jobs): 20 000 steps in 661 s, all 40
 * modes covered (fewest 12 of 4000 samples), 58 % of samples within 2 std of
 * a mode (exact sampling: 86.5 %), Spearman 0.927. With the spec's lr 1e-3
 * and batch 512, 6000 steps reached only Spearman ≈ 0.3: the fine structure
 * (σ ≲ 0.1) is learned last, and U_θ at σ_min = 0.01 carries a 1/σ_min = 100
 * factor.
 */
export async function neuralGmm40(): Promise<Check[]> {
  await T.initTensorBackend();
  const t0 = performance.now();
  const target = createTarget('gmm40');
  const rng = new Rng(2026);
  const n = SETTINGS.trainSamples;
  const x = target.sampleExact!(rng, n, 1);
  const { energy: e, forces } = target.energyAndForces(x, n);
  const buffer = new ReplayBuffer(2);
  buffer.add(x.map((v) => v / SCALE), e.map((v) => -v), forces.map((f) => f * SCALE));
  const trainer = new Trainer((r) => createMlp({ dim: 2, ...SETTINGS.network, conditionOnTemperature: false }, r), SETTINGS.trainer);
  const log = throttledLog();
  let emSum = 0;
  await trainer.train([{ buffer, beta: null }], SETTINGS.steps, (l) => {
    emSum += l.lossEnergyMatching;
    if (l.step % 500 === 0) {
      log(`step ${l.step}/${SETTINGS.steps}: loss ${l.loss.toFixed(3)}, L_S ${l.lossScore.toFixed(3)}, mean L_EM (last 500) ${(emSum / 500).toFixed(3)}`);
      emSum = 0;
    }
  });
  const trainSeconds = (performance.now() - t0) / 1000;

  const m = SETTINGS.samples;
  const samples = await trainer.withEma(() =>
    sampleReverseSde(scoreModelScoreFunction(trainer.scoreNet.apply, null), {
      schedule: trainer.schedule, n: m, dim: 2, rng: new Rng(7), steps: SETTINGS.sdeSteps, batchSize: m,
    }),
  );
  const counts = new Array<number>(40).fill(0);
  let within = 0;
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < 40; k++) {
      if (Math.hypot(samples[2 * i] * SCALE - GMM40_MEANS[2 * k], samples[2 * i + 1] * SCALE - GMM40_MEANS[2 * k + 1]) < 2 * GMM40_STD) {
        counts[k]++;
        within++;
        break;
      }
    }
  }
  const uncovered = counts.filter((c) => c === 0).length;

  const h = SETTINGS.heldOut;
  const heldRng = new Rng(99);
  const held = target.sampleExact!(heldRng, h, 1).map((v) => v + SETTINGS.heldOutNoise * heldRng.normal());
  const logp = target.energy(held, h).map((v) => -v);
  const uTensor = trainer.withEma(() =>
    T.scope(() => energy(trainer.energyNet.apply, T.fromF64(held.map((v) => v / SCALE), [h, 2]), T.full([h, 1], trainer.schedule.sigmaMin), null)),
  );
  const u = await T.readF64(uTensor);
  T.dispose(uTensor);
  const rho = spearman(u.map((v) => -v), logp);
  trainer.dispose();
  const seconds = (performance.now() - t0) / 1000;
  console.log(`neural-gmm40: ${SETTINGS.steps} steps (batch ${SETTINGS.trainer.batchSize}, lr ${SETTINGS.trainer.lr}) in ${trainSeconds.toFixed(0)} s; total ${seconds.toFixed(0)} s`);
  console.log(`  samples: ${m}, within 2 std of a mode ${(within / m).toFixed(3)} (exact: 0.865), per-mode counts min ${Math.min(...counts)} max ${Math.max(...counts)}, uncovered ${uncovered}`);
  console.log(`  Spearman(−U_θ(x, σ_min), log p) on ${h} held-out points: ${rho.toFixed(4)}`);
  return [
    { name: 'gmm40 modes without a sample within 2 std', value: uncovered, threshold: 0 },
    { name: 'gmm40 1 − Spearman(−U_θ, log p)', value: 1 - rho, threshold: 0.1 },
  ];
}
