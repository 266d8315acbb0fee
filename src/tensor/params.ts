/**
 * Named parameters. A `ParamStore` owns one kept tensor per parameter,
 * iterates in insertion order (stable, so checkpoints, optimiser state and
 * gradient norms are deterministic), and initialises from pita's host-side
 * `Rng`: values are drawn in float64, row-major, in the order parameters are
 * added, then rounded to float32 and uploaded — so the same seed gives the
 * same parameters on every backend.
 */
import type { Rng } from '../core/rng.js';
import { valueAndGradsOrNull } from './autodiff.js';
import { dispose, keep } from './memory.js';
import * as k from './kernels.js';
import { fromF32, fromF64, read, readSync, shapeOf } from './ops.js';
import { type Tensor, fmtShape, raw, wrap } from './tensor.js';

/** How a parameter's initial values are produced. */
export type ParamInit =
  | { kind: 'zeros' }
  | { kind: 'constant'; value: number }
  /** N(mean, std²) i.i.d. (mean defaults to 0). */
  | { kind: 'normal'; std: number; mean?: number }
  /** U[low, high) i.i.d. */
  | { kind: 'uniform'; low: number; high: number }
  /** Given values, row-major. */
  | { kind: 'values'; data: Float32Array | Float64Array };

/** Gradient per parameter name, in store order; null where the loss does not depend on the parameter. */
export type ParamGrads = Map<string, Tensor | null>;

function initialValues(name: string, n: number, init: ParamInit, rng: Rng | undefined): Float64Array {
  const needRng = (): Rng => {
    if (rng === undefined) throw new TypeError(`param '${name}': ${init.kind} initialisation needs an Rng`);
    return rng;
  };
  switch (init.kind) {
    case 'zeros':
      return new Float64Array(n);
    case 'constant':
      return new Float64Array(n).fill(init.value);
    case 'normal': {
      if (!(init.std >= 0)) throw new RangeError(`param '${name}': normal std must be ≥ 0, got ${init.std}`);
      const v = needRng().normals(n);
      const mean = init.mean ?? 0;
      for (let i = 0; i < n; i++) v[i] = mean + init.std * v[i];
      return v;
    }
    case 'uniform':
      if (!(init.high >= init.low)) throw new RangeError(`param '${name}': uniform needs low ≤ high, got [${init.low}, ${init.high})`);
      return needRng().uniforms(n, init.low, init.high);
    case 'values':
      if (init.data.length !== n) {
        throw new RangeError(`param '${name}': ${init.data.length} initial values given, shape needs ${n}`);
      }
      return Float64Array.from(init.data);
  }
}

export class ParamStore {
  private readonly tensors = new Map<string, Tensor>();
  private readonly shapes = new Map<string, number[]>();

  /**
   * Add parameter `name` of `shape`, initialised by `init` (random kinds draw
   * from `rng`). Returns its tensor. Names are unique and non-empty.
   */
  add(name: string, shape: readonly number[], init: ParamInit, rng?: Rng): Tensor {
    if (name === '' || name === '__metadata__') throw new RangeError(`param name '${name}' is reserved or empty`);
    if (this.tensors.has(name)) throw new RangeError(`param '${name}' already exists`);
    if (!shape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new RangeError(`param '${name}': shape must be positive integers, got ${JSON.stringify(shape)}`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    const t = keep(fromF64(initialValues(name, n, init, rng), shape));
    this.tensors.set(name, t);
    this.shapes.set(name, [...shape]);
    return t;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The current tensor of a parameter (replaced, not mutated, by optimiser steps: fetch it at use time). */
  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (t === undefined) throw new RangeError(`unknown param '${name}' (known: ${[...this.tensors.keys()].join(', ')})`);
    return t;
  }

  shape(name: string): number[] {
    this.get(name);
    return [...(this.shapes.get(name) as number[])];
  }

  /** Parameter names in insertion order. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  /** Number of parameters (tensors). */
  get count(): number {
    return this.tensors.size;
  }

  /** Total number of scalar values over all parameters. */
  numValues(): number {
    let n = 0;
    for (const s of this.shapes.values()) n += s.reduce((a, b) => a * b, 1);
    return n;
  }

  /** The values of a parameter (float32 copy). */
  read(name: string): Promise<Float32Array> {
    return read(this.get(name));
  }

  /** The values of a parameter, synchronously: the CPU (wasm) backend only, for tests. */
  readSync(name: string): Float32Array {
    return readSync(this.get(name));
  }

  /** The values of every parameter, by name (read together). */
  async readAll(): Promise<Record<string, Float32Array>> {
    const names = this.names();
    const values = await Promise.all(names.map((n) => this.read(n)));
    return Object.fromEntries(names.map((n, i) => [n, values[i]]));
  }

  /** Every parameter's tensor, in name order (for a captured step's state). */
  tensorsInOrder(): Tensor[] {
    return this.names().map((n) => this.get(n));
  }

  /** Overwrite every parameter with a device copy of `other`'s, in storage of its own (same names and shapes; no host round trip). */
  copyFrom(other: ParamStore): void {
    for (const name of this.names()) this.assign(name, wrap(k.copy(raw(other.get(name)))));
  }

  /** Overwrite a parameter's values (length must match its shape; float64 is rounded). */
  set(name: string, data: Float32Array | Float64Array): void {
    const shape = this.shape(name);
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new RangeError(`param '${name}' ${fmtShape(shape)} needs ${n} values, got ${data.length}`);
    this.assign(name, data instanceof Float32Array ? fromF32(data, shape) : fromF64(data, shape));
  }

  /**
   * Replace a parameter's tensor by `t` (same shape), taking ownership of `t`
   * and freeing the old tensor. Used by optimisers.
   */
  assign(name: string, t: Tensor): void {
    dispose(this.exchange(name, t));
  }

  /** Replace a parameter's tensor by `t` (same shape, ownership taken) and return the old one, now owned by the caller. */
  exchange(name: string, t: Tensor): Tensor {
    const old = this.get(name);
    const expected = this.shapes.get(name) as number[];
    const got = shapeOf(t);
    if (got.length !== expected.length || got.some((d, i) => d !== expected[i])) {
      throw new RangeError(`param '${name}': new value has shape ${fmtShape(got)}, expected ${fmtShape(expected)}`);
    }
    this.tensors.set(name, keep(t));
    return old;
  }

  /** A deep copy under the same names (e.g. F_E ← copy of F_S at initialisation). */
  clone(): ParamStore {
    const c = new ParamStore();
    for (const name of this.names()) c.add(name, this.shape(name), { kind: 'values', data: new Float32Array(this.shape(name).reduce((a, b) => a * b, 1)) });
    c.copyFrom(this);
    return c;
  }

  /** Free every parameter tensor; the store is empty afterwards. */
  dispose(): void {
    dispose([...this.tensors.values()]);
    this.tensors.clear();
    this.shapes.clear();
  }
}

/**
 * The value of `loss` (a one-element tensor built from `store.get(...)`) and
 * its gradient with respect to every parameter of the store, with an explicit
 * null for parameters the loss does not depend on (docs/tensor-engine.md §2.8: the optimiser
 * skips those, as PyTorch's Adam does for `grad is None`).
 */
export function valueAndParamGrads(loss: () => Tensor, store: ParamStore): { value: Tensor; grads: ParamGrads } {
  const names = store.names();
  if (names.length === 0) throw new RangeError('valueAndParamGrads: the parameter store is empty');
  const { value, grads } = valueAndGradsOrNull(loss, names.map((n) => store.get(n)));
  return { value, grads: new Map(names.map((n, i) => [n, grads[i]])) };
}
