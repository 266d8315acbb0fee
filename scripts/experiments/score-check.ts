/**
 * Score-model diagnosis of issue 14: how good is a trained score (and
 * energy-model score) at each noise level, against an oracle, and where in σ
 * does the reverse SDE make the clashes? Reads a checkpoint of train-rung.ts.
 *
 *   node --import tsx scripts/experiments/score-check.ts --ckpt /tmp/lj13/base-1000.safetensors \
 *     [--rows 256] [--sigmas 0.05,0.1,0.2,0.5,1] [--oracle-max 0.2] [--sde] [--starts 0.1,0.2,0.5,1,2,5,80] \
 *     [--fields model,score,energy,true] [--sde-rows 200] [--sde-steps 100] --out /tmp/lj13/check.jsonl
 *
 * Part 1 (per σ, on held-out rows x_0 of the checkpoint's data file, ε centroid-free, x = x_0 + σε):
 * the λ-weighted denoising loss (1+σ²)‖ε + σ·s(x)‖² (= λ(σ)‖D − x_0‖² with D = x + σ²s, the
 * score model's L_S per row) of
 * - `net`: the score model s_θ (EMA weights, as sampling uses; `netRaw`: the raw weights),
 * - `energy`: the energy model's score −∇ₓU_θ (EMA),
 * - `trivial`: F ≡ 0, s = −x/(1+σ²) (what an untrained network gives),
 * - `potential`: ∇ℓ(x), the target's score at the noisy point (exact only as σ → 0),
 * - `optimal`: s* = (E[x_0 | x] − x)/σ², the exact DSM optimum, with E[x_0 | x] estimated by MALA on
 *   the posterior ∝ exp(ℓ(y) − ‖y − x‖²/(2σ²)) started at x_0 (an exact posterior draw, so no
 *   burn-in bias; only for σ ≤ --oracle-max, where the posterior is local and the chain mixes),
 * and the cosine similarity and relative error ‖s − s*‖/‖s*‖ of the model scores against s*
 * (and the cosine against ∇ℓ). The effective dimension is D − d (centroid-free), so an
 * uninformed score's loss is about D − d at small σ.
 *
 * Part 2 (--sde): the reverse SDE of the annealer (γ = 1, no weights, the production step size
 * Δt = 1/annealing.steps in EDM time, or 1/--sde-steps) started from x_0 + σ₀ε at each σ₀ of --starts
 * down to σ_min, with the drift of
 * - `model`: the production mix (g²/2)(s_θ − ∇U_θ),
 * - `score`: g²·s_θ (score model only),  `energy`: −g²∇U_θ (energy model only),
 * - `true`: g²∇ℓ (the target's score at the noisy point; exact only as σ → 0),
 * - `oracle`: g²·s* with the exact DSM optimum s* estimated by MALA on the posterior at every step
 *   (started at x, --burn + --mcmc steps; costly, for σ₀ ≤ 0.2 only),
 * and the clash fraction (E > 0), median E/kT and fraction with a pair closer than 0.8 of the result.
 * σ₀ = σ_max is the full γ = 1 anneal. Reference lines: the data (start 0) and the data plus noise
 * σ_min·ε (`data+noise`, what a perfect score would end with).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { removeCentroid, removeCentroidRow } from '../../src/core/particles.js';
import { Rng } from '../../src/core/rng.js';
import { energyModelScore, scoreModelScore } from '../../src/diffusion/models.js';
import { readNpyFloat64 } from '../../src/io/npy.js';
import { type AnnealField, type AnnealSchedule, type AnnealState, annealKernel, annealStreams } from '../../src/pita/anneal.js';
import { loadTrainerCheckpoint } from '../../src/pita/checkpoint.js';
import { neuralField } from '../../src/pita/neural-field.js';
import { networkFactory } from '../../src/pita/run.js';
import type { Trainer } from '../../src/pita/trainer.js';
import { modelScore, toModelCoordinates, toPhysicalCoordinates } from '../../src/pita/units.js';
import { createTarget } from '../../src/targets/index.js';
import type { Target } from '../../src/targets/target.js';
import * as T from '../../src/tensor/index.js';
import { rungConfig } from './common.js';

interface Args {
  ckpt: string;
  rows: number;
  sigmas: number[];
  oracleMax: number;
  burn: number;
  mcmc: number;
  sde: boolean;
  starts: number[];
  fields: string[];
  sdeRows: number;
  sdeSteps: number;
  out: string;
  seed: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    ckpt: '', rows: 256, sigmas: [0.05, 0.1, 0.2, 0.5, 1], oracleMax: 0.2, burn: 500, mcmc: 1500, sde: false,
    starts: [0.1, 0.2, 0.5, 1, 2, 5, 80], fields: ['model', 'score', 'energy', 'true'], sdeRows: 200, sdeSteps: 0, out: '', seed: 1,
  };
  const nums = (v: string) => v.split(',').map(Number);
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const val = () => argv[++i] ?? '';
    if (key === '--ckpt') a.ckpt = val();
    else if (key === '--rows') a.rows = Number(val());
    else if (key === '--sigmas') a.sigmas = nums(val());
    else if (key === '--oracle-max') a.oracleMax = Number(val());
    else if (key === '--burn') a.burn = Number(val());
    else if (key === '--mcmc') a.mcmc = Number(val());
    else if (key === '--sde') a.sde = true;
    else if (key === '--starts') a.starts = nums(val());
    else if (key === '--fields') a.fields = val().split(',');
    else if (key === '--sde-rows') a.sdeRows = Number(val());
    else if (key === '--sde-steps') a.sdeSteps = Number(val());
    else if (key === '--seed') a.seed = Number(val());
    else if (key === '--out') a.out = val();
    else throw new Error(`unknown option ${key}`);
  }
  if (!a.ckpt || !a.out) throw new Error('need --ckpt and --out');
  return a;
}

/** s_θ and −∇U_θ at x [R, D] and one σ, in chunks of 128 rows. */
async function modelScores(trainer: Trainer, x: Float64Array, R: number, D: number, sigma: number, ema: boolean) {
  const score = new Float64Array(R * D);
  const energy = new Float64Array(R * D);
  const run = async () => {
    for (let c0 = 0; c0 < R; c0 += 128) {
      const m = Math.min(128, R - c0);
      const out = T.scope(() => {
        const xt = T.fromF64(x.subarray(c0 * D, (c0 + m) * D), [m, D]);
        const st = T.full([m, 1], sigma);
        return { s: scoreModelScore(trainer.scoreNet.apply, xt, st, null), e: energyModelScore(trainer.energyNet.apply, xt, st, null) };
      });
      score.set(await T.readF64(out.s), c0 * D);
      energy.set(await T.readF64(out.e), c0 * D);
      T.dispose(out.s);
      T.dispose(out.e);
    }
  };
  if (ema) await trainer.withEma(run);
  else await run();
  return { score, energy };
}

/** ∇ℓ in model coordinates at model-coordinate rows x (ℓ at `temperature`), and E/kT. */
function targetScore(target: Target, x: Float64Array, n: number, temperature: number, s: number) {
  const ef = target.energyAndForces(toPhysicalCoordinates(x, s), n);
  return { f: modelScore(target, ef.forces, temperature, s), e: ef.energy.map((e) => e / (target.kB * temperature)) };
}

/**
 * E[y | x] under the posterior ∝ exp(ℓ(y) − ‖y − x‖²/(2σ²)) per row, by MALA started at y = x_0
 * (centroid-free moves), step adapted per row during burn-in toward acceptance 0.6.
 */
function posteriorMean(target: Target, x0: Float64Array, x: Float64Array, R: number, sigma: number, temperature: number, s: number, burn: number, steps: number, rng: Rng) {
  const D = target.dim;
  const { nParticles: n, spatialDim: d } = target;
  const y = Float64Array.from(x0);
  const grad = (yy: Float64Array) => {
    const t = targetScore(target, yy, R, temperature, s);
    const logp = new Float64Array(R);
    for (let i = 0; i < R; i++) {
      let q = 0;
      for (let k = i * D; k < (i + 1) * D; k++) {
        const r = yy[k] - x[k];
        q += r * r;
        t.f[k] -= r / (sigma * sigma);
      }
      logp[i] = -t.e[i] - q / (2 * sigma * sigma);
    }
    return { g: t.f, logp };
  };
  const cur = grad(y);
  const delta = new Float64Array(R).fill(1 / (1 / (sigma * sigma) + 1000));
  const mean = new Float64Array(R * D);
  let accepted = 0;
  const prop = new Float64Array(R * D);
  for (let it = 0; it < burn + steps; it++) {
    for (let i = 0; i < R; i++) {
      const sd = Math.sqrt(delta[i]);
      const z = rng.normals(D);
      removeCentroidRow(z, 0, n, d);
      for (let k = 0; k < D; k++) prop[i * D + k] = y[i * D + k] + 0.5 * delta[i] * cur.g[i * D + k] + sd * z[k];
    }
    const nxt = grad(prop);
    for (let i = 0; i < R; i++) {
      let fwd = 0;
      let bwd = 0;
      for (let k = i * D; k < (i + 1) * D; k++) {
        fwd += (prop[k] - y[k] - 0.5 * delta[i] * cur.g[k]) ** 2;
        bwd += (y[k] - prop[k] - 0.5 * delta[i] * nxt.g[k]) ** 2;
      }
      const logA = nxt.logp[i] - cur.logp[i] - (bwd - fwd) / (2 * delta[i]);
      const acc = Number.isFinite(logA) && Math.log(rng.uniform()) < logA;
      if (acc) {
        y.set(prop.subarray(i * D, (i + 1) * D), i * D);
        cur.g.set(nxt.g.subarray(i * D, (i + 1) * D), i * D);
        cur.logp[i] = nxt.logp[i];
      }
      if (it < burn) delta[i] *= acc ? 1.05 : 1 / 1.05 ** 1.5;
      else {
        if (acc) accepted++;
        for (let k = i * D; k < (i + 1) * D; k++) mean[k] += y[k] / steps;
      }
    }
  }
  return { mean, acceptance: accepted / (R * steps), meanDelta: delta.reduce((a, b) => a + b, 0) / R };
}

const rowDot = (a: Float64Array, b: Float64Array, i: number, D: number) => {
  let s = 0;
  for (let k = i * D; k < (i + 1) * D; k++) s += a[k] * b[k];
  return s;
};

/** Mean λ-weighted DSM loss (1+σ²)‖ε + σs‖² over rows. */
function dsmLoss(sc: Float64Array, eps: Float64Array, R: number, D: number, sigma: number): number {
  let tot = 0;
  for (let i = 0; i < R; i++) {
    let q = 0;
    for (let k = i * D; k < (i + 1) * D; k++) q += (eps[k] + sigma * sc[k]) ** 2;
    tot += (1 + sigma * sigma) * q;
  }
  return tot / R;
}

function cosine(a: Float64Array, b: Float64Array, R: number, D: number): number {
  let tot = 0;
  for (let i = 0; i < R; i++) tot += rowDot(a, b, i, D) / Math.sqrt(rowDot(a, a, i, D) * rowDot(b, b, i, D) + 1e-300);
  return tot / R;
}

function relError(a: Float64Array, ref: Float64Array): number {
  let num = 0;
  let den = 0;
  for (let k = 0; k < a.length; k++) {
    num += (a[k] - ref[k]) ** 2;
    den += ref[k] ** 2;
  }
  return Math.sqrt(num / den);
}

/** E/kT summary of rows: clash fraction (E > 0 or not finite), median, fraction with a pair closer than 0.8. */
function clashSummary(target: Target, x: Float64Array, n: number, temperature: number, s: number) {
  const xp = toPhysicalCoordinates(x, s);
  const e = Array.from(target.energy(xp, n), (v) => v / (target.kB * temperature)).sort((a, b) => a - b);
  const { nParticles: N, spatialDim: d } = target;
  let close = 0;
  for (let i = 0; i < n; i++) {
    let minR = Infinity;
    for (let a = 0; a < N; a++) {
      for (let b = a + 1; b < N; b++) {
        let r2 = 0;
        for (let c = 0; c < d; c++) r2 += (xp[i * N * d + a * d + c] - xp[i * N * d + b * d + c]) ** 2;
        minR = Math.min(minR, r2);
      }
    }
    if (!(Math.sqrt(minR) >= 0.8)) close++;
  }
  return { clashFraction: e.filter((v) => !(v <= 0)).length / n, medianReducedEnergy: e[Math.floor(n / 2)], minPairBelow08: close / n };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const meta = JSON.parse(readFileSync(args.ckpt.replace(/-\d+\.safetensors$/, '.config.json'), 'utf8')) as { config: string; set: string[]; temperature: number; data: string; holdout: number };
  const Tk = meta.temperature;
  const cfg = rungConfig(meta.config, ['device=cpu', ...meta.set], [Tk, Tk / 1.2], meta.data, 1);
  await T.initTensorBackend(cfg.device);
  const target = createTarget(cfg.target);
  const { trainer } = loadTrainerCheckpoint(args.ckpt, networkFactory(cfg, target));
  const D = target.dim;
  const layout = { nParticles: target.nParticles, spatialDim: target.spatialDim };
  const s = cfg.data.lengthScale;
  const data = readNpyFloat64(meta.data, { cols: D, what: `target ${target.name}` });
  const nData = data.shape[0];
  const R = Math.min(args.rows, meta.holdout);
  const held = data.data.slice((nData - meta.holdout) * D, (nData - meta.holdout + R) * D);
  removeCentroid(held, R, layout.nParticles, layout.spatialDim);
  const x0 = toModelCoordinates(held, s);
  const rng = new Rng(args.seed);
  const header = { ckpt: args.ckpt, step: trainer.step, set: meta.set, rows: R, temperature: Tk, sigmaMin: trainer.schedule.sigmaMin };
  console.log(JSON.stringify(header));

  for (const sigma of args.sigmas) {
    const t0 = performance.now();
    const eps = rng.fork(`eps-${sigma}`).normals(R * D);
    removeCentroid(eps, R, layout.nParticles, layout.spatialDim);
    const x = Float64Array.from(x0, (v, k) => v + sigma * eps[k]);
    const ema = await modelScores(trainer, x, R, D, sigma, true);
    const raw = await modelScores(trainer, x, R, D, sigma, false);
    const pot = targetScore(target, x, R, Tk, s).f;
    const trivial = Float64Array.from(x, (v) => -v / (1 + sigma * sigma));
    const line: Record<string, unknown> = {
      kind: 'loss',
      ...header,
      sigma,
      loss: { net: dsmLoss(ema.score, eps, R, D, sigma), netRaw: dsmLoss(raw.score, eps, R, D, sigma), energy: dsmLoss(ema.energy, eps, R, D, sigma), trivial: dsmLoss(trivial, eps, R, D, sigma), potential: dsmLoss(pot, eps, R, D, sigma) },
      cosVsPotential: { net: cosine(ema.score, pot, R, D), energy: cosine(ema.energy, pot, R, D) },
    };
    if (sigma <= args.oracleMax) {
      const pm = posteriorMean(target, x0, x, R, sigma, Tk, s, args.burn, args.mcmc, rng.fork(`mcmc-${sigma}`));
      const opt = Float64Array.from(pm.mean, (m, k) => (m - x[k]) / (sigma * sigma));
      (line.loss as Record<string, number>).optimal = dsmLoss(opt, eps, R, D, sigma);
      line.cosVsOptimal = { net: cosine(ema.score, opt, R, D), energy: cosine(ema.energy, opt, R, D), potential: cosine(pot, opt, R, D), trivial: cosine(trivial, opt, R, D) };
      line.relErrVsOptimal = { net: relError(ema.score, opt), energy: relError(ema.energy, opt), potential: relError(pot, opt), trivial: relError(trivial, opt) };
      line.mcmc = { acceptance: pm.acceptance, meanDelta: pm.meanDelta };
    }
    line.seconds = (performance.now() - t0) / 1000;
    appendFileSync(args.out, JSON.stringify(line) + '\n');
    console.log(JSON.stringify(line));
  }

  if (!args.sde) return;
  const base = neuralField({ scoreNet: trainer.scoreNet.apply, energyNet: trainer.energyNet.apply, schedule: trainer.schedule, beta: null, divergence: 'hutchinson', probes: 1 });
  const M = Math.min(args.sdeRows, meta.holdout);
  const heldM = data.data.slice((nData - meta.holdout) * D, (nData - meta.holdout + M) * D);
  removeCentroid(heldM, M, layout.nParticles, layout.spatialDim);
  const xm = toModelCoordinates(heldM, s);
  const ref = { kind: 'sde', ...header, start: 0, field: 'data', ...clashSummary(target, xm, M, Tk, s) };
  const epsMin = rng.fork('sde-reference').normals(M * D);
  removeCentroid(epsMin, M, layout.nParticles, layout.spatialDim);
  const sMin = trainer.schedule.sigmaMin;
  const refNoise = { kind: 'sde', ...header, start: sMin, field: 'data+noise', ...clashSummary(target, Float64Array.from(xm, (v, k) => v + sMin * epsMin[k]), M, Tk, s) };
  for (const l of [ref, refNoise]) {
    appendFileSync(args.out, JSON.stringify(l) + '\n');
    console.log(JSON.stringify(l));
  }
  for (const sigma0 of args.starts) {
    const sched = trainer.schedule;
    const tStart = Math.min(1, sched.tOfSigma(Math.min(sigma0, sched.sigmaMax)));
    const steps = Math.max(1, Math.round(tStart * (args.sdeSteps > 0 ? args.sdeSteps : cfg.annealing.steps)));
    // The EDM schedule restricted to [0, tStart], as a schedule on [0, 1].
    const sub: AnnealSchedule = { sigma: (t) => sched.sigma(t * tStart), g2: (t) => tStart * sched.g2(t * tStart) };
    const eps = rng.fork(`sde-${sigma0}`).normals(M * D);
    removeCentroid(eps, M, layout.nParticles, layout.spatialDim);
    for (const which of args.fields) {
      const t0 = performance.now();
      const field: AnnealField = {
        evaluate: async (x, m, t) => {
          const zeros = { dEnergyDt: new Float64Array(m), divScore: new Float64Array(m) };
          if (which === 'oracle') {
            const sig = sched.sigma(t * tStart);
            const pm = posteriorMean(target, x, x, m, sig, Tk, s, args.burn, args.mcmc, rng.fork(`oracle-${sigma0}-${t}`));
            const sc = Float64Array.from(pm.mean, (v, k) => (v - x[k]) / (sig * sig));
            return { energy: new Float64Array(m), gradEnergy: sc.map((v) => -v), score: sc, ...zeros };
          }
          if (which === 'true') {
            const f = targetScore(target, x, m, Tk, s).f;
            return { energy: new Float64Array(m), gradEnergy: f.map((v) => -v), score: f, ...zeros };
          }
          const r = await base.drift!(x, m, t * tStart);
          if (which === 'score') return { ...r, gradEnergy: r.score.map((v) => -v), ...zeros };
          if (which === 'energy') return { ...r, score: r.gradEnergy.map((v) => -v), ...zeros };
          return { ...r, ...zeros };
        },
      };
      const kernel = annealKernel(field, sub, {
        gamma: 1, steps, particles: M, dim: D, meanFree: layout, clampQuantile: null, chunkSize: 256,
        resampling: { mode: 'never', essThreshold: 0.5, start: 0, end: steps, floor: 0 },
      });
      let state: AnnealState = { step: 0, x: Float64Array.from(xm, (v, k) => v + sigma0 * eps[k]), logWeights: new Float64Array(M), moveStepSize: 0, resamplings: 0, drift: null };
      const streams = annealStreams(rng.fork(`sde-run-${sigma0}-${which}`));
      let failed: string | null = null;
      try {
        await trainer.withEma(async () => {
          while (state.step < steps) state = (await kernel.step(streams.step(state.step), state)).state;
        });
      } catch (e) {
        failed = (e as Error).message.slice(0, 120);
      }
      const line = { kind: 'sde', ...header, start: sigma0, tStart, steps, field: which, ...(failed ? { failed } : clashSummary(target, state.x, M, Tk, s)), seconds: (performance.now() - t0) / 1000 };
      appendFileSync(args.out, JSON.stringify(line) + '\n');
      console.log(JSON.stringify(line));
    }
  }
  trainer.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
