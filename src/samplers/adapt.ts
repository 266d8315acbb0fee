/**
 * Step-size adaptation for warm-up only. Kernels never change their step
 * size; a driver calls `update` after each warm-up step and stops calling it
 * when sampling starts, so the sampling phase runs a fixed, valid MCMC kernel.
 *
 * Rule (Robbins–Monro on the log step size, per group g of rows):
 *   log h_g ← log h_g + κ_t (ā_g − α*),   κ_t = κ₀ / √(1 + t),
 * where ā_g is the mean Metropolis acceptance probability min(1, r) of the
 * rows in group g at update t (probabilities, not 0/1 outcomes: same mean,
 * less noise), α* the target acceptance and κ₀ the rate. Σ κ_t diverges and
 * Σ κ_t² grows only logarithmically, so h_g settles where the expected
 * acceptance equals α*.
 *
 * Groups: 'global' (all rows share one step size: the pooled acceptance is
 * least noisy, and rows of one sampler see the same density), 'chain' (one
 * per row), or an explicit Int32Array of group ids per row (parallel
 * tempering: one group per temperature).
 */
import { UserError } from '../core/errors.js';
import { checkAcceptance, checkPositive } from './state.js';

export type AdaptScope = 'global' | 'chain';

export interface StepSizeAdapterOptions {
  /** Target mean acceptance probability α*. */
  targetAcceptance: number;
  /** κ₀ (default 0.5). */
  rate?: number;
  /** Row grouping (default 'global'). */
  groups?: AdaptScope | Int32Array;
}

export class StepSizeAdapter {
  readonly targetAcceptance: number;
  readonly rate: number;
  /** Group id of each row. */
  readonly groupOf: Int32Array;
  /** log h per group. */
  private readonly logH: Float64Array;
  private t = 0;

  /** Starts from the step sizes per row of the initial state (a group starts at the geometric mean of its rows). */
  constructor(initialStepSize: Float64Array, opts: StepSizeAdapterOptions) {
    this.targetAcceptance = checkAcceptance(opts.targetAcceptance);
    this.rate = checkPositive(opts.rate ?? 0.5, 'adaptation rate');
    const n = initialStepSize.length;
    const groups = opts.groups ?? 'global';
    if (groups === 'global') this.groupOf = new Int32Array(n);
    else if (groups === 'chain') this.groupOf = Int32Array.from({ length: n }, (_, i) => i);
    else if (groups instanceof Int32Array) {
      if (groups.length !== n) throw new UserError(`adaptation groups have ${groups.length} entries; expected ${n} (one per row)`);
      this.groupOf = groups.slice();
    } else {
      throw new UserError(`adaptation scope must be 'global' or 'chain', got '${String(groups)}'`);
    }
    let nGroups = 0;
    for (const g of this.groupOf) {
      if (g < 0) throw new UserError(`adaptation group ids must be ≥ 0, got ${g}`);
      nGroups = Math.max(nGroups, g + 1);
    }
    this.logH = new Float64Array(nGroups);
    const count = new Float64Array(nGroups);
    for (let i = 0; i < n; i++) {
      this.logH[this.groupOf[i]] += Math.log(checkPositive(initialStepSize[i], `step size of row ${i}`));
      count[this.groupOf[i]]++;
    }
    for (let g = 0; g < nGroups; g++) this.logH[g] = count[g] > 0 ? this.logH[g] / count[g] : 0;
  }

  /** Number of updates made so far. */
  get updates(): number {
    return this.t;
  }

  /** Current step size of each group. */
  groupStepSizes(): Float64Array {
    return this.logH.map(Math.exp);
  }

  /** One Robbins–Monro update from the acceptance probabilities per row; returns the new step size per row. */
  update(acceptProb: Float64Array): Float64Array {
    const n = this.groupOf.length;
    if (acceptProb.length !== n) throw new UserError(`adapter update: got ${acceptProb.length} acceptance probabilities; expected ${n}`);
    const sum = new Float64Array(this.logH.length);
    const count = new Float64Array(this.logH.length);
    for (let i = 0; i < n; i++) {
      sum[this.groupOf[i]] += acceptProb[i];
      count[this.groupOf[i]]++;
    }
    const kappa = this.rate / Math.sqrt(1 + this.t);
    for (let g = 0; g < this.logH.length; g++) {
      if (count[g] > 0) this.logH[g] += kappa * (sum[g] / count[g] - this.targetAcceptance);
    }
    this.t++;
    const h = new Float64Array(n);
    for (let i = 0; i < n; i++) h[i] = Math.exp(this.logH[this.groupOf[i]]);
    return h;
  }
}
