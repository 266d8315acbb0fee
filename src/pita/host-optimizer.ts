/**
 * The optimiser half of a data-parallel training step (issue 13), on the
 * host in plain arrays: grad-norm clipping, Adam and the EMA, with the
 * formulas of tensor/optim.ts (`clipGradNorm`, `Adam.step` with explicit
 * factors, `Ema.update`), computed in float64 and stored in float32.
 *
 * Why not the host's tensor engine: the gradients come back from the
 * workers as one flat host array, and the engine's update costs ~25 kernels
 * per parameter tensor (slices, moments, bias corrections, EMA): ~2000
 * kernels and 15–17 ms a step for the two EGNNs, serial time while every
 * worker waits (DW-4's whole step is ~100 ms). Here it is one pass over
 * ~40 000 numbers, well under a millisecond, and the parameters the workers
 * need next are already flat.
 *
 * The results differ from the engine's update only by rounding (float64
 * arithmetic, one rounding per stored value); the same inputs give the same
 * bits. Parameters whose gradient is null in every slice are skipped by the
 * clip and by Adam (no moment update, no step count), as on the engine; the
 * EMA moves every shadow.
 */
import type { AdamState, EmaState } from '../tensor/index.js';

/** One network's parameters in store order. */
export interface HostNetworkLayout {
  names: string[];
  sizes: number[];
}

/** A network's state as the trainer checkpoints it (the parts this class updates). */
export interface HostNetworkState {
  params: Record<string, Float32Array>;
  adam: AdamState;
  ema: EmaState;
}

export interface HostOptimizerOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  clipNorm: number;
  /** 'global': one norm over both networks; 'network': each network clipped by its own norm. */
  clipScope: 'global' | 'network';
}

/** What one update reports (as the engine's update step does). */
export interface HostStepResult {
  /** ‖g‖ before clipping, over both networks. */
  norm: number;
  /** ‖g_p‖² of every non-null gradient: the score network's, then the energy network's, store order (as `stepped`). */
  squares: Float32Array;
  /** The updated parameters per network (non-null gradients), store order. */
  stepped: { score: string[]; energy: string[] };
}

const NETS = ['score', 'energy'] as const;
type Net = (typeof NETS)[number];

/**
 * Flat optimiser state of both networks (score then energy, store order):
 * parameters, Adam moments, EMA shadows and their step counts.
 */
export class HostOptimizer {
  /** Both networks' parameters, flat: what the workers compute the next gradients with. */
  readonly params: Float32Array;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private readonly shadows: Float32Array;
  /** Adam updates per parameter tensor (0: no moments yet). */
  private readonly steps: number[];
  private emaUpdates: number;
  private readonly offsets: number[];
  private readonly sizes: number[];
  private readonly owner: Net[];
  private readonly names: string[];

  constructor(
    layout: Record<Net, HostNetworkLayout>,
    state: Record<Net, HostNetworkState>,
    private readonly emaDecay: number,
    private readonly opts: HostOptimizerOptions,
  ) {
    this.names = NETS.flatMap((net) => layout[net].names);
    this.owner = NETS.flatMap((net) => layout[net].names.map(() => net));
    this.sizes = NETS.flatMap((net) => layout[net].sizes);
    this.offsets = [];
    const total = this.sizes.reduce((offset, n) => (this.offsets.push(offset), offset + n), 0);
    this.params = new Float32Array(total);
    this.m = new Float32Array(total);
    this.v = new Float32Array(total);
    this.shadows = new Float32Array(total);
    this.steps = this.names.map(() => 0);
    const updates = new Set(NETS.map((net) => state[net].ema.numUpdates));
    if (updates.size !== 1) throw new Error('HostOptimizer: the two EMAs have different update counts');
    this.emaUpdates = state.score.ema.numUpdates;
    this.names.forEach((name, i) => {
      const s = state[this.owner[i]];
      const at = this.offsets[i];
      this.params.set(s.params[name], at);
      this.shadows.set(s.ema.shadows[name], at);
      const t = s.adam.steps[name];
      if (t !== undefined) {
        this.steps[i] = t;
        this.m.set(s.adam.m[name], at);
        this.v.set(s.adam.v[name], at);
      }
    });
  }

  /**
   * Adam's factors [lr/(1−β₁ᵗ), √(1−β₂ᵗ)] for both networks, t = 1 + the
   * score network's largest step count: the trainer's engine path uses the
   * score optimiser's `nextFactors` for both.
   */
  private factors(): [number, number] {
    const t = 1 + Math.max(0, ...this.steps.filter((_, i) => this.owner[i] === 'score'));
    return [this.opts.lr / (1 - this.opts.beta1 ** t), Math.sqrt(1 - this.opts.beta2 ** t)];
  }

  /**
   * One update with the summed gradients `grads` (flat, same layout;
   * `isNull` per parameter tensor): clip, Adam, EMA. A non-finite norm is
   * the caller's to report: the state is then spoiled, as on the engine.
   */
  step(grads: Float32Array, isNull: readonly boolean[]): HostStepResult {
    const { beta1: b1, beta2: b2, eps, clipNorm } = this.opts;
    const live = this.names.map((_, i) => i).filter((i) => !isNull[i]);
    const squares = Float32Array.from(live, (i) => {
      let s = 0;
      for (let j = this.offsets[i], end = j + this.sizes[i]; j < end; j++) s += grads[j] * grads[j];
      return s;
    });
    const netSquares = (net: Net): number => live.reduce((s, i, k) => (this.owner[i] === net ? s + squares[k] : s), 0);
    const sq = { score: netSquares('score'), energy: netSquares('energy') };
    const norm = Math.sqrt(sq.score + sq.energy);
    // min(1, c/(N + 1e-6)), over both networks or per network.
    const coefOf = (n: number): number => clipNorm / Math.max(n + 1e-6, clipNorm);
    const coef = this.opts.clipScope === 'global' ? { score: coefOf(norm), energy: coefOf(norm) } : { score: coefOf(Math.sqrt(sq.score)), energy: coefOf(Math.sqrt(sq.energy)) };
    const [stepSize, bias2] = this.factors();
    const { params: p, m, v } = this;
    for (const i of live) {
      const c = coef[this.owner[i]];
      for (let j = this.offsets[i], end = j + this.sizes[i]; j < end; j++) {
        const g = grads[j] * c;
        m[j] = b1 * m[j] + (1 - b1) * g;
        v[j] = b2 * v[j] + (1 - b2) * g * g;
        // The moments as stored (float32), as the engine's update reads them back.
        p[j] = p[j] - (m[j] / (Math.sqrt(v[j]) / bias2 + eps)) * stepSize;
      }
      this.steps[i]++;
    }
    const n = ++this.emaUpdates;
    const rate = 1 - Math.min(this.emaDecay, (1 + n) / (10 + n));
    const s = this.shadows;
    for (let j = 0; j < s.length; j++) s[j] = s[j] - (s[j] - p[j]) * rate;
    const stepped = { score: [] as string[], energy: [] as string[] };
    for (const i of live) stepped[this.owner[i]].push(this.names[i]);
    return { norm, squares, stepped };
  }

  /** A network's parameters, Adam state and EMA state as host arrays (copies), for the engine's stores and checkpoints. */
  state(net: Net): HostNetworkState {
    const s: HostNetworkState = { params: {}, adam: { steps: {}, m: {}, v: {} }, ema: { decay: this.emaDecay, numUpdates: this.emaUpdates, shadows: {} } };
    this.names.forEach((name, i) => {
      if (this.owner[i] !== net) return;
      const slice = (a: Float32Array): Float32Array => a.slice(this.offsets[i], this.offsets[i] + this.sizes[i]);
      s.params[name] = slice(this.params);
      s.ema.shadows[name] = slice(this.shadows);
      if (this.steps[i] > 0) {
        s.adam.steps[name] = this.steps[i];
        s.adam.m[name] = slice(this.m);
        s.adam.v[name] = slice(this.v);
      }
    });
    return s;
  }

  /** The parameters of a network, per name (views into `params`, valid until the next step). */
  paramViews(net: Net): Array<[string, Float32Array]> {
    return this.names.flatMap((name, i) => (this.owner[i] === net ? [[name, this.params.subarray(this.offsets[i], this.offsets[i] + this.sizes[i])] as [string, Float32Array]] : []));
  }
}
