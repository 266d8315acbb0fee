/**
 * Adaptive warm-up: when the caller does not fix the number of warm-up steps,
 * the driver warms up for at least `min` steps, then in blocks of `block`
 * steps until the energy traces of the chains agree (split-R̂ ≤ 1.01 over the
 * second half of the warm-up so far), or `max` steps are done.
 *
 * The check uses the energy of every chain at every warm-up step (thinned to
 * at most MAX_DRAWS per chain, which bounds its cost), so it sees a drift or a
 * disagreement between chains long before the sampling phase would. The
 * second half only: the first half holds the transient from the start.
 */
import { RHAT_THRESHOLD } from './convergence.js';
import { splitRhat } from './diagnostics.js';

export const AUTO_WARMUP = { min: 1000, block: 500, max: 10000 } as const;
const MAX_DRAWS = 500;

export class WarmupMonitor {
  private readonly trace: number[][];
  /** R̂ of the last check (NaN before the first). */
  lastRhat = NaN;

  constructor(readonly chains: number) {
    this.trace = Array.from({ length: chains }, () => []);
  }

  /** Records the energy of every chain after one warm-up step. */
  record(energy: ArrayLike<number>): void {
    for (let c = 0; c < this.chains; c++) this.trace[c].push(energy[c]);
  }

  /** True when the second half of the trace has split-R̂ ≤ 1.01 (also stores it in lastRhat). */
  converged(): boolean {
    const steps = this.trace[0].length;
    const from = Math.floor(steps / 2);
    const stride = Math.max(1, Math.ceil((steps - from) / MAX_DRAWS));
    const chains = this.trace.map((t) => {
      const v: number[] = [];
      for (let i = steps - 1; i >= from; i -= stride) v.push(t[i]);
      return Float64Array.from(v.reverse());
    });
    this.lastRhat = splitRhat(chains);
    return this.lastRhat <= RHAT_THRESHOLD;
  }
}
