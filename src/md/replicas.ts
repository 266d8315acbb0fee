/**
 * A contiguous block of MD replicas [from, to), run in this thread or on a
 * worker (md/parallel.ts). Replica r draws its velocities and its Langevin
 * noise from its own stream, `seed → fork('replica r')`, and is stepped on its
 * own, so the trajectories do not depend on how replicas are split into
 * blocks: `pita md --workers 1` and `--workers 8` write the same frames.
 *
 * A block advances a chunk of steps at a time and returns what the chunk
 * produced: the frames due in it (after the warm-up, every `interval` steps),
 * and per replica the sum of its kinetic temperature over the production
 * steps (summed over replicas in replica order by the caller). A chunk that
 * meets a non-finite energy or force leaves the block at the chunk's start,
 * so the caller can checkpoint the last good state.
 */
import { NonFiniteError } from '../core/errors.js';
import { removeCentroidRow } from '../core/particles.js';
import { Rng, type RngState } from '../core/rng.js';
import { langevin, type LangevinState } from '../samplers/langevin.js';
import { evaluate, resolveCom, type Kernel } from '../samplers/state.js';
import type { LangevinInfo } from '../samplers/langevin.js';
import type { Target } from '../targets/target.js';
import { minimize } from './minimize.js';

/** What every block needs to build its kernel. */
export interface ReplicaPlan {
  temperature: number;
  timestep: number;
  friction: number;
  warmup: number;
  interval: number;
}

/** A fresh start: starting rows [to − from, dim], minimised first when `minimize`; the run's seed stream. */
export interface FreshStart {
  x: Float64Array;
  minimize: boolean;
  seed: RngState;
}

/** A resumed start: positions, velocities and stream states of the block's replicas. */
export interface SavedReplicas {
  x: Float64Array;
  v: Float64Array;
  rng: RngState[];
}

export interface ChunkResult {
  /** Frames due in the chunk, [frames, to − from, dim], and their energies [frames, to − from]. */
  frames: Float64Array;
  energies: Float64Array;
  framesCollected: number;
  /** Per replica: Σ kinetic temperature over the chunk's production steps. */
  kineticSums: Float64Array;
  /** Per replica: the kinetic temperature after the chunk's last step. */
  kineticLast: Float64Array;
  /** Set when a step failed: the block is back at the chunk's start, and this is the failure. */
  failure: { step: number; message: string } | null;
  /** Energy evaluations since the block's last report (start or chunk). */
  evaluations: number;
}

/** What a block reports after starting. */
export interface BlockStarted {
  /** Energy of replica 0 after minimisation (null without minimisation, or in other blocks). */
  minimizedEnergy: number | null;
  /** Energy evaluations so far (minimisation, initial forces). */
  evaluations: number;
}

export class ReplicaBlock {
  readonly count: number;
  private readonly kernel: Kernel<LangevinState, LangevinInfo>;
  private states: LangevinState[] = [];
  private rngs: Rng[] = [];
  private minimizedEnergy: number | null = null;
  /** The target's evaluation counter at the last report. */
  private counted: number;

  constructor(
    private readonly target: Target,
    private readonly plan: ReplicaPlan,
    readonly from: number,
    readonly to: number,
  ) {
    this.count = to - from;
    this.counted = target.counter.total;
    this.kernel = langevin(target, { temperature: plan.temperature, timestep: plan.timestep, friction: plan.friction });
  }

  /** Evaluations since the last call. */
  private evaluations(): number {
    const now = this.target.counter.total;
    const n = now - this.counted;
    this.counted = now;
    return n;
  }

  /** What the block reports after startFresh or resume. */
  started(): BlockStarted {
    return { minimizedEnergy: this.minimizedEnergy, evaluations: this.evaluations() };
  }

  /** Minimises (when asked) and draws initial velocities, replica by replica. */
  startFresh(s: FreshStart): void {
    const { dim } = this.target;
    const project = resolveCom(this.target) === 'remove';
    for (let i = 0; i < this.count; i++) {
      const x = s.x.slice(i * dim, (i + 1) * dim);
      if (s.minimize) {
        const res = minimize(
          (y) => {
            const ef = this.target.energyAndForces(y, 1);
            return { energy: ef.energy[0], forces: ef.forces };
          },
          x,
          { forceTolerance: 10 * this.target.kB * this.plan.temperature },
        );
        x.set(res.x);
        if (i === 0 && this.from === 0) this.minimizedEnergy = res.energy;
        if (project) removeCentroidRow(x, 0, this.target.nParticles, this.target.spatialDim);
      }
      // Forked from a fresh copy of the seed stream (a fork consumes parent draws), so it does not depend on the block.
      const rng = Rng.fromState(s.seed).fork(`replica ${this.from + i}`);
      this.states.push(this.kernel.init(x, rng.fork('velocities')));
      this.rngs.push(rng);
    }
  }

  /** Restores saved replicas (forces are recomputed from the positions). */
  resume(s: SavedReplicas): void {
    const { dim } = this.target;
    const project = resolveCom(this.target) === 'remove';
    for (let i = 0; i < this.count; i++) {
      const x = s.x.slice(i * dim, (i + 1) * dim);
      const { energy, forces } = evaluate(this.target, x, 1, project);
      this.states.push({ n: 1, x, v: s.v.slice(i * dim, (i + 1) * dim), energy, forces });
      this.rngs.push(Rng.fromState(s.rng[i]));
    }
  }

  /** Steps `firstStep + 1 … firstStep + steps` (1-based, as the run counts them). */
  advance(firstStep: number, steps: number): ChunkResult {
    const { dim } = this.target;
    const { warmup, interval } = this.plan;
    const due: number[] = [];
    for (let s = firstStep + 1; s <= firstStep + steps; s++) if (s > warmup && (s - warmup) % interval === 0) due.push(s);
    const frames = new Float64Array(due.length * this.count * dim);
    const energies = new Float64Array(due.length * this.count);
    const kineticSums = new Float64Array(this.count);
    const kineticLast = new Float64Array(this.count);
    const saved = this.rngs.map((r) => r.getState());
    const next: LangevinState[] = [];
    for (let i = 0; i < this.count; i++) {
      let state = this.states[i];
      let f = 0;
      for (let s = firstStep + 1; s <= firstStep + steps; s++) {
        let stepped;
        try {
          stepped = this.kernel.step(this.rngs[i], state);
        } catch (e) {
          if (!(e instanceof NonFiniteError)) throw e;
          // The kernel never mutates its input: put every stream back and keep the chunk's starting states.
          this.rngs.forEach((r, j) => r.setState(saved[j]));
          const failure = { step: s, message: `replica ${this.from + i}: ${e.message}` };
          return { frames, energies, framesCollected: 0, kineticSums, kineticLast, failure, evaluations: this.evaluations() };
        }
        state = stepped.state;
        if (s > warmup) kineticSums[i] += stepped.info.kineticTemperature[0];
        kineticLast[i] = stepped.info.kineticTemperature[0];
        if (f < due.length && due[f] === s) {
          frames.set(state.x, (f * this.count + i) * dim);
          energies[f * this.count + i] = state.energy[0];
          f++;
        }
      }
      next.push(state);
    }
    this.states = next;
    return { frames, energies, framesCollected: due.length, kineticSums, kineticLast, failure: null, evaluations: this.evaluations() };
  }

  /** Positions, velocities and stream states of the block's replicas, for a checkpoint. */
  snapshot(): SavedReplicas {
    const { dim } = this.target;
    const x = new Float64Array(this.count * dim);
    const v = new Float64Array(this.count * dim);
    this.states.forEach((s, i) => {
      x.set(s.x, i * dim);
      v.set(s.v, i * dim);
    });
    return { x, v, rng: this.rngs.map((r) => r.getState()) };
  }
}
