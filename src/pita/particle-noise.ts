/**
 * The annealer's per-particle noise (src/pita/anneal.ts): particle i's D standard normals come from
 * `rng.derive(key, i)`, so they are the same numbers whichever thread draws them. On WebGPU the field is
 * evaluated on the GPU and the host's noise (195 000 normals per step for 5000 LJ-13 particles, ~6 ms
 * on one core) can be what a step waits for; `NoiseWorkers` splits the particles over worker threads.
 */
import { Rng, type RngState } from '../core/rng.js';
import { moduleNextTo, splitRange, WorkerPool } from '../parallel/pool.js';

/** Particles [from, to)'s normals into `out`, particle i's D at row i. */
export function particleNormalsInto(rng: Rng, key: number, D: number, from: number, to: number, out: Float64Array): void {
  for (let i = from; i < to; i++) rng.derive(key, i).fillNormals(out, i * D, (i + 1) * D);
}

/** Where the annealer's noise is drawn when not on its own thread. */
export interface NoiseSource {
  /** Particle i's D normals from `rng.derive(key, i)`, as rows [M, D]. */
  particleNormals(rng: Rng, key: number, M: number, D: number): Promise<Float64Array>;
}

/** The noise drawn by `size` worker threads, each a contiguous range of particles, into shared memory. */
export class NoiseWorkers implements NoiseSource {
  private readonly pool: WorkerPool;

  constructor(readonly size: number) {
    this.pool = new WorkerPool(size);
  }

  async particleNormals(rng: Rng, key: number, M: number, D: number): Promise<Float64Array> {
    const shared = new SharedArrayBuffer(8 * M * D);
    const state = rng.getState();
    const chunks = splitRange(M, this.size).map(([from, to]) => ({ state, key, D, from, to, shared }));
    await this.pool.run(moduleNextTo(import.meta.url, 'particle-noise'), 'drawParticleNormals', chunks);
    return new Float64Array(shared);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Worker job (NoiseWorkers): particles [from, to)'s normals into the shared rows. */
export function drawParticleNormals(c: { state: RngState; key: number; D: number; from: number; to: number; shared: SharedArrayBuffer }): void {
  particleNormalsInto(Rng.fromState(c.state), c.key, c.D, c.from, c.to, new Float64Array(c.shared));
}
