/**
 * A single-rung PITA experiment (the diagnosis of issue 14): train the score
 * and energy networks on samples at T_from read from a file, and at each of
 * the given training-step counts anneal T_from → T_to and judge the result
 * against a reference sample at T_to. One JSON line per checkpoint goes to
 * --out (and a summary line to stdout), so a growing training budget can be
 * read as a curve.
 *
 *   node --import tsx scripts/experiments/rung.ts --config configs/lj13.quick.yaml \
 *     --from 1.2 --to 1 --data ../shared/data/lj13/train_T1.2.npy \
 *     --ref ../shared/data/lj13/val_T1.0.npy --at 500,1000,2000 \
 *     [--set training.batchSize=256 --set annealing.particles=2000 ...] \
 *     [--holdout 1000] [--gamma1] [--load ckpt.safetensors] --out /tmp/rung.jsonl
 *
 * --load starts from a trainer checkpoint (scripts/experiments/train-rung.ts) instead of fresh
 * networks; build it with the same config and --set, and list --at from its step on.
 *
 * Measured at each checkpoint:
 * - the energy model's residual r(x, σ) = ℓ_from(x) + U_θ(x + σε, σ) on
 *   held-out rows at T_from and on reference rows at T_to (ℓ = −E/kT; a
 *   perfect model makes r constant at small σ): its standard deviation per σ,
 *   times γ on the T_to rows, is the spread of the final reweight's log-weights;
 * - the annealing: minimum ESS fraction over the steps, the final reweight's
 *   ESS fraction and distinct particles, the relaxation's acceptance;
 * - energy W2, distance W2 and mean E/kT of the raw annealed particles and
 *   of the final (reweighted, relaxed) set against the reference;
 * - with --gamma1, the same for an anneal at γ = 1 (T_from → T_from): the
 *   diffusion model's own samples, judged against the held-out rows.
 */
import { appendFileSync } from 'node:fs';
import { removeCentroid } from '../../src/core/particles.js';
import { Rng } from '../../src/core/rng.js';
import { energyTimeGradients } from '../../src/diffusion/models.js';
import { readNpyFloat64 } from '../../src/io/npy.js';
import { evaluateSamples, type SampleMetrics } from '../../src/metrics/evaluate.js';
import type { RunConfig } from '../../src/pita/config.js';
import { loadTrainerCheckpoint } from '../../src/pita/checkpoint.js';
import { annealRung, fillBuffer, networkFactory, trainerConfig } from '../../src/pita/run.js';
import { Trainer } from '../../src/pita/trainer.js';
import { logDensity, toModelCoordinates, toPhysicalCoordinates } from '../../src/pita/units.js';
import { createTarget } from '../../src/targets/index.js';
import type { Target } from '../../src/targets/target.js';
import { initTensorBackend } from '../../src/tensor/index.js';
import { rungConfig } from './common.js';

interface Args {
  config: string;
  from: number;
  to: number;
  data: string;
  ref: string;
  at: number[];
  set: string[];
  holdout: number;
  gamma1: boolean;
  out: string;
  sigmas: number[];
  load: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { config: '', from: 0, to: 0, data: '', ref: '', at: [], set: [], holdout: 1000, gamma1: false, out: '', sigmas: [], load: '' };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${key} needs a value`);
      return v;
    };
    if (key === '--config') a.config = val();
    else if (key === '--from') a.from = Number(val());
    else if (key === '--to') a.to = Number(val());
    else if (key === '--data') a.data = val();
    else if (key === '--ref') a.ref = val();
    else if (key === '--at') a.at = val().split(',').map(Number);
    else if (key === '--set') a.set.push(val());
    else if (key === '--holdout') a.holdout = Number(val());
    else if (key === '--gamma1') a.gamma1 = true;
    else if (key === '--out') a.out = val();
    else if (key === '--sigmas') a.sigmas = val().split(',').map(Number);
    else if (key === '--load') a.load = val();
    else throw new Error(`unknown option ${key}`);
  }
  if (!a.config || !a.data || !a.ref || !a.out || !(a.from > 0) || !(a.to > 0) || a.at.length === 0) throw new Error('need --config --from --to --data --ref --at --out');
  return a;
}

function configFor(args: Args, temperatures: [number, number]): RunConfig {
  return rungConfig(args.config, args.set, temperatures, args.data, args.at[args.at.length - 1]);
}

function rows(x: Float64Array, dim: number, from: number, to: number): Float64Array {
  return x.slice(from * dim, to * dim);
}

/** std over rows of ℓ_T(x) + U_θ(x + σε, σ), per σ (model units; length scale s). */
async function residualSpread(trainer: Trainer, target: Target, all: Float64Array, n: number, temperature: number, s: number, sigmas: number[], rng: Rng): Promise<number[]> {
  const D = target.dim;
  const x = all.subarray(0, n * D);
  const e = target.energy(x, n);
  const out: number[] = [];
  for (const sigma of sigmas) {
    const t = Math.min(1, Math.max(0, trainer.schedule.tOfH(sigma * sigma)));
    const xn = toModelCoordinates(x, s);
    const noise = Float64Array.from(rng.normals(n * D));
    // Noise without a centroid, as in training (translation-invariant targets).
    if (target.translationInvariant) removeCentroid(noise, n, target.nParticles, target.spatialDim);
    for (let i = 0; i < xn.length; i++) xn[i] += sigma * noise[i];
    // In chunks of 250 rows: a wider EGNN (radial basis, hidden 64) on 1000 rows at once exceeds the wasm heap.
    const u = new Float64Array(n);
    await trainer.withEma(async () => {
      for (let c0 = 0; c0 < n; c0 += 250) {
        const m = Math.min(250, n - c0);
        u.set((await energyTimeGradients(trainer.energyNet.apply, trainer.schedule, xn.subarray(c0 * D, (c0 + m) * D), m, t, null)).energy, c0);
      }
    });
    const logp = logDensity(target, e, temperature);
    const r = Array.from(u, (ui, i) => ui + logp[i]);
    const mean = r.reduce((a, b) => a + b, 0) / n;
    out.push(Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)));
  }
  return out;
}

/** The metrics, plus the median E/kT and the fraction of clashes (E > 0), which W2 alone hides behind a few huge energies. */
function brief(m: SampleMetrics, target: Target, x: Float64Array, n: number, temperature: number) {
  const e = Array.from(target.energy(x, n), (v) => v / (target.kB * temperature)).sort((a, b) => a - b);
  return {
    energyW2: m.energyW2,
    energyW1: m.energyW1,
    distanceW2: m.distanceW2,
    meanReducedEnergy: m.meanReducedEnergy,
    meanReducedEnergyReference: m.meanReducedEnergyReference,
    medianReducedEnergy: e[Math.floor(n / 2)],
    clashFraction: e.filter((v) => !(v <= 0)).length / n,
  };
}

async function annealAndJudge(trainer: Trainer, target: Target, cfg: RunConfig, ref: Float64Array, nRef: number) {
  const t0 = performance.now();
  const evalsBefore = target.counter.total;
  const { res, fin, minEss, gamma, M } = await annealRung(trainer, target, cfg, 0, undefined, () => undefined);
  const seconds = (performance.now() - t0) / 1000;
  const evaluations = target.counter.total - evalsBefore;
  const TK = cfg.ladder.temperatures[1];
  const s = cfg.data.lengthScale;
  const raw = toPhysicalCoordinates(res.x, s);
  const opts = { temperature: TK, maxOtPoints: cfg.evaluation.maxOtPoints, seed: cfg.seed };
  return {
    gamma,
    particles: M,
    seconds,
    evaluations,
    minEss,
    resamplings: res.resamplings,
    reweightEss: fin.reweightEss,
    uniqueAfterReweight: fin.uniqueAfterReweight,
    relaxationAcceptance: fin.relaxationAcceptance,
    raw: brief(evaluateSamples(target, raw, M, ref, nRef, opts), target, raw, M, TK),
    final: brief(evaluateSamples(target, fin.x, M, ref, nRef, opts), target, fin.x, M, TK),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cfg = configFor(args, [args.from, args.to]);
  const device = await initTensorBackend(cfg.device);
  const target = createTarget(cfg.target);
  const D = target.dim;
  const s = cfg.data.lengthScale;
  const data = readNpyFloat64(args.data, { cols: D, what: `target ${target.name}` });
  const ref = readNpyFloat64(args.ref, { cols: D, what: `target ${target.name}` });
  const nData = data.shape[0];
  const nTrain = nData - args.holdout;
  const held = rows(data.data, D, nTrain, nData);
  const buffer = fillBuffer(target, rows(data.data, D, 0, nTrain), nTrain, args.from, s, cfg.annealing.energyMask);
  const trainer = args.load ? loadTrainerCheckpoint(args.load, networkFactory(cfg, target)).trainer : new Trainer(networkFactory(cfg, target), trainerConfig(cfg, target));
  const sigmas = args.sigmas.length > 0 ? args.sigmas : [cfg.training.sigmaMin, 0.1, 0.2, 0.5, 1];
  const nRes = Math.min(1000, args.holdout, ref.shape[0]);
  const gamma = args.to > 0 ? args.from / args.to : 1;
  console.log(JSON.stringify({ device: device.device, config: args.config, set: args.set, from: args.from, to: args.to, nTrain, holdout: args.holdout }));
  let trained = trainer.step;
  let trainSeconds = 0;
  let last: Record<string, unknown> = {};
  for (const at of args.at) {
    const t0 = performance.now();
    const log = await trainer.train([{ buffer, beta: null }], at - trained);
    trainSeconds += (performance.now() - t0) / 1000;
    trained = at;
    if (log) last = { loss: log.loss, score: log.lossScore, energyScore: log.lossEnergyScore, energyMatching: log.lossEnergyMatching, gradNorm: log.gradNorm };
    const spreadFrom = await residualSpread(trainer, target, held, nRes, args.from, s, sigmas, new Rng(1).fork('residual-from'));
    const spreadTo = (await residualSpread(trainer, target, ref.data, nRes, args.from, s, sigmas, new Rng(1).fork('residual-to'))).map((v) => v * gamma);
    const line: Record<string, unknown> = {
      steps: at,
      batch: cfg.training.batchSize,
      trainSeconds,
      lastTrainLog: last,
      sigmas,
      residualStdFrom: spreadFrom,
      residualStdToTimesGamma: spreadTo,
      anneal: await annealAndJudge(trainer, target, cfg, ref.data, ref.shape[0]),
    };
    if (args.gamma1) {
      // γ = 1 (not a valid ladder, so set after validation).
      const cfg1: RunConfig = { ...cfg, ladder: { ...cfg.ladder, temperatures: [args.from, args.from] } };
      line.gamma1 = await annealAndJudge(trainer, target, cfg1, held, args.holdout);
    }
    appendFileSync(args.out, JSON.stringify(line) + '\n');
    const a = line.anneal as Awaited<ReturnType<typeof annealAndJudge>>;
    console.log(
      `steps ${at} (${trainSeconds.toFixed(0)} s): r-std@σmin from ${spreadFrom[0].toFixed(2)} to ${spreadTo[0].toFixed(2)}; minESS ${a.minEss.toFixed(3)} reweightESS ${a.reweightEss.toFixed(4)}; ` +
        `raw median E/kT ${a.raw.medianReducedEnergy.toFixed(1)} clashes ${a.raw.clashFraction.toFixed(3)} dW2 ${a.raw.distanceW2?.toFixed(3)}; final eW2 ${a.final.energyW2.toFixed(2)} dW2 ${a.final.distanceW2?.toFixed(3)} <E/kT> ${a.final.meanReducedEnergy.toFixed(1)} (ref ${a.final.meanReducedEnergyReference.toFixed(1)})`,
    );
  }
  trainer.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
