/**
 * A block of chains [from, to) of a sampling run, stepped chain by chain.
 * Chain c draws its start from init.derive(c) and its steps from
 * steps.derive(c) (see Rng.derive), so its trajectory depends only on the
 * seed, c and the step sizes the driver sets, never on how the chains are
 * split into blocks: one block of all chains in the calling thread, or one
 * block per worker (parallel.ts), give bit-identical chains.
 *
 * Everything a block returns is in chain order and per chain (or integer
 * counts), so the driver (run.ts) merges blocks exactly.
 */
import { Rng, type RngState } from '../core/rng.js';
import { asPotential, type LogDensity } from '../targets/density.js';
import type { Target } from '../targets/target.js';
import { hmc } from './hmc.js';
import { langevin } from './langevin.js';
import { mala } from './mala.js';
import { parallelTempering, type PtLocalKernel, type PtState } from './pt.js';
import type { ComMode, McmcKernelFactory, McmcState } from './state.js';

/** Everything a block needs besides the model; plain data, so it can be posted to a worker. */
export interface ChainPlan {
  sampler: 'mala' | 'hmc' | 'langevin' | 'pt' | 'custom';
  temperature: number;
  chains: number;
  /** PT ladder (coldest first); null otherwise. */
  temperatures: Float64Array | null;
  /** Starting positions, validated: [chains·rowsPerChain, dim], or PT [chains, dim] (copied to every replica); null: the target's initialConfigurations. */
  init: Float64Array | null;
  /** States of the run's init and step streams; chain c derives its own from each. */
  initRng: RngState;
  stepRng: RngState;
  stepSize?: number;
  leapfrogSteps?: number;
  mass?: number;
  timestep?: number;
  friction?: number;
  masses?: number | number[];
  com?: ComMode;
  local?: PtLocalKernel;
  localSteps?: number;
}

/** What one block did in an `advance` of one or more steps. */
export interface BlockSteps {
  /** Per step: evaluations, accepted proposals (0 for Langevin), proposals and non-finite proposals, summed over the block's chains (integers). */
  evaluations: number[];
  accepted: number[];
  proposals: number[];
  nonFinite: number[];
  /** Langevin: kinetic temperature per step and chain [steps·chains]; null otherwise. */
  kinetic: Float64Array | null;
  /** Adapting advances (one step): acceptance probability per row of the block, one array per local step. */
  acceptProbs: Float64Array[];
  /** Energy of each chain's sample row after the last step [chains]. */
  energies: Float64Array;
  /** With `collect`: each chain's sample row after the last step [chains, dim]. */
  x: Float64Array | null;
}

/** PT counters of a block (integers as floats): swap attempts/accepts [K−1], local acceptance per slot [K] and round trips, total and since sampling started. */
export interface BlockPtCounters {
  swapAttempts: Float64Array;
  swapAccepts: Float64Array;
  localAccepted: Float64Array;
  localProposals: Float64Array;
  roundTrips: number;
  roundTripsTotal: number;
}

interface StepOutcome<S> {
  state: S;
  evaluations: number;
  accepted: number;
  proposals: number;
  nonFinite: number;
  kinetic: number;
  acceptProbs: Float64Array[];
  /** PT: accepted flags per row, one array per local step. */
  slotAccepted?: Uint8Array[];
}

/** One chain's kernel, whatever the sampler. */
interface ChainOps<S> {
  init(x0: Float64Array, rng: Rng): S;
  step(rng: Rng, s: S): StepOutcome<S>;
  /** Positions and energies of the chain's rows. */
  x(s: S): Float64Array;
  energy(s: S): Float64Array;
  stepSize(s: S): Float64Array | null;
  withStepSize(s: S, h: Float64Array): S;
}

/** Rows one chain occupies: K for PT, else 1. */
export function rowsPerChain(plan: Pick<ChainPlan, 'sampler' | 'temperatures'>): number {
  return plan.sampler === 'pt' && plan.temperatures ? plan.temperatures.length : 1;
}

function mcmcOps(kernel: ReturnType<McmcKernelFactory>): ChainOps<McmcState> {
  return {
    init: (x0, rng) => kernel.init(x0, rng),
    step(rng, s) {
      const { state, info } = kernel.step(rng, s);
      let accepted = 0;
      for (const a of info.accepted) accepted += a;
      return { state, evaluations: info.evaluations, accepted, proposals: state.n, nonFinite: info.nonFinite, kinetic: 0, acceptProbs: [info.acceptProb] };
    },
    x: (s) => s.x,
    energy: (s) => s.energy,
    stepSize: (s) => s.stepSize,
    withStepSize: (s, h) => ({ ...s, stepSize: h }),
  };
}

function chainOps(model: Target | LogDensity, p: ChainPlan, factory: McmcKernelFactory | null): ChainOps<unknown> {
  const common = { temperature: p.temperature, stepSize: p.stepSize, com: p.com };
  if (p.sampler === 'langevin') {
    const kernel = langevin(model, { temperature: p.temperature, timestep: p.timestep, friction: p.friction, masses: p.masses, com: p.com });
    type S = ReturnType<typeof kernel.init>;
    const ops: ChainOps<S> = {
      init: (x0, rng) => kernel.init(x0, rng),
      step(rng, s) {
        const r = kernel.step(rng, s);
        return { state: r.state, evaluations: r.info.evaluations, accepted: 0, proposals: 0, nonFinite: 0, kinetic: r.info.meanKineticTemperature, acceptProbs: [] };
      },
      x: (s) => s.x,
      energy: (s) => s.energy,
      stepSize: () => null,
      withStepSize: (s) => s,
    };
    return ops as ChainOps<unknown>;
  }
  if (p.sampler === 'pt') {
    const kernel = parallelTempering(model, {
      temperatures: p.temperatures as Float64Array,
      local: factory ?? p.local,
      localSteps: p.localSteps,
      stepSize: p.stepSize,
      leapfrogSteps: p.leapfrogSteps,
      mass: p.mass,
      com: p.com,
    });
    const ops: ChainOps<PtState> = {
      init: (x0, rng) => kernel.init(x0, rng),
      step(rng, s) {
        const { state, info } = kernel.step(rng, s);
        let accepted = 0;
        let proposals = 0;
        for (const li of info.local) {
          for (const a of li.accepted) accepted += a;
          proposals += li.accepted.length;
        }
        return { state, evaluations: info.evaluations, accepted, proposals, nonFinite: info.nonFinite, kinetic: 0, acceptProbs: info.local.map((li) => li.acceptProb), slotAccepted: info.local.map((li) => li.accepted) };
      },
      x: (s) => s.local.x,
      energy: (s) => s.local.energy,
      stepSize: (s) => s.local.stepSize,
      withStepSize: (s, h) => ({ ...s, local: { ...s.local, stepSize: h } }),
    };
    return ops as ChainOps<unknown>;
  }
  const kernel = factory ? factory(common) : p.sampler === 'hmc' ? hmc(model, { ...common, leapfrogSteps: p.leapfrogSteps, mass: p.mass }) : mala(model, common);
  return mcmcOps(kernel) as ChainOps<unknown>;
}

/** Throws a UserError when the plan's kernel options are invalid (builds its kernel, steps nothing). */
export function checkChainPlan(model: Target | LogDensity, plan: ChainPlan, factory: McmcKernelFactory | null): void {
  chainOps(model, plan, factory);
}

export class ChainBlock {
  private readonly ops: ChainOps<unknown>;
  private readonly states: unknown[] = [];
  private readonly rngs: Rng[] = [];
  private readonly rows: number;
  private readonly dim: number;
  /** Energy evaluations the starts cost. */
  readonly initEvaluations: number;
  private readonly pt: { localAccepted: Float64Array; localProposals: Float64Array; atStart: PtState[] | null } | null;

  /** Builds chains [from, to) of `plan` on `model`; `factory` is the custom (or PT local) kernel, in-thread runs only. */
  constructor(
    model: Target | LogDensity,
    private readonly plan: ChainPlan,
    readonly from: number,
    readonly to: number,
    factory: McmcKernelFactory | null = null,
  ) {
    const target = asPotential(model);
    this.dim = target.dim;
    this.rows = rowsPerChain(plan);
    this.ops = chainOps(model, plan, factory);
    const K = plan.temperatures?.length ?? 0;
    this.pt = plan.sampler === 'pt' ? { localAccepted: new Float64Array(K), localProposals: new Float64Array(K), atStart: null } : null;
    const initBase = Rng.fromState(plan.initRng);
    const stepBase = Rng.fromState(plan.stepRng);
    const before = target.counter.total;
    for (let c = from; c < to; c++) {
      const rng = initBase.derive(c);
      this.states.push(this.ops.init(this.start(target, c, rng), rng));
      this.rngs.push(stepBase.derive(c));
    }
    this.initEvaluations = target.counter.total - before;
  }

  /** Chain c's starting rows. */
  private start(target: ReturnType<typeof asPotential>, c: number, rng: Rng): Float64Array {
    const { init } = this.plan;
    const d = this.dim;
    if (init === null) return (target.initialConfigurations as NonNullable<typeof target.initialConfigurations>)(rng, this.rows);
    if (init.length === this.plan.chains * this.rows * d) return init.slice(c * this.rows * d, (c + 1) * this.rows * d);
    // PT with one row per chain: every replica starts there.
    const x0 = new Float64Array(this.rows * d);
    for (let k = 0; k < this.rows; k++) x0.set(init.subarray(c * d, (c + 1) * d), k * d);
    return x0;
  }

  /** Step size per row of the block [chains·rowsPerChain], or null (Langevin). */
  stepSize(): Float64Array | null {
    if (this.ops.stepSize(this.states[0]) === null) return null;
    const out = new Float64Array(this.states.length * this.rows);
    this.states.forEach((s, i) => out.set(this.ops.stepSize(s) as Float64Array, i * this.rows));
    return out;
  }

  /**
   * Advances every chain `steps` steps with step sizes `stepSize` (rows of
   * all chains of the run, or null to keep them); `collect` returns the
   * sample rows after the last step.
   */
  advance(steps: number, adapting: boolean, stepSize: Float64Array | null, collect: boolean): BlockSteps {
    const n = this.states.length;
    const r = this.rows;
    if (stepSize) this.states.forEach((s, i) => (this.states[i] = this.ops.withStepSize(s, stepSize.slice((this.from + i) * r, (this.from + i + 1) * r))));
    if (this.pt && !adapting && this.pt.atStart === null) this.pt.atStart = this.states.slice() as PtState[];
    const out: BlockSteps = { evaluations: [], accepted: [], proposals: [], nonFinite: [], kinetic: this.plan.sampler === 'langevin' ? new Float64Array(steps * n) : null, acceptProbs: [], energies: new Float64Array(n), x: null };
    for (let t = 0; t < steps; t++) {
      let evaluations = 0;
      let accepted = 0;
      let proposals = 0;
      let nonFinite = 0;
      const probs: Float64Array[][] = [];
      for (let i = 0; i < n; i++) {
        const o = this.ops.step(this.rngs[i], this.states[i]);
        this.states[i] = o.state;
        evaluations += o.evaluations;
        accepted += o.accepted;
        proposals += o.proposals;
        nonFinite += o.nonFinite;
        if (out.kinetic) out.kinetic[t * n + i] = o.kinetic;
        if (adapting) probs.push(o.acceptProbs);
        if (this.pt && !adapting) {
          for (const acc of o.slotAccepted ?? []) {
            for (let row = 0; row < acc.length; row++) {
              this.pt.localAccepted[row % r] += acc[row];
              this.pt.localProposals[row % r]++;
            }
          }
        }
      }
      out.evaluations.push(evaluations);
      out.accepted.push(accepted);
      out.proposals.push(proposals);
      out.nonFinite.push(nonFinite);
      if (adapting && probs.length > 0) {
        for (let l = 0; l < probs[0].length; l++) {
          const joined = new Float64Array(n * r);
          probs.forEach((p, i) => joined.set(p[l], i * r));
          out.acceptProbs.push(joined);
        }
      }
    }
    this.states.forEach((s, i) => (out.energies[i] = this.ops.energy(s)[0]));
    if (collect) {
      out.x = new Float64Array(n * this.dim);
      this.states.forEach((s, i) => (out.x as Float64Array).set(this.ops.x(s).subarray(0, this.dim), i * this.dim));
    }
    return out;
  }

  /** PT counters summed over the block's chains; null for other samplers. */
  ptCounters(): BlockPtCounters | null {
    if (!this.pt) return null;
    const states = this.states as PtState[];
    const atStart = this.pt.atStart ?? states;
    const K = this.pt.localAccepted.length;
    const c: BlockPtCounters = {
      swapAttempts: new Float64Array(K - 1),
      swapAccepts: new Float64Array(K - 1),
      localAccepted: this.pt.localAccepted.slice(),
      localProposals: this.pt.localProposals.slice(),
      roundTrips: 0,
      roundTripsTotal: 0,
    };
    states.forEach((s, i) => {
      for (let k = 0; k < K - 1; k++) {
        c.swapAttempts[k] += s.swapAttempts[k] - atStart[i].swapAttempts[k];
        c.swapAccepts[k] += s.swapAccepts[k] - atStart[i].swapAccepts[k];
      }
      c.roundTrips += s.roundTrips - atStart[i].roundTrips;
      c.roundTripsTotal += s.roundTrips;
    });
    return c;
  }
}
