/**
 * The replay buffer of one temperature (docs/algorithm.md §1.4, reference
 * `SimpleBuffer`): a ring of at most `maxLength` entries (x, ℓ, f) with
 * ℓ = −E(x)/(k_B T) and f = ∇ₓℓ, all float64 in the model's coordinates.
 * When full, each new entry overwrites the oldest one. Batches are drawn
 * uniformly with replacement from a caller-supplied seeded Rng.
 */
import { assertFiniteRows } from '../core/errors.js';
import type { Rng } from '../core/rng.js';

export const DEFAULT_BUFFER_MAX_LENGTH = 60_000;

/** A batch drawn from a buffer (copies). */
export interface BufferBatch {
  rows: number;
  /** [rows, D] */
  x: Float64Array;
  /** ℓ [rows] */
  logp: Float64Array;
  /** f = ∇ₓℓ [rows, D] */
  force: Float64Array;
  /** Storage slots drawn. */
  indices: Int32Array;
}

/** The complete state of a buffer, for checkpoints (arrays hold the first `size` slots in storage order). */
export interface BufferState {
  dim: number;
  maxLength: number;
  size: number;
  /** The slot the next entry goes to. */
  next: number;
  x: Float64Array;
  logp: Float64Array;
  force: Float64Array;
}

export class ReplayBuffer {
  readonly dim: number;
  readonly maxLength: number;
  private readonly xs: Float64Array;
  private readonly logps: Float64Array;
  private readonly forces: Float64Array;
  private count = 0;
  private next = 0;

  constructor(dim: number, maxLength: number = DEFAULT_BUFFER_MAX_LENGTH) {
    if (!(Number.isInteger(dim) && dim >= 1)) throw new RangeError(`ReplayBuffer: dim must be a positive integer, got ${dim}`);
    if (!(Number.isInteger(maxLength) && maxLength >= 1)) {
      throw new RangeError(`ReplayBuffer: maxLength must be a positive integer, got ${maxLength}`);
    }
    this.dim = dim;
    this.maxLength = maxLength;
    this.xs = new Float64Array(maxLength * dim);
    this.logps = new Float64Array(maxLength);
    this.forces = new Float64Array(maxLength * dim);
  }

  /** Number of stored entries. */
  get size(): number {
    return this.count;
  }

  /**
   * Append n entries: x and force [n, D], logp [n]. All values must be
   * finite (filter before adding). Entries beyond capacity overwrite the oldest.
   */
  add(x: Float64Array, logp: Float64Array, force: Float64Array): void {
    const D = this.dim;
    const n = logp.length;
    if (x.length !== n * D || force.length !== n * D) {
      throw new RangeError(`ReplayBuffer.add: logp has ${n} rows, so x and force must be [${n}, ${D}]; got lengths ${x.length} and ${force.length}`);
    }
    assertFiniteRows('ReplayBuffer.add: x', x, n, D);
    assertFiniteRows('ReplayBuffer.add: logp', logp, n, 1);
    assertFiniteRows('ReplayBuffer.add: force', force, n, D);
    // Only the last maxLength entries can survive.
    const first = Math.max(0, n - this.maxLength);
    for (let i = first; i < n; i++) {
      const slot = this.next;
      this.xs.set(x.subarray(i * D, (i + 1) * D), slot * D);
      this.forces.set(force.subarray(i * D, (i + 1) * D), slot * D);
      this.logps[slot] = logp[i];
      this.next = (slot + 1) % this.maxLength;
    }
    this.count = Math.min(this.maxLength, this.count + n);
  }

  /** n entries drawn uniformly with replacement (n calls of rng.int(size)). */
  sample(rng: Rng, n: number): BufferBatch {
    if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`ReplayBuffer.sample: n must be a positive integer, got ${n}`);
    if (this.count === 0) throw new RangeError('ReplayBuffer.sample: the buffer is empty');
    const D = this.dim;
    const indices = new Int32Array(n);
    const x = new Float64Array(n * D);
    const logp = new Float64Array(n);
    const force = new Float64Array(n * D);
    for (let i = 0; i < n; i++) {
      const j = rng.int(this.count);
      indices[i] = j;
      x.set(this.xs.subarray(j * D, (j + 1) * D), i * D);
      force.set(this.forces.subarray(j * D, (j + 1) * D), i * D);
      logp[i] = this.logps[j];
    }
    return { rows: n, x, logp, force, indices };
  }

  /** Copies of the stored entries in storage-slot order. */
  getState(): BufferState {
    const D = this.dim;
    return {
      dim: D,
      maxLength: this.maxLength,
      size: this.count,
      next: this.next,
      x: this.xs.slice(0, this.count * D),
      logp: this.logps.slice(0, this.count),
      force: this.forces.slice(0, this.count * D),
    };
  }

  static fromState(s: BufferState): ReplayBuffer {
    const b = new ReplayBuffer(s.dim, s.maxLength);
    if (!(Number.isInteger(s.size) && s.size >= 0 && s.size <= s.maxLength)) {
      throw new RangeError(`ReplayBuffer.fromState: size ${s.size} must be an integer in [0, ${s.maxLength}]`);
    }
    const expectedNext = s.size < s.maxLength ? s.size : s.next;
    if (!(Number.isInteger(s.next) && s.next >= 0 && s.next < s.maxLength) || s.next !== expectedNext) {
      throw new RangeError(`ReplayBuffer.fromState: next slot ${s.next} is inconsistent with size ${s.size} of ${s.maxLength}`);
    }
    if (s.x.length !== s.size * s.dim || s.force.length !== s.size * s.dim || s.logp.length !== s.size) {
      throw new RangeError(
        `ReplayBuffer.fromState: arrays have lengths ${s.x.length}, ${s.logp.length}, ${s.force.length}; size ${s.size} and dim ${s.dim} need ` +
          `${s.size * s.dim}, ${s.size}, ${s.size * s.dim}`,
      );
    }
    b.xs.set(s.x);
    b.logps.set(s.logp);
    b.forces.set(s.force);
    b.count = s.size;
    b.next = s.next;
    return b;
  }
}
