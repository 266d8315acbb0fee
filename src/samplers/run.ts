/**
 * The sampling driver: runs one of the kernels on a target and returns n
 * samples at temperature T.
 *
 * Schedule: `chains` chains (default min(n, 128)) start from `init` or the
 * target's initialConfigurations; `warmup` steps follow, during which MALA,
 * HMC and PT adapt their step sizes (Langevin just equilibrates); then the
 * step sizes are frozen and the current state of every chain is collected
 * after every `thin`-th step until n samples are collected (the last
 * collection takes the first chains only). Sampling steps = ⌈n/chains⌉·thin.
 * For PT a step is one round and the samples are the coldest replica of each
 * PT chain; `temperature` is the coldest temperature of the ladder.
 */
import { Rng } from '../core/rng.js';
import { UserError } from '../core/errors.js';
import { asPotential, type LogDensity, type Potential } from '../targets/density.js';
import { batchSize, checkTemperature, type Target } from '../targets/target.js';
import { StepSizeAdapter, type AdaptScope } from './adapt.js';
import { AUTO_WARMUP, WarmupMonitor } from './auto-warmup.js';
import { samplerChecks } from './checks.js';
import type { ConvergenceReport } from './convergence.js';
import { hmc } from './hmc.js';
import { langevin } from './langevin.js';
import { mala } from './mala.js';
import { geometricLadder, parallelTempering, type PtLocalKernel, type PtState } from './pt.js';
import { checkAcceptance, checkInteger, type ComMode, type McmcKernelFactory, type McmcState } from './state.js';

export const SAMPLER_NAMES = ['mala', 'hmc', 'langevin', 'pt'] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

/** Progress of one step, passed to onProgress(done, total, info). */
export interface SampleProgress {
  phase: 'warmup' | 'sampling';
  /** Acceptance rate of this step (MALA/HMC: all chains; PT: local moves, all rows); null for Langevin. */
  acceptanceRate: number | null;
  /** Step size per row after this step (a copy; PT: rows c·K + k); null for Langevin. */
  stepSize: Float64Array | null;
  /** Mean kinetic temperature after this step (Langevin only). */
  kineticTemperature?: number;
  /** Samples collected so far. */
  collected: number;
}

export interface SampleOptions {
  /** One of SAMPLER_NAMES, or a Metropolis kernel factory run like MALA (warm-up adaptation of its step size, then collection). */
  sampler: string | McmcKernelFactory;
  /** Number of output samples, ≥ 1. */
  n: number;
  /** Temperature of the samples (PT: the coldest replica). Default: target.defaultTemperature (PT: temperatures[0] if given). */
  temperature?: number;
  /** Warm-up steps (PT: rounds) before collection; default adaptive (see auto-warmup.ts: 1000 steps, then blocks of 500 until the energy R̂ ≤ 1.01, at most maxWarmup). */
  warmup?: number;
  /** Cap of the adaptive warm-up (default 10000); only when warmup is not given. */
  maxWarmup?: number;
  /** Steps between collections; default 10. */
  thin?: number;
  /** Chains run in parallel (PT: independent PT chains); default min(n, 128). */
  chains?: number;
  /** Seed of the run's random stream (default 0); ignored when `rng` is given. */
  seed?: number;
  /** Random stream to draw from (advanced by the run). */
  rng?: Rng;
  /** Starting positions [chains, dim] (PT: [chains, dim], copied to every replica, or [chains·K, dim]); required for a LogDensity. */
  init?: Float64Array;
  /** Centre-of-mass handling (default 'remove' for translation-invariant targets). */
  com?: ComMode;
  onProgress?: (done: number, total: number, info: SampleProgress) => void;
  /** MALA, HMC, PT: initial step size (default 0.01 for MALA, 0.05 for HMC). */
  stepSize?: number;
  /** MALA, HMC, PT: target acceptance of the warm-up adaptation (MALA 0.574, HMC 0.65). */
  targetAcceptance?: number;
  /** MALA, HMC, PT: Robbins–Monro rate κ₀ (default 0.5). */
  adaptRate?: number;
  /** MALA, HMC: one step size for all chains ('global', default) or one per chain. PT always adapts one per temperature. */
  adapt?: AdaptScope;
  /** HMC (and PT with local 'hmc'): leapfrog steps per move (default 10). */
  leapfrogSteps?: number;
  /** HMC (and PT with local 'hmc'): scalar mass (default 1). */
  mass?: number;
  /** Langevin: time step (default 0.005). */
  timestep?: number;
  /** Langevin: friction γ (default 1). */
  friction?: number;
  /** Langevin: mass per particle or scalar (default: target.masses, else 1). */
  masses?: number | number[];
  /** PT: hottest temperature of a geometric ladder (default 10·temperature). */
  tMax?: number;
  /** PT: number of replicas K of a geometric ladder (default 8). */
  replicas?: number;
  /** PT: explicit ladder instead of tMax/replicas; must start at `temperature` and increase. */
  temperatures?: number[];
  /** PT: local kernel, a name (default 'mala') or a Metropolis kernel factory. */
  local?: PtLocalKernel | McmcKernelFactory;
  /** PT: local steps per round (default 1). */
  localSteps?: number;
}

export interface PtSummary {
  temperatures: Float64Array;
  /** Swap attempts and acceptances per neighbour pair during sampling [K−1]. */
  swapAttempts: Float64Array;
  swapAccepts: Float64Array;
  /** swapAccepts / swapAttempts per pair during sampling [K−1]. */
  swapAcceptance: Float64Array;
  /** Local-move acceptance per temperature during sampling [K]. */
  localAcceptance: Float64Array;
  /** Round trips completed during sampling, and over the whole run. */
  roundTrips: number;
  roundTripsTotal: number;
}

export interface SampleResult {
  /** The sampler's name; 'custom' for a kernel factory. */
  sampler: SamplerName | 'custom';
  temperature: number;
  /** Samples [n, dim] and their energies [n]. */
  samples: Float64Array;
  energies: Float64Array;
  n: number;
  dim: number;
  chains: number;
  warmup: number;
  thin: number;
  /** Steps (PT: rounds) after warm-up. */
  samplingSteps: number;
  /** Fraction of proposals accepted per phase (PT: local moves); null for Langevin. */
  acceptance: { warmup: number | null; sampling: number | null };
  /** Frozen step size: MALA/HMC per chain [chains], PT per temperature [K]; null for Langevin. */
  stepSize: Float64Array | null;
  /** Energy evaluations by phase (sum = total; equals the target counter's increase). */
  evaluations: { init: number; warmup: number; sampling: number; total: number };
  /** Proposals rejected because their energy or force was non-finite. */
  nonFinite: number;
  /** Langevin: mean kinetic temperature over sampling steps and chains. */
  kineticTemperature?: number;
  pt?: PtSummary;
  /** R̂, ESS (and PT round trips) of the returned samples; see convergence.ts. */
  convergence: ConvergenceReport;
  /** Problems the caller must show the user, one line each with the remedy (empty when none). */
  warnings: string[];
}

/** Most float64 values one sample or state array may hold (2 GiB). */
const MAX_VALUES = 2 ** 28;

const COMMON_KEYS = ['sampler', 'n', 'temperature', 'warmup', 'maxWarmup', 'thin', 'chains', 'seed', 'rng', 'init', 'com', 'onProgress'];
const ADAPT_KEYS = ['stepSize', 'targetAcceptance', 'adaptRate'];
const KEYS: Record<SamplerName | 'custom', string[]> = {
  mala: [...ADAPT_KEYS, 'adapt'],
  custom: [...ADAPT_KEYS, 'adapt'],
  hmc: [...ADAPT_KEYS, 'adapt', 'leapfrogSteps', 'mass'],
  langevin: ['timestep', 'friction', 'masses'],
  pt: [...ADAPT_KEYS, 'tMax', 'replicas', 'temperatures', 'local', 'localSteps', 'leapfrogSteps', 'mass'],
};

/** One step of a sampler inside the driver. */
interface Runner {
  step(rng: Rng, adapting: boolean): { evaluations: number; accepted: number | null; proposals: number; nonFinite: number; kineticTemperature?: number };
  /** Writes the first `count` chains' current samples and energies at row `offset`. */
  collect(samples: Float64Array, energies: Float64Array, offset: number, count: number): void;
  stepSize(): Float64Array | null;
  /** Marks the start of sampling (for phase statistics). */
  startSampling(): void;
  summary(): PtSummary | undefined;
}

/**
 * Runs a sampler on a Target or on any LogDensity (which needs `init`); see
 * the module comment for the schedule and SampleOptions for defaults.
 */
export function runSampler(model: Target | LogDensity, opts: SampleOptions): SampleResult {
  const target = asPotential(model);
  const name = typeof opts.sampler === 'function' ? 'custom' : (opts.sampler as SamplerName);
  if (name !== 'custom' && !SAMPLER_NAMES.includes(name)) throw new UserError(`unknown sampler '${String(opts.sampler)}'; valid samplers: ${SAMPLER_NAMES.join(', ')}`);
  const allowed = new Set([...COMMON_KEYS, ...KEYS[name]]);
  for (const [k, v] of Object.entries(opts)) {
    if (v !== undefined && !allowed.has(k)) throw new UserError(`option '${k}' does not apply to sampler '${name}'; its options: ${[...allowed].join(', ')}`);
  }
  const n = checkInteger(opts.n, 'n (number of samples)', 1);
  const ladderStart = name === 'pt' && opts.temperatures !== undefined && opts.temperatures.length > 0 ? opts.temperatures[0] : undefined;
  const temperature = checkTemperature(opts.temperature ?? ladderStart ?? target.defaultTemperature);
  const autoWarmup = opts.warmup === undefined;
  if (!autoWarmup && opts.maxWarmup !== undefined) throw new UserError('give either warmup or maxWarmup (the cap of the adaptive warm-up), not both');
  const maxWarmup = autoWarmup ? checkInteger(opts.maxWarmup ?? AUTO_WARMUP.max, 'maxWarmup', 0) : 0;
  let warmup = autoWarmup ? Math.min(AUTO_WARMUP.min, maxWarmup) : checkInteger(opts.warmup as number, 'warmup', 0);
  const thin = checkInteger(opts.thin ?? 10, 'thin', 1);
  const chains = checkInteger(opts.chains ?? Math.min(n, 128), 'chains', 1);
  // Refused here, in one line, rather than as a RangeError from an array allocation.
  for (const [what, count] of [['n (number of samples)', n], ['chains', chains]] as const) {
    if (count * target.dim > MAX_VALUES) throw new UserError(`${what} = ${count} is too large: ${count} × ${target.dim} coordinates exceed ${MAX_VALUES} values (2 GiB)`);
  }
  if (opts.rng === undefined && opts.seed !== undefined && !Number.isFinite(opts.seed)) throw new UserError(`seed must be a finite number, got ${opts.seed}`);
  const rng = opts.rng ?? new Rng(opts.seed ?? 0);
  const initRng = rng.fork('init');
  const stepRng = rng.fork('steps');

  const before = target.counter.total;
  const runner = makeRunner(name, model, opts, temperature, chains, initRng);
  const initEvaluations = target.counter.total - before;

  const collections = Math.ceil(n / chains);
  const samplingSteps = collections * thin;
  const monitor = autoWarmup ? new WarmupMonitor(chains) : null;
  const scratch = { x: new Float64Array(chains * target.dim), e: new Float64Array(chains) };
  const samples = new Float64Array(n * target.dim);
  const energies = new Float64Array(n);
  const phase = { warmup: newTally(), sampling: newTally() };
  let collected = 0;
  let nonFinite = 0;
  for (let t = 0; t < warmup + samplingSteps; t++) {
    const adapting = t < warmup;
    if (t === warmup) runner.startSampling();
    const r = runner.step(stepRng, adapting);
    const tally = adapting ? phase.warmup : phase.sampling;
    tally.evaluations += r.evaluations;
    tally.proposals += r.proposals;
    tally.accepted += r.accepted ?? 0;
    tally.kinetic += r.kineticTemperature ?? 0;
    tally.steps++;
    nonFinite += r.nonFinite;
    if (monitor && adapting) {
      runner.collect(scratch.x, scratch.e, 0, chains);
      monitor.record(scratch.e);
      if (t + 1 === warmup && !monitor.converged() && warmup < maxWarmup) warmup = Math.min(maxWarmup, warmup + AUTO_WARMUP.block);
    }
    if (!adapting && (t - warmup + 1) % thin === 0) {
      const count = Math.min(chains, n - collected);
      runner.collect(samples, energies, collected, count);
      collected += count;
    }
    opts.onProgress?.(t + 1, warmup + samplingSteps, {
      phase: adapting ? 'warmup' : 'sampling',
      acceptanceRate: r.accepted === null ? null : r.accepted / r.proposals,
      stepSize: runner.stepSize()?.slice() ?? null,
      ...(r.kineticTemperature === undefined ? {} : { kineticTemperature: r.kineticTemperature }),
      collected,
    });
  }

  const isLangevin = name === 'langevin';
  const rate = (p: Tally): number | null => (isLangevin || p.proposals === 0 ? null : p.accepted / p.proposals);
  const evaluations = {
    init: initEvaluations,
    warmup: phase.warmup.evaluations,
    sampling: phase.sampling.evaluations,
    total: initEvaluations + phase.warmup.evaluations + phase.sampling.evaluations,
  };
  const result: SampleResult = {
    sampler: name,
    temperature,
    samples,
    energies,
    n,
    dim: target.dim,
    chains,
    warmup,
    thin,
    samplingSteps,
    acceptance: { warmup: rate(phase.warmup), sampling: rate(phase.sampling) },
    stepSize: runner.stepSize(),
    evaluations,
    nonFinite,
    ...samplerChecks({ name, target, samples, energies, n, chains, warmup, thin, acceptance: rate(phase.sampling), stepSize: runner.stepSize(), pt: runner.summary(), autoWarmup: monitor && { rhat: monitor.lastRhat, max: maxWarmup } }),
  };
  if (isLangevin) result.kineticTemperature = phase.sampling.kinetic / phase.sampling.steps;
  const pt = runner.summary();
  if (pt) result.pt = pt;
  return result;
}

/** Alias of runSampler. */
export const sample = runSampler;

interface Tally {
  evaluations: number;
  proposals: number;
  accepted: number;
  kinetic: number;
  steps: number;
}

function newTally(): Tally {
  return { evaluations: 0, proposals: 0, accepted: 0, kinetic: 0, steps: 0 };
}

function startingPositions(target: Potential, init: Float64Array | undefined, rows: number, rng: Rng, what: string): Float64Array {
  if (init === undefined) {
    if (!target.initialConfigurations) throw new UserError(`${target.name}: a LogDensity has no starting configurations; give init [${rows}, ${target.dim}]`);
    return target.initialConfigurations(rng, rows);
  }
  const got = batchSize(target, init);
  if (got !== rows || init.length !== rows * target.dim) {
    throw new UserError(`init has shape [${init.length / target.dim}, ${target.dim}]; ${what} needs [${rows}, ${target.dim}]`);
  }
  return init;
}

function makeRunner(name: SamplerName | 'custom', model: Target | LogDensity, o: SampleOptions, temperature: number, chains: number, initRng: Rng): Runner {
  const target = asPotential(model);
  if (name === 'langevin') {
    const kernel = langevin(model, { temperature, timestep: o.timestep, friction: o.friction, masses: o.masses, com: o.com });
    let s = kernel.init(startingPositions(target, o.init, chains, initRng, 'langevin'), initRng);
    return {
      step(rng) {
        const r = kernel.step(rng, s);
        s = r.state;
        return { evaluations: r.info.evaluations, accepted: null, proposals: 0, nonFinite: 0, kineticTemperature: r.info.meanKineticTemperature };
      },
      collect: (samples, energies, offset, count) => copyRows(s.x, s.energy, samples, energies, offset, count, target.dim, 1, 0),
      stepSize: () => null,
      startSampling() {},
      summary: () => undefined,
    };
  }
  if (name === 'pt') return ptRunner(model, o, temperature, chains, initRng);

  const isHmc = name === 'hmc';
  const common = { temperature, stepSize: o.stepSize, com: o.com };
  const kernel =
    typeof o.sampler === 'function' ? o.sampler(common) : isHmc ? hmc(model, { ...common, leapfrogSteps: o.leapfrogSteps, mass: o.mass }) : mala(model, common);
  let s: McmcState = kernel.init(startingPositions(target, o.init, chains, initRng, name), initRng);
  const adapter = new StepSizeAdapter(s.stepSize, {
    targetAcceptance: checkAcceptance(o.targetAcceptance ?? (isHmc ? 0.65 : 0.574)),
    rate: o.adaptRate,
    groups: o.adapt ?? 'global',
  });
  return {
    step(rng, adapting) {
      const { state, info } = kernel.step(rng, s);
      s = adapting ? { ...state, stepSize: adapter.update(info.acceptProb) } : state;
      let accepted = 0;
      for (const a of info.accepted) accepted += a;
      return { evaluations: info.evaluations, accepted, proposals: s.n, nonFinite: info.nonFinite };
    },
    collect: (samples, energies, offset, count) => copyRows(s.x, s.energy, samples, energies, offset, count, target.dim, 1, 0),
    stepSize: () => s.stepSize,
    startSampling() {},
    summary: () => undefined,
  };
}

function ptRunner(model: Target | LogDensity, o: SampleOptions, temperature: number, chains: number, initRng: Rng): Runner {
  const target = asPotential(model);
  let temps: Float64Array;
  if (o.temperatures !== undefined) {
    if (o.tMax !== undefined || o.replicas !== undefined) throw new UserError('give either temperatures or tMax/replicas for PT, not both');
    temps = Float64Array.from(o.temperatures);
    if (temps[0] !== temperature) {
      throw new UserError(`PT temperatures must start at the sampling temperature ${temperature}; got ${temps[0]} first`);
    }
  } else {
    temps = geometricLadder(temperature, o.tMax ?? 10 * temperature, o.replicas ?? 8);
  }
  const K = temps.length;
  const kernel = parallelTempering(model, {
    temperatures: temps,
    local: o.local,
    localSteps: o.localSteps,
    stepSize: o.stepSize,
    leapfrogSteps: o.leapfrogSteps,
    mass: o.mass,
    com: o.com,
  });
  let x0: Float64Array;
  if (o.init !== undefined && o.init.length === chains * target.dim) {
    x0 = new Float64Array(chains * K * target.dim);
    for (let c = 0; c < chains; c++) {
      for (let k = 0; k < K; k++) x0.set(o.init.subarray(c * target.dim, (c + 1) * target.dim), (c * K + k) * target.dim);
    }
  } else {
    x0 = startingPositions(target, o.init, chains * K, initRng, `PT with ${chains} chains × ${K} replicas (or [${chains}, ${target.dim}])`);
  }
  let s: PtState = kernel.init(x0, initRng);
  const slotOfRow = Int32Array.from({ length: chains * K }, (_, r) => r % K);
  const adapter = new StepSizeAdapter(s.local.stepSize, {
    targetAcceptance: checkAcceptance(o.targetAcceptance ?? (o.local === 'hmc' ? 0.65 : 0.574)),
    rate: o.adaptRate,
    groups: slotOfRow,
  });
  let atStart = s;
  const localAccepted = new Float64Array(K);
  const localProposals = new Float64Array(K);
  return {
    step(rng, adapting) {
      const { state, info } = kernel.step(rng, s);
      s = state;
      let accepted = 0;
      let proposals = 0;
      for (const li of info.local) {
        for (let r = 0; r < li.accepted.length; r++) {
          accepted += li.accepted[r];
          if (!adapting) {
            localAccepted[r % K] += li.accepted[r];
            localProposals[r % K]++;
          }
        }
        proposals += li.accepted.length;
        if (adapting) s = { ...s, local: { ...s.local, stepSize: adapter.update(li.acceptProb) } };
      }
      return { evaluations: info.evaluations, accepted, proposals, nonFinite: info.nonFinite };
    },
    collect: (samples, energies, offset, count) => copyRows(s.local.x, s.local.energy, samples, energies, offset, count, target.dim, K, 0),
    stepSize: () => s.local.stepSize,
    startSampling() {
      atStart = s;
    },
    summary() {
      const swapAttempts = s.swapAttempts.map((v, k) => v - atStart.swapAttempts[k]);
      const swapAccepts = s.swapAccepts.map((v, k) => v - atStart.swapAccepts[k]);
      return {
        temperatures: temps,
        swapAttempts,
        swapAccepts,
        swapAcceptance: swapAccepts.map((v, k) => (swapAttempts[k] > 0 ? v / swapAttempts[k] : NaN)),
        localAcceptance: localAccepted.map((v, k) => (localProposals[k] > 0 ? v / localProposals[k] : NaN)),
        roundTrips: s.roundTrips - atStart.roundTrips,
        roundTripsTotal: s.roundTrips,
      };
    },
  };
}

/** Copies rows (c·stride + slot) of x/energy for chains c < count into samples/energies from row `offset`. */
function copyRows(
  x: Float64Array,
  energy: Float64Array,
  samples: Float64Array,
  energies: Float64Array,
  offset: number,
  count: number,
  dim: number,
  stride: number,
  slot: number,
): void {
  for (let c = 0; c < count; c++) {
    const r = c * stride + slot;
    samples.set(x.subarray(r * dim, (r + 1) * dim), (offset + c) * dim);
    energies[offset + c] = energy[r];
  }
}
