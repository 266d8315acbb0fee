/**
 * Optimisation on a ParamStore (docs/algorithm.md §4.4): Adam, global grad-norm
 * clipping and an EMA of the parameters. Written once on top of the ops
 * layer; state round-trips through host arrays for checkpoints.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { flatRecorder } from './flat-update.js';
import * as k from './kernels.js';
import { dispose, keep, scope } from './memory.js';
import { add, concat, div, fromF32, mul, read, reshape, shapeOf, slice, split, sqrt, square, sub, sum, zeros } from './ops.js';
import type { ParamGrads, ParamStore } from './params.js';
import { type Tensor, fmtShape, raw, wrap } from './tensor.js';

function checkGrads(store: ParamStore, grads: ParamGrads, where: string): void {
  for (const [name, g] of grads) {
    if (!store.has(name)) throw new RangeError(`${where}: gradient for unknown param '${name}'`);
    if (g === null) continue;
    const expected = store.shape(name);
    const got = shapeOf(g);
    if (got.length !== expected.length || got.some((d, i) => d !== expected[i])) {
      throw new RangeError(`${where}: gradient of '${name}' has shape ${fmtShape(got)}, expected ${fmtShape(expected)}`);
    }
  }
}

function checkState(store: ParamStore, name: string, data: Float32Array, where: string): void {
  if (!store.has(name)) throw new RangeError(`${where}: state for unknown param '${name}'`);
  const n = store.shape(name).reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new RangeError(`${where}: state of '${name}' has ${data.length} values, param needs ${n}`);
}

/** An optimiser update in one kernel where the backend has one (kernels.ts `update`), else `composite`. */
function fused(fn: k.UpdateFn, inputs: Record<'a' | 'b', Tensor> & Partial<Record<'f', Tensor>>, constants: readonly number[], composite: () => Tensor): Tensor {
  const raws = Object.fromEntries(Object.entries(inputs).map(([key, t]) => [key, raw(t)])) as { a: tf.Tensor; b: tf.Tensor; f?: tf.Tensor };
  return wrap(k.update(fn, raws, constants, () => raw(composite())));
}

/** m and v [shape] as Adam's packed moments [2, …shape]. */
function pack(m: Tensor, v: Tensor): Tensor {
  const shape = shapeOf(m);
  return concat([reshape(m, [1, ...shape]), reshape(v, [1, ...shape])], 0);
}

/** Packed moments [2, …shape] as m and v. */
function unpack(mv: Tensor): [Tensor, Tensor] {
  const shape = shapeOf(mv).slice(1);
  const [m, v] = split(mv, [1, 1], 0);
  return [reshape(m, shape), reshape(v, shape)];
}

/** A kept copy of a tensor, in storage of its own. */
function keptCopy(t: Tensor): Tensor {
  return keep(wrap(k.copy(raw(t))));
}

// ---------------------------------------------------------------- clipping

/**
 * Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_): with
 * N = √(Σ_p ‖g_p‖²) over the non-null gradients, every gradient is scaled by
 * min(1, maxNorm/(N + 1e-6)). Everything stays on the device: `norm` is a
 * scalar tensor and `squares` the [P] vector of ‖g_p‖² in the order of
 * `names`, for the caller to read with the step's other outputs (a
 * non-finite norm is the caller's to report). Null entries stay null.
 */
export function clipGradNorm(grads: ParamGrads, maxNorm: number): { norm: Tensor; squares: Tensor; names: string[]; grads: ParamGrads } {
  if (!(maxNorm > 0)) throw new RangeError(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const named = [...grads].filter((e): e is [string, Tensor] => e[1] !== null);
  if (named.length === 0) return { norm: fromF32(new Float32Array([0]), []), squares: fromF32(new Float32Array(0), [0]), names: [], grads: new Map(grads) };
  // ‖g_p‖² per parameter, kept as a vector: a non-finite norm can then name its parameters without a second pass.
  // In a captured step on WebGPU one kernel for all (flat-update.ts), else Σ g² in one kernel each on WebGPU (kernels.ts `sumOfSquares`).
  const flat = flatRecorder()?.sumSquares(named.map(([, g]) => raw(g))) ?? null;
  const squares = flat !== null ? wrap(flat) : concat(named.map(([, g]) => reshape(wrap(k.sumOfSquares(raw(g), () => raw(sum(square(g))))), [1])), 0);
  const norm = sqrt(sum(squares));
  // min(1, c/(N+ε)) as c / max(N+ε, c): a reduction instead of a host decision.
  const c = fromF32(new Float32Array([maxNorm]), [1]);
  const coef = reshape(div(c, wrap(k.max(raw(concat([reshape(add(norm, 1e-6), [1]), c], 0)), [0], false))), []);
  const scaled = (g: Tensor): Tensor => {
    const s = mul(g, coef);
    clippedFrom.set(raw(s).dataId, { g, coef });
    return s;
  };
  return { norm, squares, names: named.map(([n]) => n), grads: new Map([...grads].map(([name, g]) => [name, g === null ? null : scaled(g)])) };
}

/**
 * The gradient and factor of each clipped gradient, by its data: Adam's moments kernel scales it itself
 * on WebGPU, so the clip's product has no reader left and a captured step leaves it out (replay.ts).
 */
const clippedFrom = new WeakMap<object, { g: Tensor; coef: Tensor }>();

// ---------------------------------------------------------------- Adam

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** L2 penalty added to the gradient (PyTorch Adam's weight_decay, not AdamW). */
  weightDecay?: number;
}

/** Adam state as host arrays, per parameter name (absent until a parameter's first gradient). */
export interface AdamState {
  steps: Record<string, number>;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

/**
 * Adam as in torch.optim.Adam (amsgrad off). For a parameter p with gradient g
 * at its t-th update (t counts that parameter's updates):
 *   g ← g + λp;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
 *   p ← p − (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε).
 * Parameters whose gradient is null are skipped entirely (no moment update,
 * no step count), as PyTorch does for `grad is None`.
 */
export class Adam {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Each parameter's moments packed as [2, …shape]: m, then v (both updated in one kernel on WebGPU). */
  private readonly moments = new Map<string, Tensor>();
  private readonly steps = new Map<string, number>();

  constructor(
    private readonly store: ParamStore,
    opts: AdamOptions,
  ) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    if (!(this.lr > 0)) throw new RangeError(`Adam: lr must be > 0, got ${this.lr}`);
    for (const [key, b] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new RangeError(`Adam: ${key} must be in [0, 1), got ${b}`);
    }
    if (!(this.eps > 0)) throw new RangeError(`Adam: eps must be > 0, got ${this.eps}`);
    if (!(this.weightDecay >= 0)) throw new RangeError(`Adam: weightDecay must be ≥ 0, got ${this.weightDecay}`);
  }

  /**
   * The factors [lr/(1−β₁ᵗ), √(1−β₂ᵗ)] of the next update, t = 1 + the
   * largest step count so far. A captured step takes them as an input
   * tensor, since they change every step.
   */
  nextFactors(): Float32Array {
    const t = 1 + Math.max(0, ...this.steps.values());
    return Float32Array.from([this.lr / (1 - this.beta1 ** t), Math.sqrt(1 - this.beta2 ** t)]);
  }

  /**
   * One update of every parameter with a non-null gradient; returns their
   * names. Without `factors`, each parameter's own step count gives its bias
   * corrections and the counts advance here. With `factors` (`nextFactors`
   * as a [2] tensor, for a captured step that replays without calling this),
   * the device update is all: the owner calls `advance` with the names after
   * each run.
   */
  step(grads: ParamGrads, factors?: Tensor): string[] {
    checkGrads(this.store, grads, 'Adam.step');
    const flat = factors === undefined ? null : this.flatStep(grads, factors);
    if (flat !== null) return flat;
    const { beta1: b1, beta2: b2 } = this;
    const stepped: string[] = [];
    for (const name of this.store.names()) {
      const g0 = grads.get(name) ?? null;
      if (g0 === null) continue;
      const t = (this.steps.get(name) ?? 0) + 1;
      scope(() => {
        const own = factors === undefined ? fromF32(Float32Array.from([this.lr / (1 - b1 ** t), Math.sqrt(1 - b2 ** t)]), [2]) : factors;
        const p = this.store.get(name);
        const g = this.weightDecay > 0 ? add(g0, mul(p, this.weightDecay)) : g0;
        const old = this.moments.get(name);
        // One kernel each on WebGPU (kernels.ts `update`), the composites below on the CPU. A clipped
        // gradient is scaled inside the moments' kernel (the clip's own product is then not needed).
        const composite = (prev: Tensor) => () => {
          const [mOld, vOld] = unpack(prev);
          return pack(add(mul(mOld, b1), mul(g, 1 - b1)), add(mul(vOld, b2), mul(square(g), 1 - b2)));
        };
        const from = this.weightDecay === 0 ? clippedFrom.get(raw(g0).dataId) : undefined;
        const clipped = from !== undefined && !raw(from.g).isDisposed && !raw(from.coef).isDisposed ? from : undefined;
        const constants = [b1, 1 - b1, b2, 1 - b2];
        const mv = keep(
          old === undefined
            ? pack(mul(g, 1 - b1), mul(square(g), 1 - b2))
            : clipped === undefined
              ? fused('moments', { a: old, b: g }, constants, composite(old))
              : fused('scaledMoments', { a: old, b: clipped.g, f: reshape(clipped.coef, [1]) }, constants, composite(old)),
        );
        const next = fused('adam', { a: p, b: mv, f: own }, [this.eps], () => {
          const [m, v] = unpack(mv);
          const stepSize = reshape(slice(own, [0], [1]), []);
          const bias2 = reshape(slice(own, [1], [1]), []);
          const denom = add(div(sqrt(v), bias2), this.eps);
          return sub(p, mul(div(m, denom), stepSize));
        });
        this.store.assign(name, next);
        this.moments.set(name, mv);
        dispose([old ?? null]);
      });
      stepped.push(name);
    }
    if (factors === undefined) this.advance(stepped);
    return stepped;
  }

  /**
   * The update of every parameter with a gradient in one kernel, inside a captured step on WebGPU
   * (flat-update.ts): the names, or null where it does not apply (then `step` updates one by one, with
   * the same float32 expressions). Clipped gradients are scaled inside it, as in `scaledMoments`.
   */
  private flatStep(grads: ParamGrads, factors: Tensor): string[] | null {
    const recorder = flatRecorder();
    if (recorder === null || this.weightDecay > 0) return null;
    const names = this.store.names().filter((n) => (grads.get(n) ?? null) !== null);
    if (names.length === 0 || names.some((n) => !this.moments.has(n))) return null;
    const given = names.map((n) => grads.get(n) as Tensor);
    const clips = given.map((g) => clippedFrom.get(raw(g).dataId));
    const coef = clips[0]?.coef;
    const clipped = coef !== undefined && clips.every((c) => c?.coef === coef) && !raw(coef).isDisposed && clips.every((c) => !raw(c!.g).isDisposed);
    if (!clipped && clips.some((c) => c !== undefined)) return null;
    const g = clipped ? clips.map((c) => raw(c!.g)) : given.map(raw);
    const old = names.map((n) => this.moments.get(n) as Tensor);
    const out = recorder.adam(
      names.map((n) => raw(this.store.get(n))),
      old.map(raw),
      g,
      raw(factors),
      clipped ? raw(coef) : null,
      this,
    );
    if (out === null) return null;
    names.forEach((n, i) => {
      this.store.assign(n, wrap(out.p[i]));
      this.moments.set(n, keep(wrap(out.mv[i])));
    });
    dispose(old);
    return names;
  }

  /** Count one update of each named parameter (after a run of a step that took explicit factors). */
  advance(names: readonly string[]): void {
    for (const name of names) this.steps.set(name, (this.steps.get(name) ?? 0) + 1);
  }

  /**
   * Zero moments for every parameter that has none yet (step counts unchanged, so `getState` still
   * leaves them out). A captured step can then hold the moments as state from the first update on,
   * which is the same update: β₁·0 + (1−β₁)g = (1−β₁)g, and likewise for v.
   */
  ensureMoments(): void {
    for (const name of this.store.names()) {
      if (!this.moments.has(name)) this.moments.set(name, keep(zeros([2, ...this.store.shape(name)])));
    }
  }

  /** The packed moment tensors of the parameters that have them (for a captured step's state). */
  stateTensors(): Tensor[] {
    return [...this.moments.values()];
  }

  async getState(): Promise<AdamState> {
    const s: AdamState = { steps: {}, m: {}, v: {} };
    for (const name of this.store.names()) {
      const t = this.steps.get(name);
      if (t === undefined) continue;
      s.steps[name] = t;
      const mv = await read(this.moments.get(name) as Tensor);
      s.m[name] = mv.slice(0, mv.length / 2);
      s.v[name] = mv.slice(mv.length / 2);
    }
    return s;
  }

  /** Replace the state (validated against the store's names and shapes). */
  setState(s: AdamState): void {
    for (const name of Object.keys(s.steps)) {
      const t = s.steps[name];
      if (!(Number.isInteger(t) && t >= 1)) throw new RangeError(`Adam.setState: step of '${name}' must be a positive integer, got ${t}`);
      if (!(name in s.m) || !(name in s.v)) throw new RangeError(`Adam.setState: moments of '${name}' missing`);
      checkState(this.store, name, s.m[name], 'Adam.setState');
      checkState(this.store, name, s.v[name], 'Adam.setState');
    }
    this.dispose();
    for (const name of Object.keys(s.steps)) {
      const shape = this.store.shape(name);
      this.steps.set(name, s.steps[name]);
      const mv = new Float32Array(2 * s.m[name].length);
      mv.set(s.m[name]);
      mv.set(s.v[name], s.m[name].length);
      this.moments.set(name, keep(fromF32(mv, [2, ...shape])));
    }
  }

  /** Free the moment tensors (the state becomes empty). */
  dispose(): void {
    dispose([...this.moments.values()]);
    this.moments.clear();
    this.steps.clear();
  }
}

// ---------------------------------------------------------------- EMA

export interface EmaState {
  decay: number;
  numUpdates: number;
  shadows: Record<string, Float32Array>;
}

/**
 * Exponential moving average of a store's parameters with warm-up (algorithm
 * docs/algorithm.md §4.4, reference `ema.py`): the n-th update (n = 1, 2, …) uses
 * d_n = min(decay, (1+n)/(10+n)) and sets θ̄ ← θ̄ − (1−d_n)(θ̄ − θ).
 * Shadows start as copies of the parameters at construction.
 */
export class Ema {
  private readonly shadows = new Map<string, Tensor>();
  private updates = 0;

  constructor(
    private readonly store: ParamStore,
    readonly decay = 0.999,
  ) {
    if (!(decay >= 0 && decay <= 1)) throw new RangeError(`Ema: decay must be in [0, 1], got ${decay}`);
    for (const name of store.names()) this.shadows.set(name, keptCopy(store.get(name)));
  }

  get numUpdates(): number {
    return this.updates;
  }

  /** The decay the next `update` will use. */
  nextDecay(): number {
    const n = this.updates + 1;
    return Math.min(this.decay, (1 + n) / (10 + n));
  }

  /**
   * Move every shadow towards its parameter; call after each optimiser step.
   * `rate` is 1 − nextDecay() as a scalar tensor (a captured step feeds it,
   * since it changes every step; default: computed here and counted).
   */
  update(rate?: Tensor): void {
    const r = rate ?? 1 - this.nextDecay();
    // With an explicit rate (a captured step), the owner counts the update with `advance`.
    if (rate === undefined) this.advance();
    const rate1 = typeof r === 'number' ? null : reshape(r, [1]);
    const names = [...this.shadows.keys()];
    const old = names.map((n) => this.shadows.get(n) as Tensor);
    // In a captured step on WebGPU, every shadow in one kernel (flat-update.ts); else one kernel per
    // shadow on WebGPU (kernels.ts `update`), the composite on the CPU.
    const flat = rate1 === null ? null : (flatRecorder()?.ema(old.map(raw), names.map((n) => raw(this.store.get(n))), raw(rate1)) ?? null);
    names.forEach((name, i) => {
      const s = old[i];
      const p = this.store.get(name);
      const next = flat !== null ? keep(wrap(flat[i])) : scope(() => keep(rate1 === null ? sub(s, mul(sub(s, p), r)) : fused('ema', { a: s, b: p, f: rate1 }, [0, 0], () => sub(s, mul(sub(s, p), r)))));
      dispose(s);
      this.shadows.set(name, next);
    });
    if (rate1 !== null) dispose(rate1);
  }

  /** Exchange shadows and raw parameters in the store (a second call restores). */
  swap(): void {
    for (const [name, s] of this.shadows) this.shadows.set(name, this.store.exchange(name, s));
  }

  /** Run `fn` with the EMA weights in the store, restoring the raw weights afterwards (also on throw; after settling if `fn` is async). */
  withShadows<R>(fn: () => R): R {
    this.swap();
    let result: R;
    try {
      result = fn();
    } catch (e) {
      this.swap();
      throw e;
    }
    // An async fn keeps the shadows in place until it settles.
    if (result instanceof Promise) return result.finally(() => this.swap()) as R;
    this.swap();
    return result;
  }

  /** Count one update (after a run of a step that passed `rate`). */
  advance(): void {
    this.updates++;
  }

  /** The shadow tensors (for a captured step's state). */
  stateTensors(): Tensor[] {
    return [...this.shadows.values()];
  }

  async getState(): Promise<EmaState> {
    const names = [...this.shadows.keys()];
    const values = await Promise.all(names.map((n) => read(this.shadows.get(n) as Tensor)));
    return { decay: this.decay, numUpdates: this.updates, shadows: Object.fromEntries(names.map((n, i) => [n, values[i]])) };
  }

  /** Replace shadows and update count (the decay is fixed at construction and must match). */
  setState(s: EmaState): void {
    if (s.decay !== this.decay) throw new RangeError(`Ema.setState: state decay ${s.decay} differs from ${this.decay}`);
    if (!(Number.isInteger(s.numUpdates) && s.numUpdates >= 0)) {
      throw new RangeError(`Ema.setState: numUpdates must be a non-negative integer, got ${s.numUpdates}`);
    }
    const names = [...this.shadows.keys()];
    const missing = names.filter((n) => !(n in s.shadows));
    if (missing.length > 0) throw new RangeError(`Ema.setState: shadows missing for ${missing.join(', ')}`);
    for (const [name, data] of Object.entries(s.shadows)) checkState(this.store, name, data, 'Ema.setState');
    for (const name of names) {
      dispose(this.shadows.get(name) as Tensor);
      this.shadows.set(name, keep(fromF32(s.shadows[name], this.store.shape(name))));
    }
    this.updates = s.numUpdates;
  }

  dispose(): void {
    dispose([...this.shadows.values()]);
    this.shadows.clear();
  }
}
