/**
 * The sampling driver: runs one of the kernels on a target and returns n
 * samples at temperature T.
 *
 * Schedule: `chains` chains (default n/100 within [4, 32], see defaultChains) start from `init` or the
 * target's initialConfigurations; `warmup` steps follow, during which MALA,
 * HMC and PT adapt their step sizes (Langevin just equilibrates); then the
 * step sizes are frozen and the current state of every chain is collected
 * after every `thin`-th step until n samples are collected (the last
 * collection takes the first chains only). Sampling steps = ⌈n/chains⌉·thin.
 * By default the warm-up and thin adapt to the run (auto-warmup.ts): warm-up
 * until the chains agree, thin = twice their autocorrelation time.
 * For PT a step is one round and the samples are the coldest replica of each
 * PT chain; `temperature` is the coldest temperature of the ladder.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Rng } from '../core/rng.js';
import { InterruptedError, UserError } from '../core/errors.js';
import { asPotential, isTarget, type LogDensity, type Potential } from '../targets/density.js';
import { batchSize, checkTemperature, type Target } from '../targets/target.js';
import { StepSizeAdapter, type AdaptScope } from './adapt.js';
import { AUTO_THIN, AUTO_WARMUP, MAX_COORDINATES, WarmupMonitor, adaptiveThin } from './auto-warmup.js';
import { samplerChecks } from './checks.js';
import type { ConvergenceReport } from './convergence.js';
import { ChainBlock, checkChainPlan, rowsPerChain, type BlockPtCounters, type BlockSteps, type ChainPlan } from './chains.js';
import { geometricLadder, type PtLocalKernel } from './pt.js';
import { checkAcceptance, checkInteger, type ComMode, type McmcKernelFactory } from './state.js';

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
  /** Energy evaluations so far, starts included (all workers). */
  evaluations: number;
}

export interface SampleOptions {
  /** One of SAMPLER_NAMES, or a Metropolis kernel factory run like MALA (warm-up adaptation of its step size, then collection); default: target.defaultSampler, else 'pt'. */
  sampler?: string | McmcKernelFactory;
  /** Number of output samples, ≥ 1. */
  n: number;
  /** Temperature of the samples (PT: the coldest replica). Default: target.defaultTemperature (PT: temperatures[0] if given). */
  temperature?: number;
  /** Warm-up steps (PT: rounds) before collection; default adaptive (see auto-warmup.ts: 1000 steps, then blocks of 500 until the chains agree, R̂ ≤ 1.05 on draws one autocorrelation time apart; at most maxWarmup). */
  warmup?: number;
  /** Cap of the adaptive warm-up (default 40000); only when warmup is not given. */
  maxWarmup?: number;
  /** Steps between collections; default adaptive (see auto-warmup.ts: twice the autocorrelation time over the warm-up, within [10, maxThin]). */
  thin?: number;
  /** Cap of the adaptive thin (default 2000); only when thin is not given. */
  maxThin?: number;
  /** Chains run in parallel (PT: independent PT chains); default n/100 within [4, 32], see defaultChains. */
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
  /** PT: hottest temperature of a geometric ladder (default target.defaultTMaxFactor (LJ clusters 2, peptides 4, else 10) · temperature). */
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

/**
 * Default number of chains: n/100 within [4, 32] (and at most n), so each
 * chain gives about 100 draws. R̂ ≤ 1.01 is a test with noise: on independent
 * normal draws (400 trials each) it fails with probability 0.11 for 32 chains
 * × 31 draws and 128 × 15 (n ≈ 1000–2000 with the old default of 128 chains),
 * 0.018 for 10 × 100, 0.000 for 20 × 100 and 32 × 100. Every chain also pays
 * the warm-up, so fewer chains cost less.
 */
export function defaultChains(n: number): number {
  return Math.min(n, 32, Math.max(4, Math.round(n / 100)));
}

/** Most float64 values one sample or state array may hold (2 GiB). */
const MAX_VALUES = 2 ** 28;

const COMMON_KEYS = ['sampler', 'n', 'temperature', 'warmup', 'maxWarmup', 'thin', 'maxThin', 'chains', 'seed', 'rng', 'init', 'com', 'onProgress'];
const ADAPT_KEYS = ['stepSize', 'targetAcceptance', 'adaptRate'];
const KEYS: Record<SamplerName | 'custom', string[]> = {
  mala: [...ADAPT_KEYS, 'adapt'],
  custom: [...ADAPT_KEYS, 'adapt'],
  hmc: [...ADAPT_KEYS, 'adapt', 'leapfrogSteps', 'mass'],
  langevin: ['timestep', 'friction', 'masses'],
  pt: [...ADAPT_KEYS, 'tMax', 'replicas', 'temperatures', 'local', 'localSteps', 'leapfrogSteps', 'mass'],
};

/**
 * Runs a sampler on a Target or on any LogDensity (which needs `init`); see
 * the module comment for the schedule and SampleOptions for defaults.
 */
export function runSampler(model: Target | LogDensity, opts: SampleOptions): SampleResult {
  const plan = planRun(model, opts);
  const answer = inThread(model, plan);
  const run = driveSampler(plan, opts.onProgress);
  let next = run.next();
  while (!next.done) next = run.next([answer(next.value)]);
  return next.value;
}

/** Milliseconds runSamplerAsync computes between turns of the event loop. */
const YIELD_MS = 50;

/**
 * runSampler that gives the event loop a turn every 50 ms, so that the
 * caller's timers and signal handlers run, and stops with an
 * InterruptedError at the next turn once `signal` is aborted. The result is
 * runSampler's, bit for bit.
 */
export async function runSamplerAsync(model: Target | LogDensity, opts: SampleOptions, signal?: AbortSignal): Promise<SampleResult> {
  const plan = planRun(model, opts);
  const answer = inThread(model, plan);
  const run = driveSampler(plan, opts.onProgress);
  let next = run.next();
  let turn = performance.now();
  while (!next.done) {
    if (performance.now() - turn >= YIELD_MS) {
      await yieldToEventLoop();
      turn = performance.now();
    }
    if (signal?.aborted) throw new InterruptedError(`${plan.name} sampling of ${plan.target.name} interrupted`);
    next = run.next([answer(next.value)]);
  }
  return next.value;
}

/** Answers a run's block requests in this thread, with one block of all its chains. */
function inThread(model: Target | LogDensity, plan: RunPlan): (req: BlockRequest) => unknown {
  let block: ChainBlock | null = null;
  return (req) => {
    if (req.op === 'start') block = new ChainBlock(model, plan.chain, 0, plan.chains, plan.factory);
    return answerBlock(block as ChainBlock, req);
  };
}

/** A validated run: its schedule, the chain plan every block gets, and the adaptation settings. */
export interface RunPlan {
  name: SamplerName | 'custom';
  target: Potential;
  n: number;
  temperature: number;
  warmup: number;
  autoWarmup: boolean;
  maxWarmup: number;
  /** The fixed thin, or AUTO_THIN.min until the warm-up sets it (autoThin). */
  thin: number;
  autoThin: boolean;
  maxThin: number;
  chains: number;
  chain: ChainPlan;
  /** The custom kernel (or PT local kernel factory); in-thread runs only. */
  factory: McmcKernelFactory | null;
  targetAcceptance: number;
  adaptRate: number | undefined;
  adapt: AdaptScope | undefined;
}

/** Checks the options of a run and resolves its defaults, seed streams and starting positions (see SampleOptions). */
export function planRun(model: Target | LogDensity, opts: SampleOptions): RunPlan {
  const target = asPotential(model);
  const sampler = opts.sampler ?? defaultSamplerOf(model);
  const name = typeof sampler === 'function' ? 'custom' : (sampler as SamplerName);
  if (name !== 'custom' && !SAMPLER_NAMES.includes(name)) throw new UserError(`unknown sampler '${String(sampler)}'; valid samplers: ${SAMPLER_NAMES.join(', ')}`);
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
  const warmup = autoWarmup ? Math.min(AUTO_WARMUP.min, maxWarmup) : checkInteger(opts.warmup as number, 'warmup', 0);
  const autoThin = opts.thin === undefined;
  if (!autoThin && opts.maxThin !== undefined) throw new UserError('give either thin or maxThin (the cap of the adaptive thin), not both');
  const maxThin = autoThin ? checkInteger(opts.maxThin ?? AUTO_THIN.max, 'maxThin', 1) : 0;
  const thin = autoThin ? Math.min(AUTO_THIN.min, maxThin) : checkInteger(opts.thin as number, 'thin', 1);
  const chains = checkInteger(opts.chains ?? defaultChains(n), 'chains', 1);
  // Refused here, in one line, rather than as a RangeError from an array allocation.
  for (const [what, count] of [['n (number of samples)', n], ['chains', chains]] as const) {
    if (count * target.dim > MAX_VALUES) throw new UserError(`${what} = ${count} is too large: ${count} × ${target.dim} coordinates exceed ${MAX_VALUES} values (2 GiB)`);
  }
  if (opts.rng === undefined && opts.seed !== undefined && !Number.isFinite(opts.seed)) throw new UserError(`seed must be a finite number, got ${opts.seed}`);
  const rng = opts.rng ?? new Rng(opts.seed ?? 0);
  const initRng = rng.fork('init');
  const stepRng = rng.fork('steps');
  const temperatures = name === 'pt' ? ladder(opts, temperature, (isTarget(model) ? model.defaultTMaxFactor : undefined) ?? 10) : null;
  const factory = typeof sampler === 'function' ? sampler : typeof opts.local === 'function' ? opts.local : null;
  const chain: ChainPlan = {
    sampler: name,
    temperature,
    chains,
    temperatures,
    init: null,
    initRng: initRng.getState(),
    stepRng: stepRng.getState(),
    stepSize: opts.stepSize,
    leapfrogSteps: opts.leapfrogSteps,
    mass: opts.mass,
    timestep: opts.timestep,
    friction: opts.friction,
    masses: opts.masses,
    com: opts.com,
    local: typeof opts.local === 'function' ? undefined : opts.local,
    localSteps: opts.localSteps,
  };
  chain.init = startingPositions(target, opts.init, chain);
  checkChainPlan(model, chain, factory);
  const hmcLike = name === 'hmc' || (name === 'pt' && opts.local === 'hmc');
  return {
    name,
    target,
    n,
    temperature,
    warmup,
    autoWarmup,
    maxWarmup,
    thin,
    autoThin,
    maxThin,
    chains,
    chain,
    factory,
    targetAcceptance: checkAcceptance(opts.targetAcceptance ?? (hmcLike ? 0.65 : 0.574)),
    adaptRate: opts.adaptRate,
    adapt: opts.adapt,
  };
}

/** The sampler used when none is named: the target's defaultSampler, else 'pt' (see Target.defaultSampler). */
export function defaultSamplerOf(model: Target | LogDensity): SamplerName {
  return (isTarget(model) ? model.defaultSampler : undefined) ?? 'pt';
}

/** The PT ladder: explicit temperatures, else geometric from tMax (default tMaxFactor·T) and replicas. */
function ladder(o: SampleOptions, temperature: number, tMaxFactor: number): Float64Array {
  if (o.temperatures === undefined) return geometricLadder(temperature, o.tMax ?? tMaxFactor * temperature, o.replicas ?? 8);
  if (o.tMax !== undefined || o.replicas !== undefined) throw new UserError('give either temperatures or tMax/replicas for PT, not both');
  const temps = Float64Array.from(o.temperatures);
  if (temps[0] !== temperature) throw new UserError(`PT temperatures must start at the sampling temperature ${temperature}; got ${temps[0]} first`);
  return temps;
}

/** The validated `init` (null: the target's initialConfigurations). */
function startingPositions(target: Potential, init: Float64Array | undefined, p: ChainPlan): Float64Array | null {
  const rows = p.chains * rowsPerChain(p);
  if (init === undefined) {
    if (!target.initialConfigurations) throw new UserError(`${target.name}: a LogDensity has no starting configurations; give init [${rows}, ${target.dim}]`);
    return null;
  }
  if (p.sampler === 'pt' && init.length === p.chains * target.dim) return init;
  const got = batchSize(target, init);
  if (got !== rows || init.length !== rows * target.dim) {
    const K = rowsPerChain(p);
    const what = p.sampler === 'pt' ? `PT with ${p.chains} chains × ${K} replicas (or [${p.chains}, ${target.dim}])` : p.sampler;
    throw new UserError(`init has shape [${init.length / target.dim}, ${target.dim}]; ${what} needs [${rows}, ${target.dim}]`);
  }
  return init;
}

/** A request of the driver to every block of chains; the replies come back in chain order. */
export type BlockRequest =
  | { op: 'start' }
  | { op: 'advance'; steps: number; adapting: boolean; stepSize: Float64Array | null; collect: boolean }
  | { op: 'counters' };

/** A block's reply to 'start'. */
export interface BlockStart {
  initEvaluations: number;
  stepSize: Float64Array | null;
}

/** Answers a request on a block that exists ('start' answers with the block's starting state). */
export function answerBlock(block: ChainBlock, req: BlockRequest): BlockStart | BlockSteps | BlockPtCounters | null {
  if (req.op === 'start') return { initEvaluations: block.initEvaluations, stepSize: block.stepSize() };
  if (req.op === 'advance') return block.advance(req.steps, req.adapting, req.stepSize, req.collect);
  return block.ptCounters();
}

/** The arrays one after another (blocks' replies in chain order). */
export function concat(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The schedule of a run (module comment) as a generator: it yields requests
 * to the blocks of chains and is resumed with their replies in chain order,
 * in this thread (runSampler) or from workers (parallel.ts). Everything it
 * merges is per chain or an integer count, so the result does not depend on
 * how the chains are split into blocks.
 */
export function* driveSampler(p: RunPlan, onProgress: SampleOptions['onProgress']): Generator<BlockRequest, SampleResult, unknown[]> {
  const { name, target, n, chains, autoWarmup, maxWarmup } = p;
  let warmup = p.warmup;
  let thin = p.thin;
  const starts = (yield { op: 'start' }) as BlockStart[];
  const initEvaluations = starts.reduce((a, s) => a + s.initEvaluations, 0);
  let stepSize = starts[0].stepSize ? concat(starts.map((s) => s.stepSize as Float64Array)) : null;
  const K = rowsPerChain(p.chain);
  const adapter =
    stepSize &&
    new StepSizeAdapter(stepSize, {
      targetAcceptance: p.targetAcceptance,
      rate: p.adaptRate,
      groups: name === 'pt' ? Int32Array.from({ length: chains * K }, (_, r) => r % K) : (p.adapt ?? 'global'),
    });

  const collections = Math.ceil(n / chains);
  let samplingSteps = collections * thin;
  // Identifiable coordinates (one particle) are traced too: a chain stuck in one mode shows only there.
  const traced = target.nParticles === 1 ? Math.min(target.dim, MAX_COORDINATES) : 0;
  const monitor = autoWarmup || p.autoThin ? new WarmupMonitor(chains, traced) : null;
  /** The adaptive thin's autocorrelation time (NaN when thin is fixed or unknown). */
  let tau = NaN;
  const samples = new Float64Array(n * target.dim);
  const energies = new Float64Array(n);
  const phase = { warmup: newTally(), sampling: newTally() };
  let collected = 0;
  let nonFinite = 0;
  let t = 0;
  while (t < warmup + samplingSteps) {
    const adapting = t < warmup;
    const steps = adapting ? 1 : thin - ((t - warmup) % thin);
    const blocks = (yield { op: 'advance', steps, adapting, stepSize, collect: !adapting || (monitor !== null && traced > 0) }) as BlockSteps[];
    for (let j = 0; j < steps; j++, t++) {
      let accepted = 0;
      let proposals = 0;
      let evaluations = 0;
      let kinetic = 0;
      for (const b of blocks) {
        evaluations += b.evaluations[j];
        accepted += b.accepted[j];
        proposals += b.proposals[j];
        nonFinite += b.nonFinite[j];
        if (b.kinetic) for (let i = j * (b.kinetic.length / steps); i < (j + 1) * (b.kinetic.length / steps); i++) kinetic += b.kinetic[i];
      }
      kinetic /= chains;
      const tally = adapting ? phase.warmup : phase.sampling;
      tally.evaluations += evaluations;
      tally.proposals += proposals;
      tally.accepted += accepted;
      tally.kinetic += kinetic;
      tally.steps++;
      if (adapter && adapting) {
        for (let l = 0; l < blocks[0].acceptProbs.length; l++) stepSize = adapter.update(concat(blocks.map((b) => b.acceptProbs[l])));
      }
      if (monitor && adapting) {
        monitor.record(concat(blocks.map((b) => b.energies)), traced > 0 ? concat(blocks.map((b) => b.x as Float64Array)) : null, target.dim);
        if (autoWarmup && t + 1 === warmup && !monitor.converged() && warmup < maxWarmup) warmup = Math.min(maxWarmup, warmup + AUTO_WARMUP.block);
        if (p.autoThin && t + 1 === warmup) {
          tau = monitor.autocorrelationSteps();
          thin = adaptiveThin(tau, p.maxThin);
          samplingSteps = collections * thin;
        }
      }
      if (!adapting && j === steps - 1) {
        const count = Math.min(chains, n - collected);
        samples.set(concat(blocks.map((b) => b.x as Float64Array)).subarray(0, count * target.dim), collected * target.dim);
        energies.set(concat(blocks.map((b) => b.energies)).subarray(0, count), collected);
        collected += count;
      }
      onProgress?.(t + 1, warmup + samplingSteps, {
        phase: adapting ? 'warmup' : 'sampling',
        acceptanceRate: name === 'langevin' ? null : accepted / proposals,
        stepSize: stepSize?.slice() ?? null,
        ...(name === 'langevin' ? { kineticTemperature: kinetic } : {}),
        collected,
        evaluations: initEvaluations + phase.warmup.evaluations + phase.sampling.evaluations,
      });
    }
  }
  const pt = name === 'pt' ? ptSummary(p.chain.temperatures as Float64Array, (yield { op: 'counters' }) as BlockPtCounters[]) : undefined;

  const isLangevin = name === 'langevin';
  const rate = (ph: Tally): number | null => (isLangevin || ph.proposals === 0 ? null : ph.accepted / ph.proposals);
  const evaluations = {
    init: initEvaluations,
    warmup: phase.warmup.evaluations,
    sampling: phase.sampling.evaluations,
    total: initEvaluations + phase.warmup.evaluations + phase.sampling.evaluations,
  };
  const result: SampleResult = {
    sampler: name,
    temperature: p.temperature,
    samples,
    energies,
    n,
    dim: target.dim,
    chains,
    warmup,
    thin,
    samplingSteps,
    acceptance: { warmup: rate(phase.warmup), sampling: rate(phase.sampling) },
    stepSize,
    evaluations,
    nonFinite,
    ...samplerChecks({ name, target, samples, energies, n, chains, warmup, thin, acceptance: rate(phase.sampling), stepSize, pt, autoWarmup: autoWarmup ? { rhat: (monitor as WarmupMonitor).lastRhat, max: maxWarmup } : null, autoThin: p.autoThin ? { tau, max: p.maxThin } : null }),
  };
  if (isLangevin) result.kineticTemperature = phase.sampling.kinetic / phase.sampling.steps;
  if (pt) result.pt = pt;
  return result;
}

function ptSummary(temperatures: Float64Array, blocks: BlockPtCounters[]): PtSummary {
  const sum = (f: (b: BlockPtCounters) => Float64Array) => blocks.map(f).reduce((a, v) => a.map((x, k) => x + v[k]));
  const swapAttempts = sum((b) => b.swapAttempts);
  const swapAccepts = sum((b) => b.swapAccepts);
  const localAccepted = sum((b) => b.localAccepted);
  const localProposals = sum((b) => b.localProposals);
  return {
    temperatures,
    swapAttempts,
    swapAccepts,
    swapAcceptance: swapAccepts.map((v, k) => (swapAttempts[k] > 0 ? v / swapAttempts[k] : NaN)),
    localAcceptance: localAccepted.map((v, k) => (localProposals[k] > 0 ? v / localProposals[k] : NaN)),
    roundTrips: blocks.reduce((a, b) => a + b.roundTrips, 0),
    roundTripsTotal: blocks.reduce((a, b) => a + b.roundTripsTotal, 0),
  };
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
